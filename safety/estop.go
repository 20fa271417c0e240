package safety

import (
	"sync/atomic"
	"time"

	"github.com/efferent/efferent"
)

// ReasonEStop: the e-stop is engaged (Refused; the robot holds until an
// authenticated reset).
const ReasonEStop = "estop"

// EStop is a latching emergency stop as a Gate. Trigger (from a signal,
// an HTTP call, a ROS topic, the viewer — any goroutine) engages it; from
// the next controller tick every setpoint is Refused "estop" and becomes a
// hold (put it before the LimitGate in a Chain, which fills in the hold
// values). It stays engaged until Reset, which the caller must only offer
// behind authentication.
type EStop struct {
	engaged  atomic.Bool
	source   atomic.Pointer[string]
	trigAt   atomic.Int64 // unix ns of the engaging Trigger
	pending  atomic.Bool  // latency not measured yet
	latency  atomic.Int64 // ns from the Trigger to the first held tick
	triggers atomic.Uint64
	trips    atomic.Uint64
	held     atomic.Uint64
	now      func() time.Time
}

// NewEStop returns a released e-stop. now timestamps triggers (default
// time.Now; tests pass the loop's virtual clock).
func NewEStop(now func() time.Time) *EStop {
	if now == nil {
		now = time.Now
	}
	return &EStop{now: now}
}

// Trigger engages the stop (again: the first trigger's source and time
// are kept until Reset). Safe from any goroutine.
func (e *EStop) Trigger(source string) {
	e.triggers.Add(1)
	if e.engaged.CompareAndSwap(false, true) {
		e.trips.Add(1)
		e.source.Store(&source)
		e.trigAt.Store(e.now().UnixNano())
		e.pending.Store(true)
	}
}

// Reset releases the stop. Only an authenticated operator may call it.
func (e *EStop) Reset() { e.engaged.Store(false) }

// EStopStatus is what a client or the viewer is told.
type EStopStatus struct {
	Engaged bool      `json:"engaged"`
	Source  string    `json:"source,omitempty"`
	Since   time.Time `json:"since,omitzero"`
	// Latency is from the last Trigger to the first held tick after it.
	Latency time.Duration `json:"latency_ns"`
	// Triggers counts Trigger calls; Trips those that engaged it (from
	// released); HeldTicks the ticks it held.
	Triggers, Trips, HeldTicks uint64
}

// Status reports the stop's state.
func (e *EStop) Status() EStopStatus {
	s := EStopStatus{Engaged: e.engaged.Load(), Latency: time.Duration(e.latency.Load()),
		Triggers: e.triggers.Load(), Trips: e.trips.Load(), HeldTicks: e.held.Load()}
	if s.Engaged {
		if p := e.source.Load(); p != nil {
			s.Source = *p
		}
		s.Since = time.Unix(0, e.trigAt.Load())
	}
	return s
}

// Check implements Gate.
func (e *EStop) Check(sp *efferent.Setpoint) efferent.Verdict {
	if !e.engaged.Load() {
		return efferent.Verdict{Kind: efferent.Allowed, Dim: -1}
	}
	sp.Hold = true
	e.held.Add(1)
	if e.pending.CompareAndSwap(true, false) {
		e.latency.Store(sp.Time.UnixNano() - e.trigAt.Load())
	}
	return efferent.Verdict{Kind: efferent.Refused, Reason: ReasonEStop, Dim: -1}
}
