package robot

import (
	"fmt"
	"math"
)

// OnViolation is the response to each kind of limit: "clamp" (the
// default) or "reject".
type OnViolation struct {
	Position     string `yaml:"position"`
	Velocity     string `yaml:"velocity"`
	Acceleration string `yaml:"acceleration"`
	Jerk         string `yaml:"jerk"`
}

// TwistYaw is the acceleration (rad/s²) and jerk (rad/s³) bounding a
// twist's wz: MaxRotationAccel and MaxRotationJerk, each where set, else
// the twist's MaxAccel and MaxJerk (one bound for every dim, as before wz
// had its own).
func (l Limits) TwistYaw() (accel, jerk float64) {
	accel, jerk = l.MaxAccel, l.MaxJerk
	if l.MaxRotationAccel > 0 {
		accel = l.MaxRotationAccel
	}
	if l.MaxRotationJerk > 0 {
		jerk = l.MaxRotationJerk
	}
	return accel, jerk
}

// validateMotion checks the acceleration and jerk limits, the responses
// and the envelope against the hardware ceiling.
func (p *Profile) validateMotion() error {
	l, n := p.Limits, p.Action.Dim
	for _, r := range []struct{ key, v string }{
		{"position", l.OnViolation.Position}, {"velocity", l.OnViolation.Velocity},
		{"acceleration", l.OnViolation.Acceleration}, {"jerk", l.OnViolation.Jerk},
	} {
		if r.v != "" && r.v != "clamp" && r.v != "reject" {
			return fmt.Errorf("limits.on_violation.%s: %q, want clamp or reject", r.key, r.v)
		}
	}
	for _, kv := range []keyVal{{"max_accel", l.MaxAccel}, {"max_jerk", l.MaxJerk},
		{"max_rotation_accel", l.MaxRotationAccel}, {"max_rotation_jerk", l.MaxRotationJerk}} {
		if !(kv.v >= 0) || math.IsInf(kv.v, 0) {
			return fmt.Errorf("limits.%s: %g, want a finite value ≥ 0 (0: unbounded)", kv.key, kv.v)
		}
	}
	for _, a := range []struct {
		key string
		v   []float64
	}{{"joint_acceleration", l.JointAcceleration}, {"joint_jerk", l.JointJerk}} {
		if a.v == nil {
			continue
		}
		if len(a.v) != n {
			return fmt.Errorf("limits.%s: %d values, want %d (action.dim)", a.key, len(a.v), n)
		}
		for i, v := range a.v {
			if !(v > 0) || math.IsInf(v, 0) {
				return fmt.Errorf("limits.%s[%d]: %g, want a positive number", a.key, i, v)
			}
		}
	}
	if l.JointJerk != nil && l.JointAcceleration == nil {
		return fmt.Errorf("limits.joint_jerk: needs limits.joint_acceleration too")
	}
	return p.checkCeiling()
}

// checkCeiling reports the first limit of the envelope beyond the
// hardware's.
func (p *Profile) checkCeiling() error {
	l, h := p.Limits, p.Hardware
	for _, c := range []struct {
		key      string
		lab, max float64
	}{
		{"max_speed", l.MaxSpeed, h.MaxSpeed}, {"max_accel", l.MaxAccel, h.MaxAccel}, {"max_jerk", l.MaxJerk, h.MaxJerk},
		{"max_rotation_speed", l.MaxRotationSpeed, h.MaxRotationSpeed}, {"max_rotation_accel", l.MaxRotationAccel, h.MaxRotationAccel},
		{"max_rotation_jerk", l.MaxRotationJerk, h.MaxRotationJerk},
		{"max_vx", l.MaxVx, h.MaxVx}, {"max_vy", l.MaxVy, h.MaxVy}, {"max_wz", l.MaxWz, h.MaxWz},
	} {
		if c.max > 0 && c.lab > c.max {
			return fmt.Errorf("limits.%s: %g exceeds the hardware's %g (hardware.%s)", c.key, c.lab, c.max, c.key)
		}
	}
	for _, c := range []struct {
		key      string
		lab, max []float64
		lower    bool // the hardware value is a lower bound (joint_min)
	}{
		{"joint_min", l.JointMin, h.JointMin, true}, {"joint_max", l.JointMax, h.JointMax, false},
		{"joint_velocity", l.JointVelocity, h.JointVelocity, false},
		{"joint_acceleration", l.JointAcceleration, h.JointAcceleration, false},
		{"joint_jerk", l.JointJerk, h.JointJerk, false},
	} {
		if c.lab == nil || c.max == nil {
			continue
		}
		if len(c.max) != len(c.lab) {
			return fmt.Errorf("hardware.%s: %d values, limits.%s has %d", c.key, len(c.max), c.key, len(c.lab))
		}
		for i := range c.lab {
			if c.lower && c.lab[i] < c.max[i] || !c.lower && c.lab[i] > c.max[i] {
				return fmt.Errorf("limits.%s[%d]: %g is beyond the hardware's %g (hardware.%s)", c.key, i, c.lab[i], c.max[i], c.key)
			}
		}
	}
	return nil
}
