package rig

import (
	"errors"
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/control"
	"github.com/efferent/efferent/policy"
)

// maxRemoteHorizon bounds the chunk length of a policy that does not know
// it in advance (openpi servers do not announce it).
const maxRemoteHorizon = 256

// LoopConf assembles one robot's control loop: the robot, the policy, the
// action space, the gate chain's stages and the clock.
type LoopConf struct {
	// Robot is observed and driven (required): the simulator (SimRobot),
	// the ROS bridge, a recording.
	Robot control.Robot
	// Policy produces the chunks (required); the loop does not close it.
	Policy policy.Policy
	// Space is the robot's action space (required).
	Space Space
	// Gates are the gate chain's stages; Chain orders them. Limits is
	// required.
	Gates Gates
	// Scheduler: Kinds default to Space.Kinds; MaxH, for a policy that
	// announces no horizon (a remote one), to 256.
	Scheduler control.SchedulerConf
	// RateHz is the controller rate. Default: the policy rate.
	RateHz float64
	// Clock is the time source. nil: the system clock, or in Virtual
	// mode a virtual clock at sim.SimEpoch.
	Clock efferent.Clock
	// Virtual runs inference on the tick that asks for it
	// (control.LoopConf.Virtual), with InferLatency modelled.
	Virtual      bool
	InferLatency time.Duration
	// OnTick, if set, is called on the tick goroutine after every Apply.
	OnTick func(sp *efferent.Setpoint, v efferent.Verdict)
}

// NewLoop builds the control loop; the caller Runs and Closes it.
func NewLoop(c LoopConf) (*control.Loop, error) {
	if c.Gates.Limits == nil {
		return nil, errors.New("rig: LoopConf.Gates.Limits: required")
	}
	if c.Policy == nil {
		return nil, errors.New("rig: LoopConf.Policy: required")
	}
	sc := c.Scheduler
	if sc.Kinds == nil {
		sc.Kinds = c.Space.Kinds
	}
	if sc.MaxH == 0 && c.Policy.Metadata().Horizon == 0 {
		// A remote policy learns its chunk length from its first reply;
		// reserve room for any reasonable chunk (longer ones are refused
		// with an error naming the length).
		sc.MaxH = maxRemoteHorizon
	}
	clock := c.Clock
	if clock == nil {
		clock = efferent.SystemClock{}
		if c.Virtual {
			clock = efferent.NewVirtualClock(simEpoch())
		}
	}
	return control.New(control.LoopConf{Clock: clock, Policy: c.Policy, Robot: c.Robot, Gate: c.Gates.Chain(),
		Scheduler: sc, RateHz: c.RateHz, OnTick: c.OnTick, Virtual: c.Virtual, InferLatency: c.InferLatency})
}
