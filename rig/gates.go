package rig

import (
	"fmt"
	"reflect"
	"time"

	"github.com/efferent/efferent/robot"
	"github.com/efferent/efferent/safety"
	"github.com/efferent/efferent/sim"
)

// Gates are the stages of a robot's gate chain. Chain puts them in the one
// order they always run in; a nil stage is left out.
type Gates struct {
	// Teleop is the teleoperator's gate (the viewer's takeover): first, so
	// that the teleoperator's commands pass every gate after it like the
	// policy's.
	Teleop safety.Gate
	// EStop holds the robot while engaged.
	EStop safety.Gate
	// Watchdog holds it when no new chunk came in time (real time only:
	// in virtual time nothing can stall).
	Watchdog safety.Gate
	// Limits bounds every value (the robot's range, NaN refused). The
	// gates before it that hold set the setpoint's Hold, and it fills in
	// the hold values.
	Limits safety.Gate
	// Motion bounds velocity, acceleration and jerk: last, so that every
	// hold before it becomes a controlled stop.
	Motion safety.Gate
}

// Chain is the gate chain: teleop, e-stop, watchdog, limits, motion.
// This is the only place the order is written.
func (g Gates) Chain() safety.Chain {
	var c safety.Chain
	for _, s := range []safety.Gate{g.Teleop, g.EStop, g.Watchdog, g.Limits, g.Motion} {
		if s != nil && !isNilGate(s) {
			c = append(c, s)
		}
	}
	return c
}

// isNilGate catches a typed nil pointer in the interface (a profile
// without a motion gate has a nil *MotionGate), whatever the gate's type.
func isNilGate(g safety.Gate) bool {
	v := reflect.ValueOf(g)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// SimLimits bounds the simulator's action: every entry within
// sim.ActionLimits, NaN/Inf refused (the arm holds).
func SimLimits() (*safety.LimitGate, error) {
	lo, hi := sim.ActionLimits()
	return safety.NewLimits(safety.LimitsConf{Min: lo[:], Max: hi[:], Kinds: LIBERO().Kinds})
}

// Watchdog is the watchdog of a real-time run: timeout, or (0) two
// replanning periods of replanSteps policy steps at stepHz, at least
// 150 ms (safety.DefaultWatchdog).
func Watchdog(timeout time.Duration, replanSteps int, stepHz float64) (*safety.Watchdog, error) {
	if timeout < 0 {
		return nil, fmt.Errorf("watchdog %v: want a positive duration (0: the default)", timeout)
	}
	if timeout == 0 {
		timeout = safety.DefaultWatchdog(time.Duration(float64(replanSteps) * float64(time.Second) / stepHz))
	}
	return safety.NewWatchdog(timeout)
}

// ProfileLimits bounds each dimension at the controller tick: ee_delta
// values to ±1 policy unit per step (spread over its ticks) and the
// gripper to ±1; joint positions to their range and velocity; twists to
// their caps.
func ProfileLimits(p *robot.Profile, stepPeriod time.Duration) (*safety.LimitGate, error) {
	d := p.Action.Dim
	lo, hi := make([]float64, d), make([]float64, d)
	var step []float64
	perTick := p.Period().Seconds() / stepPeriod.Seconds()
	l := p.Limits
	for i := range d {
		lo[i], hi[i] = -1, 1
		switch p.Action.Mapping {
		case robot.MappingEEDelta:
			if i < 6 {
				lo[i], hi[i] = -perTick, perTick
			}
		case robot.MappingJointPosition:
			lo[i], hi[i] = l.JointMin[i], l.JointMax[i]
			if step == nil {
				step = make([]float64, d)
			}
			step[i] = l.JointVelocity[i] * p.Period().Seconds()
		case robot.MappingTwist:
			caps := []float64{l.MaxVx, l.MaxVy, l.MaxWz}
			if i < 3 {
				lo[i], hi[i] = -caps[i], caps[i]
			}
		case robot.MappingCommandVector:
			if len(l.CommandMin) == d {
				lo[i], hi[i] = l.CommandMin[i], l.CommandMax[i]
			}
		}
	}
	return safety.NewLimits(safety.LimitsConf{Min: lo, Max: hi, MaxStep: step, Kinds: ProfileSpace(p).Kinds})
}

// ProfileMotion is the motion gate for a profile's mapping (nil when the
// profile bounds no acceleration): end-effector deltas integrated in
// metres and radians within the workspace box, joints within their range,
// twist components as rate commands; each bounded in velocity,
// acceleration and jerk at the controller period. state is the robot's
// measured state as Observe reports it (the end effector's position
// first, or the joints), where the integration and the joints start.
func ProfileMotion(p *robot.Profile, state []float64) (*safety.MotionGate, error) {
	l, d := p.Limits, p.Action.Dim
	conf := safety.MotionConf{Period: p.Period(), Axes: make([]safety.Axis, d), Initial: make([]float64, d)}
	var err error
	for i, r := range []struct {
		dst *safety.Response
		s   string
	}{{&conf.OnPosition, l.OnViolation.Position}, {&conf.OnVelocity, l.OnViolation.Velocity},
		{&conf.OnAcceleration, l.OnViolation.Acceleration}, {&conf.OnJerk, l.OnViolation.Jerk}} {
		if *r.dst, err = safety.ParseResponse(r.s); err != nil {
			return nil, fmt.Errorf("limits.on_violation (%d): %w", i, err)
		}
	}
	limited := false
	for i := range d {
		ax := &conf.Axes[i]
		ax.Kind = safety.Binary
		switch p.Action.Mapping {
		case robot.MappingEEDelta:
			if i >= 6 {
				continue
			}
			ax.Kind, ax.Scale = safety.Delta, p.Action.TranslationScale
			ax.Velocity, ax.Acceleration, ax.Jerk = l.MaxSpeed, l.MaxAccel, l.MaxJerk
			// Drop what the limits hold back rather than bank 100 ms of
			// it: the policy closes the loop on the measured pose, and
			// banked motion ran on after it asked to stop (efferent sim
			// ros: 10/20 → 16/20 successes, the arm no longer hitting the
			// table or releasing below the bowl's floor).
			ax.Lead = 10 * time.Millisecond
			if i < 3 {
				ax.Min, ax.Max = l.WorkspaceMin[i], l.WorkspaceMax[i]
				if i < len(state) {
					conf.Initial[i] = state[i]
				}
			} else {
				ax.Scale = p.Action.RotationScale
				ax.Velocity, ax.Acceleration, ax.Jerk = l.MaxRotationSpeed, l.MaxRotationAccel, l.MaxRotationJerk
			}
		case robot.MappingJointPosition:
			if l.JointAcceleration == nil {
				continue
			}
			ax.Kind = safety.Absolute
			ax.Min, ax.Max = l.JointMin[i], l.JointMax[i]
			ax.Velocity, ax.Acceleration = l.JointVelocity[i], l.JointAcceleration[i]
			if l.JointJerk != nil {
				ax.Jerk = l.JointJerk[i]
			}
			if i < len(state) {
				conf.Initial[i] = state[i]
			}
		case robot.MappingTwist:
			if i >= 3 || l.MaxJerk == 0 {
				continue
			}
			caps := []float64{l.MaxVx, l.MaxVy, l.MaxWz}
			ax.Kind, ax.Rate = safety.Absolute, true
			ax.Min, ax.Max = -caps[i], caps[i]
			// The command is a velocity: its rate of change is the
			// acceleration, its second derivative the jerk.
			ax.Velocity, ax.Acceleration = l.MaxAccel, l.MaxJerk
			if i == 2 {
				ax.Velocity, ax.Acceleration = l.TwistYaw()
			}
		default:
			continue
		}
		if ax.Velocity > 0 && ax.Acceleration > 0 {
			limited = true
		} else {
			ax.Kind, ax.Velocity, ax.Acceleration, ax.Jerk = safety.Binary, 0, 0, 0
		}
	}
	if !limited {
		return nil, nil
	}
	return safety.NewMotion(conf)
}
