package efferent

import (
	"context"
	"sync"
	"time"
)

// Clock is the time source of everything that runs on a schedule. It is
// injected so that the simulator can run in virtual time (faster than real
// time, and exactly reproducible) and tests never sleep.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// SleepUntil returns when the clock reaches t (at once if it already
	// has), or with ctx's error when ctx ends first.
	SleepUntil(ctx context.Context, t time.Time) error
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// SleepUntil blocks until t or until ctx ends.
func (SystemClock) SleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// VirtualClock is a clock that only moves when told to: SleepUntil jumps
// straight to its deadline, so a loop driven by it runs as fast as the CPU
// allows and its timestamps are exactly reproducible. It is safe for
// concurrent use, but a virtual-time loop is meant to have one owner that
// advances it.
type VirtualClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewVirtualClock returns a clock reading start.
func NewVirtualClock(start time.Time) *VirtualClock { return &VirtualClock{now: start} }

// Now returns the virtual time.
func (c *VirtualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// SleepUntil advances the clock to t if t is later; it never blocks.
func (c *VirtualClock) SleepUntil(ctx context.Context, t time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.Advance(t.Sub(c.Now()))
	return nil
}

// Advance moves the clock forward by d (a negative d is ignored: time
// never runs backwards).
func (c *VirtualClock) Advance(d time.Duration) {
	if d <= 0 {
		return
	}
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}
