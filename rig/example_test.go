package rig_test

import (
	"context"
	"fmt"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/rig"
	"github.com/efferent/efferent/safety"
	"github.com/efferent/efferent/sim"
)

// Run one simulator episode closed loop in virtual time: the scripted
// expert drives the arm through the scheduler and the simulator's gate
// chain, with an e-stop in it.
func ExampleEpisode() {
	env, err := sim.New(sim.Conf{NoRender: true}, nil)
	if err != nil {
		panic(err)
	}
	task, _ := sim.FindTask(rig.DefaultTask)
	if err := env.Reset(task, 0); err != nil {
		panic(err)
	}
	estop := safety.NewEStop(nil)
	res := rig.Episode(context.Background(), rig.EpisodeConf{
		Env: env, Policy: rig.ExpertPolicy(env), Virtual: true,
		Gates: rig.Gates{EStop: estop},
	})
	fmt.Println("success:", res.Success, "error:", res.Err)
	// Output: success: true error: <nil>
}

// Build a robot's gate chain: the stages always run in the same order,
// whatever order they are given in.
func ExampleGates_Chain() {
	limits, err := rig.SimLimits()
	if err != nil {
		panic(err)
	}
	estop := safety.NewEStop(nil)
	chain := rig.Gates{Limits: limits, EStop: estop}.Chain()
	sp := efferent.Setpoint{Values: []float64{0.2, 0, 0, 0, 0, 0, 5}} // a gripper value out of range
	fmt.Println(chain.Check(&sp).Kind, sp.Values[6])
	estop.Trigger("example")
	fmt.Println(chain.Check(&sp).Kind)
	// Output:
	// clamped 1
	// refused
}

// The action space of a robot profile names and kinds its dimensions.
func ExampleLIBERO() {
	s := rig.LIBERO()
	fmt.Println(s.Dim(), s.Names, "gripper at", s.Gripper)
	// Output: 7 [x y z roll pitch yaw gripper] gripper at 6
}
