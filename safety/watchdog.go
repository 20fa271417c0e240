package safety

import (
	"fmt"
	"time"

	"github.com/efferent/efferent"
)

// ReasonWatchdog: no fresh chunk for longer than the watchdog's timeout
// (Refused; the robot holds until a newer chunk arrives).
const ReasonWatchdog = "watchdog"

// DefaultWatchdog is the timeout for a policy that replans every period:
// two periods, and never less than 150 ms (what MoveIt Servo calls stale).
func DefaultWatchdog(replanPeriod time.Duration) time.Duration {
	return max(150*time.Millisecond, 2*replanPeriod)
}

// Watchdog is a Gate that holds the robot when the policy stops
// delivering: a chunk is fresh when a setpoint carries a chunk sequence
// (Setpoint.Seq) not seen before; when no fresh chunk has come for
// Timeout of controller time (Setpoint.Time), every setpoint is Refused
// "watchdog" and held, and stays so until a chunk newer than any seen
// before the trip arrives — the rest of an old chunk never resumes motion.
// Its clock starts with the first chunk.
type Watchdog struct {
	timeout   time.Duration
	lastSeq   uint64
	lastFresh time.Time
	tripped   bool
	trips     uint64
}

// NewWatchdog returns a watchdog with the given timeout (> 0).
func NewWatchdog(timeout time.Duration) (*Watchdog, error) {
	if timeout <= 0 {
		return nil, fmt.Errorf("safety: watchdog timeout %v, want > 0", timeout)
	}
	return &Watchdog{timeout: timeout}, nil
}

// Trips counts how often the watchdog tripped (tick goroutine only).
func (w *Watchdog) Trips() uint64 { return w.trips }

// Check implements Gate.
func (w *Watchdog) Check(sp *efferent.Setpoint) efferent.Verdict {
	now := sp.Time
	if w.lastFresh.IsZero() {
		w.lastFresh = now // the clock starts with the loop
	}
	if !sp.Hold && sp.Seq > w.lastSeq {
		w.lastSeq, w.lastFresh, w.tripped = sp.Seq, now, false
	}
	// A hold the loop decided on (a stale camera, say) stops the chunk
	// stream on purpose: that is not the policy failing, and its own
	// reason, not "watchdog", is what the verdict should name. A trip
	// from before it stands.
	if sp.HoldReason != "" && !w.tripped {
		w.lastFresh = now
	}
	// Before the first chunk the scheduler holds anyway ("no_chunk"): a
	// slow first inference is not a failure of the stream.
	if !w.tripped && w.lastSeq != 0 && now.Sub(w.lastFresh) > w.timeout {
		w.tripped = true
		w.trips++
	}
	if w.tripped {
		sp.Hold = true
		return efferent.Verdict{Kind: efferent.Refused, Reason: ReasonWatchdog, Dim: -1}
	}
	return efferent.Verdict{Kind: efferent.Allowed, Dim: -1}
}
