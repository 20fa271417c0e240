package rig

import (
	"context"
	"errors"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/policy"
	"github.com/efferent/efferent/ros"
	"github.com/efferent/efferent/safety"
)

// Frames on a ROS arm: what the model sees and what the motion gate bounds.

// baseFramePolicy feeds a model that declares observation.state.robot_base
// (trained on states in another frame, e.g. the simulator's world) the
// measured end-effector position moved into that frame. It applies on ROS
// runs only: the bridge's state is in the robot's base frame, while the
// simulator, eval and serve's clients already send the training frame.
// The caller's observation is not changed: the motion gate and the
// recorder keep the measured state.
type baseFramePolicy struct {
	policy.Policy
	base [3]float64
}

// withRobotBase wraps pol when its metadata declares a robot base.
func withRobotBase(pol policy.Policy) policy.Policy {
	b := pol.Metadata().RobotBase
	if len(b) != 3 {
		return pol
	}
	return &baseFramePolicy{Policy: pol, base: [3]float64{b[0], b[1], b[2]}}
}

func (p *baseFramePolicy) Infer(ctx context.Context, obs *efferent.Observation, out *efferent.Chunk) error {
	if len(obs.State) < 3 {
		return errors.New("robot_base: the state has fewer than 3 values")
	}
	o := *obs
	o.State = append([]float64(nil), obs.State...) // inference runs at the policy's rate: the copy is cheap
	for i, b := range p.base {
		o.State[i] += b
	}
	return p.Policy.Infer(ctx, &o, out)
}

// measuredRobot is the bridge, remembering the measured end-effector
// position of each observation for rebasedMotion (both on the tick
// goroutine). Its other methods are the bridge's.
type measuredRobot struct {
	*ros.Bridge
	pos   [3]float64
	fresh bool
}

func (r *measuredRobot) Observe(obs *efferent.Observation) error {
	err := r.Bridge.Observe(obs)
	if err == nil && len(obs.State) >= 3 {
		copy(r.pos[:], obs.State[:3])
		r.fresh = true
	}
	return err
}

// rebasedMotion is the motion gate with its end-effector position axes
// moved onto the measured position at every observation. The gate
// integrates the increments it passes, but the bridge bounds its commanded
// pose's speed (as a norm, where the gate bounds each axis) and lead, and
// the arm may be stopped (by the table) or moved (an episode reset): an
// integrated position left to drift put the workspace floor centimetres
// above the table (efferent sim ros: the arm could not reach a block).
type rebasedMotion struct {
	*safety.MotionGate
	robot *measuredRobot
}

func (g rebasedMotion) Check(sp *efferent.Setpoint) efferent.Verdict {
	if g.robot.fresh {
		g.robot.fresh = false
		g.Rebase(g.robot.pos[:])
	}
	return g.MotionGate.Check(sp)
}
