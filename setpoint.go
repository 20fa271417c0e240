package efferent

import "time"

// Setpoint is one command for one controller tick, in the robot profile's
// units: for the simulator and LIBERO-style policies, the 7-d end-effector
// delta action (Δpos, Δaxis-angle, gripper); for a Franka, a pose or joint
// target; for a quadruped, a body twist.
type Setpoint struct {
	// Time is the controller tick this setpoint is for.
	Time time.Time
	// Values holds one value per action dimension. The producer owns the
	// slice; a consumer that keeps it past the tick must copy it.
	Values []float64
	// Seq is the observation sequence number of the chunk the values came
	// from (0 when holding without any chunk).
	Seq uint64
	// Hold is set when no valid chunk covers this tick: Values then hold
	// the robot still (the profile says what "still" means per dimension).
	Hold bool
	// HoldReason says why the producer asked for the hold when it was a
	// decision rather than a gap (e.g. HoldStaleInput); empty for a plain
	// gap between chunks. The gates answer it as their verdict's reason,
	// and no gate turns such a hold back into motion.
	HoldReason string
}

// VerdictKind is what the safety gate decided about one setpoint.
type VerdictKind uint8

// Verdict kinds, from harmless to severe.
const (
	// Allowed: the setpoint passed unchanged.
	Allowed VerdictKind = iota
	// Clamped: some values were brought inside the limits.
	Clamped
	// Held: the setpoint was replaced by a hold (robot keeps still).
	Held
	// Refused: the setpoint was rejected and the robot holds; the cause is
	// an error in the input (NaN, wrong dimension), not a limit.
	Refused
)

func (k VerdictKind) String() string {
	switch k {
	case Allowed:
		return "allowed"
	case Clamped:
		return "clamped"
	case Held:
		return "held"
	case Refused:
		return "refused"
	}
	return "unknown"
}

// Verdict is the gate's decision with a machine-readable reason, so that a
// refusal reaches the client, the log and the metrics instead of vanishing.
type Verdict struct {
	Kind VerdictKind
	// Reason is a stable identifier such as "nan", "position_limit",
	// "step_limit", "no_chunk" (empty when Allowed).
	Reason string
	// Dim is the first offending dimension, or -1.
	Dim int
}
