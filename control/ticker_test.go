package control_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/control"
)

// TestTickerDriftFree: over 1e6 virtual ticks every deadline is exactly
// start + n·period, including a period (1/3 ms) that is not a whole number
// of nanoseconds per tick of a rate (3 kHz), where adding a rounded
// interval to "now" would drift.
func TestTickerDriftFree(t *testing.T) {
	for _, period := range []time.Duration{time.Millisecond, 333_333 * time.Nanosecond} {
		clk := efferent.NewVirtualClock(t0)
		tk := control.NewTicker(clk, t0, period)
		ctx := context.Background()
		const n = 1_000_000
		var last time.Time
		for i := range n {
			d, err := tk.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if i%100_000 == 0 && !d.Equal(t0.Add(time.Duration(i)*period)) {
				t.Fatalf("tick %d at %v", i, d)
			}
			last = d
		}
		if want := t0.Add(time.Duration(n-1) * period); !last.Equal(want) || !clk.Now().Equal(want) {
			t.Fatalf("period %v: last deadline %v, clock %v, want %v", period, last, clk.Now(), want)
		}
		if tk.Overruns() != 0 || tk.Count() != n {
			t.Fatalf("overruns %d, count %d", tk.Overruns(), tk.Count())
		}
	}
}

// jumpClock is a virtual clock whose SleepUntil oversleeps by a given
// amount on given calls (a descheduled thread, a GC pause).
type jumpClock struct {
	mu    sync.Mutex
	now   time.Time
	calls int
	late  map[int]time.Duration // call index → oversleep
}

func (c *jumpClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *jumpClock) SleepUntil(ctx context.Context, t time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.now) {
		c.now = t
	}
	c.now = c.now.Add(c.late[c.calls])
	c.calls++
	return nil
}

// TestTickerOverruns: waking up 0.5 periods late is jitter, not an
// overrun; waking 2.5 periods late skips two deadlines (counted) and
// resumes on the grid, without a burst of catch-up ticks.
func TestTickerOverruns(t *testing.T) {
	const p = time.Millisecond
	clk := &jumpClock{now: t0, late: map[int]time.Duration{3: p / 2, 6: 5 * p / 2, 9: p}}
	tk := control.NewTicker(clk, t0, p)
	var got []time.Duration
	for range 12 {
		d, err := tk.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, d.Sub(t0)/p)
	}
	// Call 3 wakes at 3.5 (tick 3, late but not missed); call 6 wakes at
	// 8.5: ticks 6, 7 are missed, tick 8 runs; call 9, for tick 11, wakes
	// at 12 exactly: tick 11 is missed, tick 12 runs.
	want := []time.Duration{0, 1, 2, 3, 4, 5, 8, 9, 10, 12, 13, 14}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("ticks %v, want %v", got, want)
		}
	}
	if tk.Overruns() != 3 {
		t.Fatalf("overruns %d, want 3", tk.Overruns())
	}
}

// TestTickerSlowLoop: a loop whose work takes 2.5 periods now and then
// (the clock advanced by the work itself) gets one tick per wake-up,
// always a deadline, never two for the same wake-up.
func TestTickerSlowLoop(t *testing.T) {
	const p = time.Millisecond
	clk := efferent.NewVirtualClock(t0)
	tk := control.NewTicker(clk, t0, p)
	var prev time.Time
	for i := range 100 {
		d, err := tk.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 && !d.After(prev) {
			t.Fatalf("tick %d at %v, not after %v", i, d, prev)
		}
		if d.Sub(t0)%p != 0 {
			t.Fatalf("tick %d off the grid: %v", i, d.Sub(t0))
		}
		prev = d
		if i%10 == 0 {
			clk.Advance(5 * p / 2) // slow tick
		}
	}
	// Each slow tick (10 of them) ends 1.5 periods after the next
	// deadline: 1 deadline skipped each.
	if tk.Overruns() != 10 {
		t.Fatalf("overruns %d, want 10", tk.Overruns())
	}
}

func TestTickerContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tk := control.NewTicker(efferent.NewVirtualClock(t0), t0, time.Millisecond)
	if _, err := tk.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a zero period")
		}
	}()
	control.NewTicker(efferent.SystemClock{}, t0, 0)
}
