package rig

import (
	"context"
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/policy"
	"github.com/efferent/efferent/safety"
	"github.com/efferent/efferent/sim/legged"
)

// Quadruped is the legged simulator's action space: the QUART-style
// command vector, absolute values (velocities, body height, gait) and a
// binary stop flag; it has no gripper.
func Quadruped() Space {
	s := Space{Names: []string{"vx", "vy", "wz", "height", "gait_hz", "swing", "stop"},
		Kinds: make([]safety.Kind, legged.CommandDim), Gripper: -1}
	for i := range s.Kinds {
		s.Kinds[i] = safety.Absolute
	}
	s.Kinds[legged.CmdStop] = safety.Binary
	return s
}

// LeggedLimits is the limit gate of the legged simulator: its command
// envelope (legged.CommandLimits), so that what leaves the loop is what
// the locomotion controller accepts, not what it would have to clip.
func LeggedLimits() (*safety.LimitGate, error) {
	lo, hi := legged.CommandLimits()
	return safety.NewLimits(safety.LimitsConf{Min: lo[:], Max: hi[:], Kinds: Quadruped().Kinds})
}

// LeggedExpertPolicy wraps the legged simulator's scripted expert as a
// policy.Policy, as ExpertPolicy does the tabletop's: one-command chunks
// from env's privileged state, through the same loop and gates as a
// model.
func LeggedExpertPolicy(env *legged.Env) policy.Policy {
	return &leggedExpert{env: env, x: legged.NewExpert()}
}

type leggedExpert struct {
	env *legged.Env
	x   *legged.Expert
	cmd []float64
}

func (p *leggedExpert) Infer(ctx context.Context, _ *efferent.Observation, out *efferent.Chunk) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p.cmd = p.x.Act(p.env, p.cmd) // replans by itself on a new episode
	expertChunk(out, p.cmd, p.Metadata().StepPeriod)
	return nil
}

func (p *leggedExpert) Metadata() policy.Metadata {
	c := p.env.Conf()
	return policy.Metadata{
		Name: "expert", Version: "1", Weights: "scripted",
		ImageKeys: []string{legged.ImageKey}, ImageHeight: c.ImageSize, ImageWidth: c.ImageSize,
		Resize: "resize_with_pad", StateKey: legged.StateKey, StateDim: legged.StateDim, PromptKey: "prompt",
		Horizon: 1, Dim: legged.CommandDim, StepPeriod: time.Duration(float64(time.Second) / c.StepHz),
	}
}

func (p *leggedExpert) Close() error { return nil }
