package policy_test

import (
	"errors"
	"math"
	"testing"

	"github.com/efferent/efferent/policy"
)

// argmaxCases is shared by the test and the benchmark.
var argmaxCases = []struct {
	name   string
	logits []float32
	lo, hi int64
	want   int64
	err    bool
}{
	{"max inside band", []float32{9, 1, 3, 2, 9}, 1, 3, 2, false},
	{"ignores a larger logit outside", []float32{100, 1, 2, 3, 100}, 1, 3, 3, false},
	{"tie goes to lowest", []float32{0, 5, 5, 5}, 1, 3, 1, false},
	{"all -Inf still yields a token", []float32{0, float32(math.Inf(-1)), float32(math.Inf(-1))}, 1, 2, 1, false},
	{"single token band", []float32{3, 2, 1}, 2, 2, 2, false},
	{"NaN in band", []float32{0, float32(math.NaN()), 1}, 1, 2, 0, true},
	{"NaN outside band is ignored", []float32{float32(math.NaN()), 1, 2}, 1, 2, 2, false},
	{"hi past vocabulary", []float32{1, 2}, 0, 2, 0, true},
	{"negative lo", []float32{1, 2}, -1, 1, 0, true},
	{"empty band", []float32{1, 2, 3}, 2, 1, 0, true},
}

func TestArgmaxBand(t *testing.T) {
	for _, tc := range argmaxCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := policy.ArgmaxBand(tc.logits, tc.lo, tc.hi)
			if tc.err {
				if !errors.Is(err, policy.ErrLogits) {
					t.Fatalf("err = %v, want ErrLogits", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("= %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

// BenchmarkArgmaxBand measures one decoding step's token choice over a
// 32000-token vocabulary with a 1024-token action band (VQ-VLA's layout).
func BenchmarkArgmaxBand(b *testing.B) {
	logits := make([]float32, 32000)
	for i := range logits {
		logits[i] = float32(math.Sin(float64(i)))
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := policy.ArgmaxBand(logits, 32000-1024, 31999); err != nil {
			b.Fatal(err)
		}
	}
}
