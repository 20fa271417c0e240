package rig

import (
	"context"
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/policy"
	"github.com/efferent/efferent/sim"
)

// ExpertPolicy wraps the simulator's scripted expert as a policy.Policy so
// that it runs through exactly the same loop, scheduler and gate as a
// model. It reads env's privileged world state (not the observation), so
// it only drives the Env it was made for. Each chunk is one action: the
// expert is closed-loop and replans every step.
func ExpertPolicy(env *sim.Env) policy.Policy {
	return &expertPolicy{env: env, x: sim.NewExpert(), act: make([]float64, sim.ActionDim)}
}

type expertPolicy struct {
	env  *sim.Env
	x    *sim.Expert
	act  []float64
	last int // env.Steps() at the previous call, to notice a reset
}

func (p *expertPolicy) Infer(ctx context.Context, _ *efferent.Observation, out *efferent.Chunk) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s := p.env.Steps(); s == 0 || s < p.last {
		p.x.Reset() // a new episode
	}
	p.last = p.env.Steps()
	p.x.Act(p.env.World(), p.act)
	expertChunk(out, p.act, p.Metadata().StepPeriod)
	return nil
}

// expertChunk makes out a one-action chunk of act, as the scripted
// experts answer (they replan every step).
func expertChunk(out *efferent.Chunk, act []float64, period time.Duration) {
	out.Actions = append(out.Actions[:0], act...)
	out.H, out.D = 1, len(act)
	out.Tokens = out.Tokens[:0]
	out.Model = "expert"
	out.StepPeriod = period
}

func (p *expertPolicy) Metadata() policy.Metadata {
	hz := p.env.Conf().StepHz
	return policy.Metadata{
		Name: "expert", Version: "1", Weights: "scripted",
		ImageKeys: []string{sim.AgentViewKey, sim.WristViewKey}, ImageHeight: p.env.Conf().ImageSize, ImageWidth: p.env.Conf().ImageSize,
		Resize: "resize_with_pad", StateKey: sim.StateKey, StateDim: 8, PromptKey: "prompt",
		Horizon: 1, Dim: sim.ActionDim, StepPeriod: time.Duration(float64(time.Second) / hz),
	}
}

func (p *expertPolicy) Close() error { return nil }

// timedPolicy records the wall-clock duration of every Infer call for the
// report's latency percentiles (inference is off the tick path, so the
// append is harmless there).
type timedPolicy struct {
	policy.Policy
	lat []time.Duration
}

func (t *timedPolicy) Infer(ctx context.Context, obs *efferent.Observation, out *efferent.Chunk) error {
	start := time.Now()
	err := t.Policy.Infer(ctx, obs, out)
	t.lat = append(t.lat, time.Since(start))
	return err
}
