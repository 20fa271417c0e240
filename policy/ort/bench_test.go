package ort

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/models"
)

// BenchmarkInfer measures one chunk inference (encoder, one decoder step
// per VQ level with KV cache, detokenize; the fixture adds its ONNX latent
// decoder) of every shipped model, on one and on two intra-op threads, and
// reports p50/p99 latency besides the mean. The chunk is what the robot
// executes for 5 steps at 20 Hz (250 ms), the time budget to compare with.
func BenchmarkInfer(b *testing.B) {
	for _, name := range tokenModels(b) {
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/threads=%d", name, threads), func(b *testing.B) {
				benchmarkInfer(b, name, threads)
			})
		}
	}
}

func benchmarkInfer(b *testing.B, name string, threads int) {
	v, obs := openWarm(b, name, Conf{IntraOpThreads: threads})
	var ch efferent.Chunk
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if err := v.Infer(ctx, &obs, &ch); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	reportPercentiles(b, lat)
}

// openWarm opens the embedded model name, closed when b ends, and returns
// it after one warm-up inference on the first golden case's observation.
func openWarm(b *testing.B, name string, conf Conf) (*VLA, efferent.Observation) {
	m, g := embedded(b, name)
	v, err := Open(m, conf)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { v.Close() })
	obs, _ := g.Cases[0].Observation(m.Obs.ImageHeight, m.Obs.ImageWidth)
	var ch efferent.Chunk
	if err := v.Infer(context.Background(), &obs, &ch); err != nil {
		b.Fatal(err)
	}
	return v, obs
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) }
	b.ReportMetric(q(0.50), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
}

// BenchmarkInferBatch measures one batched run of the default model at
// several batch sizes on two intra-op threads: p50/p99 of the whole batch,
// and the time per row (the mean divided by the batch), which is what
// batching buys a server with many clients.
func BenchmarkInferBatch(b *testing.B) {
	m, g := embedded(b, models.Default)
	v, err := Open(m, Conf{IntraOpThreads: 2})
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	for _, n := range []int{1, 2, 4, 8, 16} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			obs := make([]*efferent.Observation, n)
			out := make([]*efferent.Chunk, n)
			for i := range obs {
				o, _ := g.Cases[i%len(g.Cases)].Observation(m.Obs.ImageHeight, m.Obs.ImageWidth)
				obs[i], out[i] = &o, &efferent.Chunk{}
			}
			errs := make([]error, n)
			ctx := context.Background()
			v.InferBatch(ctx, obs, out, errs) // warm-up: this size's tensors
			lat := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				v.InferBatch(ctx, obs, out, errs)
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			for _, err := range errs {
				if err != nil {
					b.Fatal(err)
				}
			}
			reportPercentiles(b, lat)
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/row")
		})
	}
}

// BenchmarkInferStages splits a chunk inference of the default model (one
// intra-op thread) into the prefix (the encoder), one action token (a
// decoder step) and the whole chunk, p50/p99 of each, with the KV cache
// and without it (every token re-encodes the prefix and re-decodes the
// tokens before it): what the cache is worth.
func BenchmarkInferStages(b *testing.B) {
	for _, cache := range []bool{true, false} {
		name := "kv-cache"
		if !cache {
			name = "no-kv-cache"
		}
		b.Run(name, func(b *testing.B) {
			v, obs := openWarm(b, models.Default, Conf{IntraOpThreads: 1, NoKVCache: !cache})
			var ch efferent.Chunk
			ctx := context.Background()
			var prefix, token, chunk []time.Duration
			b.ReportAllocs()
			for b.Loop() {
				if err := v.Infer(ctx, &obs, &ch); err != nil {
					b.Fatal(err)
				}
				t := v.LastTiming()
				prefix, chunk = append(prefix, t.Encoder), append(chunk, t.Total)
				token = append(token, t.Steps[:t.NSteps]...)
			}
			q := func(d []time.Duration, p float64) float64 {
				slices.Sort(d)
				return float64(d[min(len(d)-1, int(p*float64(len(d))))].Nanoseconds()) / 1e3
			}
			b.ReportMetric(q(prefix, 0.5), "prefix-p50-µs")
			b.ReportMetric(q(token, 0.5), "token-p50-µs")
			b.ReportMetric(q(chunk, 0.5), "chunk-p50-µs")
			b.ReportMetric(q(chunk, 0.99), "chunk-p99-µs")
		})
	}
}

// Without the KV cache the answers are the same (the cache only saves
// work), and Timing accounts for the stages.
func TestNoKVCacheSameAnswers(t *testing.T) {
	for _, name := range tokenModels(t) {
		m, g := embedded(t, name)
		cached, err := Open(m, Conf{IntraOpThreads: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer cached.Close()
		uncached, err := Open(m, Conf{IntraOpThreads: 1, NoKVCache: true})
		if err != nil {
			t.Fatal(err)
		}
		defer uncached.Close()
		for i := range g.Cases {
			obs, _ := g.Cases[i].Observation(m.Obs.ImageHeight, m.Obs.ImageWidth)
			var a, b efferent.Chunk
			if err := cached.Infer(context.Background(), &obs, &a); err != nil {
				t.Fatal(err)
			}
			if err := uncached.Infer(context.Background(), &obs, &b); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(a.Tokens, b.Tokens) || !slices.Equal(a.Actions, b.Actions) {
				t.Fatalf("%s case %d: tokens %v with the cache, %v without", name, i, a.Tokens, b.Tokens)
			}
		}
		tm := uncached.LastTiming()
		steps := time.Duration(0)
		for _, s := range tm.Steps[:tm.NSteps] {
			steps += s
		}
		if tm.NSteps != len(g.Cases[0].Tokens) || tm.Encoder <= 0 || tm.Total < tm.Encoder+steps {
			t.Fatalf("%s: timing %+v", name, tm)
		}
	}
}

// BenchmarkFlowGuided measures efferent-flow's chunk (prefix, 10 Euler
// steps of the action expert) without and with a real-time-chunking guide
// (12 steps, 3 frozen), side by side: the guidance is a few
// multiply-adds per Euler step in Go, next to ONNX Runtime's graphs.
func BenchmarkFlowGuided(b *testing.B) {
	m, g := embedded(b, models.Flow)
	c, err := OpenContinuous(m, Conf{IntraOpThreads: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	obs := goldenObservation(b, m, g.Cases[0])
	guide := efferent.ActionGuide{Steps: 12, D: m.Action.Dim, Delay: 3}
	for k := range guide.Steps {
		for d := range guide.D {
			guide.Actions = append(guide.Actions, 0.01*float64(k-d))
		}
	}
	for _, guided := range []bool{false, true} {
		b.Run(fmt.Sprintf("guided=%v", guided), func(b *testing.B) {
			obs.Guide = efferent.ActionGuide{}
			if guided {
				obs.Guide = guide
			}
			var ch efferent.Chunk
			ctx := context.Background()
			if err := c.Infer(ctx, obs, &ch); err != nil {
				b.Fatal(err)
			}
			lat := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				if err := c.Infer(ctx, obs, &ch); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			reportPercentiles(b, lat)
		})
	}
}
