// Package safety decides, tick by tick, whether a setpoint may reach the
// robot. A Gate checks one setpoint in place: it may clamp values into the
// limits or replace them with a hold, and it always answers with an
// efferent.Verdict whose Reason is a stable identifier ("nan", "dimension",
// "no_chunk", "position_limit", "step_limit", "velocity_limit", …), so that
// nothing is dropped silently.
//
// Gates run on the control loop's tick goroutine: Check allocates nothing
// and never blocks. Their counters are atomic and may be read from any
// goroutine.
//
// LimitGate bounds positions (or per-tick deltas) and the step between
// consecutive absolute setpoints, and refuses NaN/Inf and wrongly sized
// setpoints. EStop is a latching emergency stop (triggered from any
// goroutine, released only by an authenticated caller) and Watchdog holds
// the robot when no new chunk arrives in time; a Chain runs them before the
// limits, which fill in the hold values. MotionGate, last in the chain,
// bounds each axis's position, velocity, acceleration and jerk, keeps the
// output continuous whatever the input, and turns every hold before it into
// a controlled (category-2) stop; brake.go explains why its output provably
// stays within the limits.
//
// Kind (absolute, delta, binary) describes how each dimension behaves over
// time; it lives here so that package control, which interpolates by kind,
// can share it (control imports safety, never the reverse).
//
// Subpackage premise checks an instruction's objects are in view before
// any motion (ok, refuse or clarify); premise/cv is its OpenCV detector.
package safety
