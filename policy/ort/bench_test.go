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
	for _, name := range models.Names() {
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/threads=%d", name, threads), func(b *testing.B) {
				benchmarkInfer(b, name, threads)
			})
		}
	}
}

func benchmarkInfer(b *testing.B, name string, threads int) {
	m, g := embedded(b, name)
	v, err := Open(m, Conf{IntraOpThreads: threads})
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	obs, _ := g.Cases[0].Observation(m.Obs.ImageHeight, m.Obs.ImageWidth)
	var ch efferent.Chunk
	ctx := context.Background()
	if err := v.Infer(ctx, &obs, &ch); err != nil { // warm-up
		b.Fatal(err)
	}
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
