package bench

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/control"
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
	// Bare, when set, makes the bare runtime loop over the same graphs
	// (policy/ort's NewBare): the cached case is then also measured
	// against it, alternating one efferent Infer and one bare run, and
	// the report gives the ratio of their medians.
	Bare func(m Model, obs *efferent.Observation) (Runner, error)
	// Provider (the execution provider) and IntraOpThreads describe the
	// runtime in the report.
	Provider       string
	IntraOpThreads int
}

// ErrNoBare is wrapped by an InferConf.Bare that cannot run the model
// (policy/ort's bare loop does not convert float16 tensors): the report
// then says so instead of failing.
var ErrNoBare = errors.New("no bare runtime loop for this model")

// Runner is one run of a model by other means than Infer (a bare
// runtime loop).
type Runner interface {
	Run() error
	Close()
}

// Infer measures the model, with and without the KV cache: p50/p99 of
// the prefix (encoder), of one action token (a decoder step) and of the
// whole chunk, the heap allocations per inference and, for a model that
// says (policy.Copier), the tensors one chunk copies between host and
// device memory.
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
		var bareRows []Row
		if err == nil && cache && c.Bare != nil {
			bareRows, err = bareSamples(ctx, c, v, &obs, fmt.Sprintf("%s %s", m.Name, label))
			if errors.Is(err, ErrNoBare) {
				rep.Targets = append(rep.Targets, err.Error())
				err = nil
			}
		}
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
		cp := policy.Copies{}
		if cv, ok := v.(policy.Copier); ok {
			cp = cv.Copies()
		}
		for i, r := range rows {
			r.Allocs = allocs
			r.Extra = map[string]float64{"intra_op_threads": float64(c.IntraOpThreads)}
			if i == len(rows)-1 {
				// The whole chunk's row says what it copies (0 on the CPU).
				r.Extra["copies_host_to_device"] = float64(cp.HostToDevice)
				r.Extra["copies_device_to_host"] = float64(cp.DeviceToHost)
				r.Extra["tensors_resident_on_device"] = float64(cp.Resident)
			}
			rep.Rows = append(rep.Rows, r)
		}
		rep.Rows = append(rep.Rows, bareRows...)
	}
	// replan's default: each chunk executed for its first steps (openpi's
	// 5), at the model's rate, is the time the next may take.
	steps := min(control.DefaultReplanSteps, m.Action.Horizon)
	budget := time.Duration(float64(steps) / m.Action.StepHz * float64(time.Second))
	rep.Targets = append(rep.Targets, fmt.Sprintf("provider %s; a chunk is executed for %d steps at %g Hz (replan): a %v budget", c.Provider, steps, m.Action.StepHz, budget))
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

// bareSamples alternates one Infer and one run of the bare runtime loop,
// n times each, and reports both and the ratio of their medians
// (efferent's overhead over the runtime alone on the same graphs).
func bareSamples(ctx context.Context, c InferConf, v Model, obs *efferent.Observation, label string) ([]Row, error) {
	b, err := c.Bare(v, obs)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	if err := b.Run(); err != nil {
		return nil, err
	}
	var ch efferent.Chunk
	eff, bare := make([]time.Duration, 0, c.N), make([]time.Duration, 0, c.N)
	for range c.N {
		t0 := time.Now()
		if err := v.Infer(ctx, obs, &ch); err != nil {
			return nil, err
		}
		t1 := time.Now()
		if err := b.Run(); err != nil {
			return nil, err
		}
		eff, bare = append(eff, t1.Sub(t0)), append(bare, time.Since(t1))
	}
	e, r := durationRow(label+": efferent Infer, alternating with the bare loop", eff), durationRow(label+": bare ONNX Runtime loop, same graphs", bare)
	e.Allocs, r.Allocs = -1, -1
	if r.P50 > 0 {
		e.Extra = map[string]float64{"efferent_over_bare_p50": e.P50 / r.P50}
	}
	return []Row{e, r}, nil
}
