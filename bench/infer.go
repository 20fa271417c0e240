package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/models"
	"github.com/efferent/efferent/policy"
)

// InferConf configures Infer. Zero values mean the documented default.
type InferConf struct {
	// Model is the model measured: a directory or an embedded model's
	// name (models.Resolve). Default models.Default.
	Model string
	// N is how many inferences each case runs. Default 1000.
	N int
	// Open opens the model (required).
	Open Opener
	// Provider (the execution provider) and IntraOpThreads describe the
	// runtime in the report.
	Provider       string
	IntraOpThreads int
}

// Infer measures the model, with and without the KV cache: p50/p99 of
// the prefix (encoder), of one action token (a decoder step) and of the
// whole chunk, and the heap allocations per inference.
func Infer(ctx context.Context, c InferConf) (Report, error) {
	rep := Report{Name: "infer"}
	if c.Open == nil {
		return rep, errors.New("bench: InferConf.Open: required")
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if c.N == 0 {
		c.N = 1000
	}
	m, err := models.Manifest(c.Model)
	if err != nil {
		return rep, err
	}
	obs := modelObservation(m)
	// The autoregressive layout with and without its KV cache; flow and
	// regression as they are (their step is a flow step).
	cases := []bool{true, false}
	prefixName, stepName, unit := "prefix (encoder)", "one action token", "tokens"
	if m.LayoutName() != policy.LayoutAutoregressive {
		cases, prefixName, stepName, unit = cases[:1], "prefix (first graph)", "one flow step", "steps"
	}
	for _, cache := range cases {
		v, err := c.Open(m, !cache)
		if err != nil {
			return rep, err
		}
		label := m.LayoutName()
		if m.LayoutName() == policy.LayoutAutoregressive {
			label = "kv cache"
			if !cache {
				label = "no kv cache"
			}
		}
		prefix, token, chunk, allocs, err := inferSamples(ctx, v, &obs, c.N)
		v.Close()
		if err != nil {
			return rep, err
		}
		rows := []Row{durationRow(fmt.Sprintf("%s %s: %s", m.Name, label, prefixName), prefix)}
		if len(token) > 0 {
			rows = append(rows, durationRow(fmt.Sprintf("%s %s: %s", m.Name, label, stepName), token))
		}
		whole := fmt.Sprintf("%s %s: whole chunk (%d %s)", m.Name, label, len(token)/c.N, unit)
		if len(token) == 0 {
			whole = fmt.Sprintf("%s %s: whole chunk (one graph)", m.Name, label)
		}
		rows = append(rows, durationRow(whole, chunk))
		for _, r := range rows {
			r.Allocs = allocs
			r.Extra = map[string]float64{"intra_op_threads": float64(c.IntraOpThreads)}
			rep.Rows = append(rep.Rows, r)
		}
	}
	rep.Targets = []string{fmt.Sprintf("provider %s; a chunk is executed for 5 steps at 20 Hz: a 250 ms budget", c.Provider)}
	return rep, nil
}

// inferSamples runs v once to warm up, then n times, collecting each
// run's stages and the heap allocations per run.
func inferSamples(ctx context.Context, v Model, obs *efferent.Observation, n int) (prefix, token, chunk []time.Duration, allocs float64, err error) {
	var ch efferent.Chunk
	if err := v.Infer(ctx, obs, &ch); err != nil {
		return nil, nil, nil, 0, err
	}
	var t Timing
	a0 := mallocs()
	for range n {
		if err := v.Infer(ctx, obs, &ch); err != nil {
			return nil, nil, nil, 0, err
		}
		v.Timing(&t)
		prefix, chunk = append(prefix, t.Encoder), append(chunk, t.Total)
		token = append(token, t.Steps...)
	}
	return prefix, token, chunk, float64(mallocs()-a0) / float64(n), nil
}
