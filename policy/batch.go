package policy

import (
	"context"
	"fmt"

	"github.com/efferent/efferent"
)

// Batcher is a Policy that can answer several observations in one model
// run: the server gathers concurrent clients' requests into one batch,
// which costs less than running them one after another (one set of
// session runs, larger matrix products). Like every Policy it is owned by
// one goroutine.
type Batcher interface {
	Policy
	// MaxBatch is the most rows one model run takes: 1 when the model's
	// graphs have a fixed batch of one. InferBatch accepts more and runs
	// them in groups of MaxBatch.
	MaxBatch() int
	// InferBatch answers obs[i] into out[i] and sets errs[i] (nil on
	// success) for every row; the three slices have the same length. A row
	// whose observation does not fit the model gets its own error and the
	// other rows are still answered. Each row's chunk is what Infer would
	// give for that observation alone, up to float rounding.
	InferBatch(ctx context.Context, obs []*efferent.Observation, out []*efferent.Chunk, errs []error)
}

// MaxBatch is p's MaxBatch when p is a Batcher, else 1.
func MaxBatch(p Policy) int {
	if b, ok := p.(Batcher); ok {
		return max(1, b.MaxBatch())
	}
	return 1
}

// InferBatch answers a batch with p's InferBatch when p is a Batcher, else
// with one Infer per row.
func InferBatch(ctx context.Context, p Policy, obs []*efferent.Observation, out []*efferent.Chunk, errs []error) {
	if len(out) != len(obs) || len(errs) != len(obs) {
		// A caller's bug; answer every row rather than index out of range.
		err := fmt.Errorf("policy: batch of %d observations, %d chunks and %d errors", len(obs), len(out), len(errs))
		for i := range errs {
			errs[i] = err
		}
		return
	}
	if b, ok := p.(Batcher); ok {
		b.InferBatch(ctx, obs, out, errs)
		return
	}
	for i := range obs {
		errs[i] = p.Infer(ctx, obs[i], out[i])
	}
}

// One is a batch of one kept inside a Batcher, so that its Infer can be
// InferBatch without allocating the three one-element slices per call.
type One struct {
	obs  [1]*efferent.Observation
	out  [1]*efferent.Chunk
	errs [1]error
}

// Infer answers obs into out with b.InferBatch and forgets both after.
func (o *One) Infer(ctx context.Context, b Batcher, obs *efferent.Observation, out *efferent.Chunk) error {
	o.obs[0], o.out[0] = obs, out
	b.InferBatch(ctx, o.obs[:], o.out[:], o.errs[:])
	err := o.errs[0]
	o.obs[0], o.out[0], o.errs[0] = nil, nil, nil
	return err
}
