package eval

import (
	"cmp"
	"math"
	"slices"
)

// z95 is the standard normal quantile for a two-sided 95 % interval.
const z95 = 1.959963984540054

// Interval is a confidence interval for a proportion, both ends in [0, 1].
type Interval struct {
	Lo float64 `json:"lo"`
	Hi float64 `json:"hi"`
}

// Wilson returns the 95 % Wilson score interval for k successes out of n.
// With n == 0 nothing is known: [0, 1].
func Wilson(k, n int) Interval {
	if n <= 0 {
		return Interval{0, 1}
	}
	nf := float64(n)
	p := float64(k) / nf
	z2 := z95 * z95
	den := 1 + z2/nf
	center := (p + z2/(2*nf)) / den
	half := z95 / den * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf))
	iv := Interval{max(0, center-half), min(1, center+half)}
	// The formula gives exactly 0 and 1 there only up to rounding.
	if k <= 0 {
		iv.Lo = 0
	}
	if k >= n {
		iv.Hi = 1
	}
	return iv
}

// Percentile returns the p-th percentile (0 < p <= 100) of sorted values by
// the nearest-rank method: the smallest value with at least p % of the
// values at or below it, i.e. sorted[ceil(p/100·n) − 1]. It is always one
// of the collected values (no interpolation), so a p99 of 100 calls is the
// 99th slowest, not an invented number. Zero for no values.
func Percentile[T cmp.Ordered](sorted []T, p float64) T {
	var zero T
	n := len(sorted)
	if n == 0 {
		return zero
	}
	rank := int(math.Ceil(p * float64(n) / 100))
	return sorted[min(max(rank, 1), n)-1]
}

// median is the usual midpoint median (the mean of the two middle values
// for an even count), of values that need not be sorted.
func median(v []int) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return float64(s[m])
	}
	return (float64(s[m-1]) + float64(s[m])) / 2
}

// rate is k/n, 0 for n == 0 (JSON has no NaN).
func rate(k, n int) float64 {
	if n == 0 {
		return 0
	}
	return float64(k) / float64(n)
}
