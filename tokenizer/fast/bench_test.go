package fast

import (
	"slices"
	"testing"
	"time"
)

// BenchmarkDecode50x32 decodes the golden 50×32 chunk (the π0 shape) and
// reports the latency percentiles of single calls besides the mean:
//
//	go test -run '^$' -bench Decode50x32 -benchtime 20000x ./tokenizer/fast/
func BenchmarkDecode50x32(b *testing.B) {
	g, v := loadGolden(b)
	i := slices.IndexFunc(g.Cases, func(c goldenCase) bool { return c.Horizon == 50 && c.Dim == 32 })
	c := g.Cases[i]
	tk := newFor(b, g, v, c.Horizon, c.Dim, c.Q01, c.Q99)
	dst := make([]float64, c.Horizon*c.Dim)
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if err := tk.Decode(c.LMTokens, dst); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Nanoseconds()) }
	b.ReportMetric(q(0.50), "p50-ns")
	b.ReportMetric(q(0.99), "p99-ns")
	b.ReportMetric(float64(len(c.LMTokens)), "tokens")
}

// BenchmarkEncode50x32 is the encoder (not on the robot's path).
func BenchmarkEncode50x32(b *testing.B) {
	g, v := loadGolden(b)
	i := slices.IndexFunc(g.Cases, func(c goldenCase) bool { return c.Horizon == 50 && c.Dim == 32 })
	c := g.Cases[i]
	tk := newFor(b, g, v, c.Horizon, c.Dim, c.Q01, c.Q99)
	a := flat(c.Actions)
	b.ReportAllocs()
	for range b.N {
		if _, err := tk.Encode(a); err != nil {
			b.Fatal(err)
		}
	}
}
