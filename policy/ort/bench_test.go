package ort

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/efferent/efferent"
)

// BenchmarkInfer measures one chunk inference of the fixture (encoder, 4
// decoder steps with KV cache, VQ latent decoder, detokenize) on one
// intra-op thread, and reports p50/p99 latency besides the mean.
func BenchmarkInfer(b *testing.B) {
	m, g := fixture(b)
	v, err := Open(m, Conf{IntraOpThreads: 1})
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
