package safety

import "github.com/efferent/efferent"

// Gate decides about one setpoint. Check may modify sp in place (clamp
// values, or replace them with hold values and set sp.Hold); it allocates
// nothing and never blocks, since it runs on the control loop's tick
// goroutine. A Gate is owned by that goroutine: Check is not safe for
// concurrent use, although a gate's counters may be read from anywhere.
type Gate interface {
	Check(sp *efferent.Setpoint) efferent.Verdict
}

// Verdict reasons. They are stable identifiers for metrics and clients.
const (
	// ReasonNaN: a value was NaN or ±Inf (Refused; the robot holds).
	ReasonNaN = "nan"
	// ReasonDimension: the setpoint had the wrong number of values
	// (Refused; the robot holds).
	ReasonDimension = "dimension"
	// ReasonNoChunk: the scheduler had nothing to execute and asked for a
	// hold (Held).
	ReasonNoChunk = "no_chunk"
	// ReasonPositionLimit: a value was outside [Min, Max] and was clamped.
	ReasonPositionLimit = "position_limit"
	// ReasonStepLimit: an absolute value moved more than MaxStep from the
	// previous setpoint and was clamped toward it.
	ReasonStepLimit = "step_limit"
)

// holdReason is the verdict reason of a hold the producer asked for: its
// own reason (e.g. efferent.HoldStaleInput), else ReasonNoChunk.
func holdReason(sp *efferent.Setpoint) string {
	if sp.HoldReason != "" {
		return sp.HoldReason
	}
	return ReasonNoChunk
}
