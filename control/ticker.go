package control

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/efferent/efferent"
)

// Ticker is a drift-free ticker on an injected Clock: deadline n is
// start + n·period, computed from the start every time (never accumulated
// from "now"), so rounding and late wake-ups never shift later ticks.
//
// A tick that starts a whole period or more after its deadline is missed:
// Next skips forward to the latest deadline not after now and counts the
// skipped deadlines as overruns, so a late loop never bursts to catch up.
// A Ticker is owned by one goroutine; Overruns and Count may be read from
// any.
type Ticker struct {
	clock    efferent.Clock
	start    time.Time
	period   time.Duration
	n        int64
	late     time.Duration
	count    atomic.Uint64
	overruns atomic.Uint64
}

// NewTicker returns a ticker whose first deadline is start. It panics if
// period is not positive, as time.NewTicker does.
func NewTicker(clock efferent.Clock, start time.Time, period time.Duration) *Ticker {
	if period <= 0 {
		panic("control: NewTicker: non-positive period")
	}
	return &Ticker{clock: clock, start: start, period: period}
}

// Next waits for the next deadline and returns it (the tick's scheduled
// time, not the wake-up time). It returns ctx's error if ctx ends first.
func (t *Ticker) Next(ctx context.Context) (time.Time, error) {
	d := t.Deadline(t.n)
	if err := t.clock.SleepUntil(ctx, d); err != nil {
		return time.Time{}, err
	}
	late := t.clock.Now().Sub(d)
	t.late = late
	if late >= t.period {
		k := int64(late / t.period)
		t.n += k
		t.overruns.Add(uint64(k))
		d = t.Deadline(t.n)
	}
	t.n++
	t.count.Add(1)
	return d, nil
}

// Late returns how late the last Next woke up, measured from the deadline
// it waited for (before any skip, so it may exceed a period). Owner
// goroutine only.
func (t *Ticker) Late() time.Duration { return t.late }

// Deadline returns deadline n: start + n·period.
func (t *Ticker) Deadline(n int64) time.Time { return t.start.Add(time.Duration(n) * t.period) }

// Period returns the tick period.
func (t *Ticker) Period() time.Duration { return t.period }

// Count returns how many ticks Next has returned.
func (t *Ticker) Count() uint64 { return t.count.Load() }

// Overruns returns how many deadlines were skipped because the loop was a
// period or more late.
func (t *Ticker) Overruns() uint64 { return t.overruns.Load() }
