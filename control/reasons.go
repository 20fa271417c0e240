package control

import (
	"github.com/efferent/efferent"
	"github.com/efferent/efferent/safety"
)

// Reasons are the verdict and hold reasons the loop counts one by one
// (Stats.HoldReasons, ClampReasons, RefuseReasons), in index order; a
// reason not among them counts as the last, "other". The counters are
// fixed arrays, so counting costs the tick no allocation.
var Reasons = [NumReasons]string{
	safety.ReasonNoChunk,           // a gap between chunks
	efferent.HoldStaleInput,        // a camera or the state went stale
	safety.ReasonEStop,             // the e-stop is engaged
	safety.ReasonWatchdog,          // no fresh chunk for too long
	"teleop_stale",                 // teleop.ReasonStale: the teleoperator's command is old
	safety.ReasonNaN,               // a value was NaN or ±Inf
	safety.ReasonDimension,         // wrong number of values
	safety.ReasonPositionLimit,     // outside [Min, Max]
	safety.ReasonStepLimit,         // moved more than MaxStep
	safety.ReasonVelocityLimit,     // motion gate bounds
	safety.ReasonAccelerationLimit, //
	safety.ReasonJerkLimit,         //
	safety.ReasonConverging,        // the motion gate still converging
	"other",                        // any reason not listed above
}

// NumReasons is the number of Reasons, "other" included.
const NumReasons = 14

// ReasonIndex is r's index in Reasons; NumReasons-1 ("other") for a
// reason not listed. It does not allocate.
func ReasonIndex(r string) int {
	switch r {
	case safety.ReasonNoChunk:
		return 0
	case efferent.HoldStaleInput:
		return 1
	case safety.ReasonEStop:
		return 2
	case safety.ReasonWatchdog:
		return 3
	case "teleop_stale":
		return 4
	case safety.ReasonNaN:
		return 5
	case safety.ReasonDimension:
		return 6
	case safety.ReasonPositionLimit:
		return 7
	case safety.ReasonStepLimit:
		return 8
	case safety.ReasonVelocityLimit:
		return 9
	case safety.ReasonAccelerationLimit:
		return 10
	case safety.ReasonJerkLimit:
		return 11
	case safety.ReasonConverging:
		return 12
	}
	return NumReasons - 1
}

// holdReasonIndex is the reason a held setpoint is counted under: the
// gate's verdict reason when it held or refused, else the producer's own
// (Setpoint.HoldReason), else a plain gap (no_chunk).
func holdReasonIndex(sp *efferent.Setpoint, v efferent.Verdict) int {
	switch {
	case v.Kind >= efferent.Held && v.Reason != "":
		return ReasonIndex(v.Reason)
	case sp.HoldReason != "":
		return ReasonIndex(sp.HoldReason)
	}
	return 0
}

// countVerdict counts one tick's hold and verdict reasons (tick goroutine;
// no allocation).
func (l *Loop) countVerdict(sp *efferent.Setpoint, v efferent.Verdict) {
	if sp.Hold {
		l.holdReasons[holdReasonIndex(sp, v)].Add(1)
	}
	switch v.Kind {
	case efferent.Clamped:
		l.clampReasons[ReasonIndex(v.Reason)].Add(1)
	case efferent.Refused:
		l.refuseReasons[ReasonIndex(v.Reason)].Add(1)
	}
}
