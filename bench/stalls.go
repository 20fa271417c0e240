package bench

import (
	"runtime"
	"time"
)

// Stalls is what ProbeStalls saw: gaps over 1 ms between two reads of the
// clock, which only the kernel or the hypervisor can cause.
type Stalls struct {
	// Over1ms counts the gaps over 1 ms.
	Over1ms int
	// Max is the longest gap.
	Max time.Duration
}

// ProbeStalls measures the machine itself: it spins on one OS thread for
// d, reading the clock, and counts the gaps over 1 ms (the CPU taken
// away). On a host fit for a real-time loop it sees none; where it sees
// some, a loop's missed deadlines are the machine's, not the loop's.
func ProbeStalls(d time.Duration) Stalls {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var s Stalls
	prev := time.Now()
	end := prev.Add(d)
	for {
		now := time.Now()
		if now.After(end) {
			return s
		}
		if g := now.Sub(prev); g > time.Millisecond {
			s.Over1ms++
			s.Max = max(s.Max, g)
		}
		prev = now
	}
}
