package control

import (
	"context"
	"runtime"
	"time"
)

// PreciseClock is the wall clock with a SleepUntil made for a 1 kHz loop.
// efferent.SystemClock sleeps on Go timers, which on Linux wake through
// the runtime's network poller with millisecond resolution: a sub-period
// sleep overshoots by up to a whole millisecond (uniformly, so a 1 kHz
// loop starts its ticks ~0.5 ms late at the median). PreciseClock sleeps
// with the nanosleep system call instead (on Linux; time.Sleep elsewhere),
// which wakes within the kernel's timer slack (~50–100 µs), and can
// busy-wait the last Spin before the deadline for microsecond precision at
// the cost of that much CPU per tick. The zero value sleeps without
// spinning.
type PreciseClock struct {
	// Spin is how long before a deadline to stop sleeping and busy-wait
	// (yielding the processor between checks). Default 0: no spinning.
	// 100 µs brings the median lateness of a 1 kHz loop to a few µs and
	// costs ~10 % of a core.
	Spin time.Duration
}

// maxSleepChunk bounds one uninterruptible sleep, so that SleepUntil
// notices a cancelled context within it.
const maxSleepChunk = 5 * time.Millisecond

// Now returns time.Now().
func (PreciseClock) Now() time.Time { return time.Now() }

// SleepUntil returns at t (or just after), or with ctx's error when ctx
// ends first (noticed within 5 ms).
func (c PreciseClock) SleepUntil(ctx context.Context, t time.Time) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		d := time.Until(t)
		if d <= 0 {
			return nil
		}
		if d <= c.Spin {
			for time.Now().Before(t) {
				runtime.Gosched()
			}
			return nil
		}
		sleep(min(d-c.Spin, maxSleepChunk))
	}
}
