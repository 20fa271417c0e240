package policy_test

import (
	"math"
	"testing"

	"github.com/efferent/efferent/policy"
)

// TestGuideWeight: the soft mask of real-time chunking is 1 on the
// frozen steps, falls strictly from just under 1 to just over 0 across
// the guided ones, and is 0 where the executing chunk ends.
func TestGuideWeight(t *testing.T) {
	const d, steps, h = 3, 10, 16
	prev := 2.0
	for i := range h {
		w := policy.GuideWeight(i, d, steps)
		switch {
		case i < d && w != 1:
			t.Fatalf("frozen step %d: weight %g, want 1", i, w)
		case i >= steps && w != 0:
			t.Fatalf("step %d beyond the executing chunk: weight %g, want 0", i, w)
		case i >= d && i < steps && !(w > 0 && w < 1 && w < prev):
			t.Fatalf("guided step %d: weight %g after %g, want in (0, 1) and falling", i, w, prev)
		}
		prev = w
	}
	// c = 1 at i = d − 1 would give exactly 1: the first guided step
	// is c = (steps−d)/(steps−d+1).
	c := float64(steps-d) / float64(steps-d+1)
	if w := policy.GuideWeight(d, d, steps); math.Abs(w-c*math.Expm1(c)/(math.E-1)) > 1e-15 {
		t.Fatalf("first guided weight %g, want the paper's c(e^c−1)/(e−1) at c = %g", w, c)
	}
}

// TestNormalizeInvertsUnnormalize: for both statistics kinds, Normalize
// is Unnormalize's inverse on the dims it sets, and it leaves unset the
// dims whose statistics collapse and the model's padding dims.
func TestNormalizeInvertsUnnormalize(t *testing.T) {
	for _, a := range []policy.ActionSpec{
		{Dim: 3, Normalization: policy.NormalizationSpec{Q01: []float64{-0.5, 0, -1}, Q99: []float64{0.5, 0, 1}, Mask: []bool{true, true, false}}},
		{Dim: 3, ModelDim: 5, RobotDims: []int{0, 2, 3}, Normalization: policy.NormalizationSpec{Kind: policy.NormMeanStd, Mean: []float64{0.1, 0, -2}, Std: []float64{2, 0, 0.5}}},
	} {
		md := a.ModelDimOrDim()
		src := []float64{0.25, 0.7, -0.4}
		row, ok := make([]float32, md), make([]bool, md)
		a.Normalize(src, row, ok)
		back := make([]float64, a.Dim)
		a.Unnormalize(row, back)
		for i, v := range src {
			j := i
			if a.RobotDims != nil {
				j = a.RobotDims[i]
			}
			if i == 1 {
				if ok[j] {
					t.Fatalf("%+v: dim %d has collapsed statistics but was set", a.Normalization, i)
				}
				continue
			}
			if !ok[j] || math.Abs(back[i]-v) > 1e-6 {
				t.Fatalf("%+v: dim %d: %g → %g (set %v) → %g", a.Normalization, i, v, row[j], ok[j], back[i])
			}
		}
		for j := range md {
			if a.RobotDims != nil && (j == 1 || j == 4) && ok[j] {
				t.Fatalf("padding dim %d set", j)
			}
		}
	}
}
