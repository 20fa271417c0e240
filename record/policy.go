package record

import (
	"context"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/policy"
)

// Policy records every observation that reaches the wrapped policy, and
// every chunk it answers with, on the inference goroutine (the tick never
// waits for it).
type Policy struct {
	policy.Policy
	Rec *Recorder
}

// Infer implements policy.Policy.
func (p Policy) Infer(ctx context.Context, obs *efferent.Observation, out *efferent.Chunk) error {
	p.Rec.Observation(obs)
	if err := p.Policy.Infer(ctx, obs, out); err != nil {
		return err
	}
	p.Rec.Chunk(out)
	return nil
}
