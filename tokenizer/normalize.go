package tokenizer

import (
	"fmt"
	"math"
)

// Normalizer maps between robot units and the model's [-1, 1] space with
// BOUNDS_Q99 statistics, as OpenVLA and VQ-VLA do. Dims whose Mask is false
// (usually the gripper) pass through unchanged.
type Normalizer struct {
	Q01, Q99 []float64
	Mask     []bool
}

// NewNormalizer validates the statistics: equal lengths, finite values,
// q99 >= q01. A nil mask normalises every dim.
func NewNormalizer(q01, q99 []float64, mask []bool) (Normalizer, error) {
	if len(q01) == 0 || len(q01) != len(q99) {
		return Normalizer{}, fmt.Errorf("%w: q01 has %d values, q99 %d", ErrConfig, len(q01), len(q99))
	}
	if mask == nil {
		mask = make([]bool, len(q01))
		for i := range mask {
			mask[i] = true
		}
	}
	if len(mask) != len(q01) {
		return Normalizer{}, fmt.Errorf("%w: mask has %d values, q01 %d", ErrConfig, len(mask), len(q01))
	}
	for i := range q01 {
		if !finite(q01[i]) || !finite(q99[i]) {
			return Normalizer{}, fmt.Errorf("%w: q01/q99[%d] not finite", ErrConfig, i)
		}
		if q99[i] < q01[i] {
			return Normalizer{}, fmt.Errorf("%w: q99[%d] = %v is below q01 %v", ErrConfig, i, q99[i], q01[i])
		}
	}
	return Normalizer{Q01: q01, Q99: q99, Mask: mask}, nil
}

// Dim is the number of dimensions the statistics cover.
func (n Normalizer) Dim() int { return len(n.Q01) }

// Unnormalize maps x in place from [-1, 1] to robot units:
// a = 0.5·(x + 1)·(q99 − q01) + q01 where masked. len(x) may be any
// multiple of Dim (several actions, row-major).
func (n Normalizer) Unnormalize(x []float64) {
	d := len(n.Q01)
	for i := range x {
		j := i % d
		if n.Mask[j] {
			x[i] = 0.5*(x[i]+1)*(n.Q99[j]-n.Q01[j]) + n.Q01[j]
		}
	}
}

// Normalize maps a in place from robot units to [-1, 1]:
// clip(2·(a − q01)/(q99 − q01) − 1, −1, 1) where masked (0 when q99 = q01).
func (n Normalizer) Normalize(a []float64) {
	d := len(n.Q01)
	for i := range a {
		j := i % d
		if !n.Mask[j] {
			continue
		}
		r := n.Q99[j] - n.Q01[j]
		if r == 0 {
			a[i] = 0
			continue
		}
		a[i] = min(1, max(-1, 2*(a[i]-n.Q01[j])/r-1))
	}
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// CheckFinite returns ErrNotFinite naming the first bad element of x, seen
// as rows of d values.
func CheckFinite(x []float64, d int) error {
	for i, v := range x {
		if !finite(v) {
			return fmt.Errorf("%w: action %d dim %d is %v", ErrNotFinite, i/d, i%d, v)
		}
	}
	return nil
}
