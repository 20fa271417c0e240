package viewer

import (
	"context"
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/policy"
)

// Policy wraps a policy so the viewer sees every observation that reaches
// it, every chunk it answers and how long it took, on the inference
// goroutine (which never waits for the viewer).
type Policy struct {
	policy.Policy
	V *Viewer
	// Skip, if set, hides the calls made while it returns true (efferent
	// serve: the server's warm-up inferences on blank observations).
	Skip func() bool
}

func (p Policy) shown() bool { return p.Skip == nil || !p.Skip() }

// Infer implements policy.Policy.
func (p Policy) Infer(ctx context.Context, obs *efferent.Observation, out *efferent.Chunk) error {
	show := p.shown()
	if show {
		p.V.Observation(obs)
	}
	start := time.Now()
	if err := p.Policy.Infer(ctx, obs, out); err != nil {
		return err
	}
	if show {
		p.V.Chunk(out, time.Since(start))
	}
	return nil
}

// Tap wraps pol like Policy (skip as Policy.Skip), and keeps it a
// policy.Batcher when it is one (efferent serve batches requests): the
// viewer then shows a batch's last answered row, with the batch's latency.
func Tap(pol policy.Policy, v *Viewer, skip func() bool) policy.Policy {
	p := Policy{Policy: pol, V: v, Skip: skip}
	if b, ok := pol.(policy.Batcher); ok {
		return batchPolicy{Policy: p, b: b}
	}
	return p
}

type batchPolicy struct {
	Policy
	b policy.Batcher
}

func (p batchPolicy) MaxBatch() int { return p.b.MaxBatch() }

func (p batchPolicy) InferBatch(ctx context.Context, obs []*efferent.Observation, out []*efferent.Chunk, errs []error) {
	start := time.Now()
	p.b.InferBatch(ctx, obs, out, errs)
	if !p.shown() {
		return
	}
	for i := len(obs) - 1; i >= 0; i-- {
		if errs[i] == nil {
			p.V.Observation(obs[i])
			p.V.Chunk(out[i], time.Since(start))
			return
		}
	}
}
