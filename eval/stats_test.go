package eval

import (
	"math"
	"testing"
	"time"
)

func TestWilson(t *testing.T) {
	// Reference values: the Wilson score interval as published (e.g.
	// Newcombe 1998, table I; statsmodels proportion_confint method="wilson").
	for _, c := range []struct {
		k, n   int
		lo, hi float64
	}{
		{8, 10, 0.4902, 0.9433},
		{0, 10, 0, 0.2775},
		{10, 10, 0.7225, 1},
		{48, 50, 0.8654, 0.9890},
		{1, 2, 0.0945, 0.9055},
		{197, 200, 0.9568, 0.9949},
		{0, 0, 0, 1},
	} {
		iv := Wilson(c.k, c.n)
		if math.Abs(iv.Lo-c.lo) > 1e-4 || math.Abs(iv.Hi-c.hi) > 1e-4 {
			t.Errorf("Wilson(%d, %d) = [%.6f, %.6f], want [%.4f, %.4f]", c.k, c.n, iv.Lo, iv.Hi, c.lo, c.hi)
		}
	}
	// Exact ends at 0/n and n/n, and the estimate always inside.
	for n := 1; n <= 60; n++ {
		if iv := Wilson(0, n); iv.Lo != 0 {
			t.Fatalf("Wilson(0, %d).Lo = %v, want exactly 0", n, iv.Lo)
		}
		if iv := Wilson(n, n); iv.Hi != 1 {
			t.Fatalf("Wilson(%d, %d).Hi = %v, want exactly 1", n, n, iv.Hi)
		}
		for k := 0; k <= n; k++ {
			iv, p := Wilson(k, n), float64(k)/float64(n)
			if !(0 <= iv.Lo && iv.Lo <= p && p <= iv.Hi && iv.Hi <= 1) {
				t.Fatalf("Wilson(%d, %d) = %+v does not contain %v within [0, 1]", k, n, iv, p)
			}
		}
	}
}

func TestPercentile(t *testing.T) {
	ten := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for p, want := range map[float64]int{0: 1, 1: 1, 10: 1, 11: 2, 50: 5, 51: 6, 90: 9, 99: 10, 100: 10} {
		if got := Percentile(ten, p); got != want {
			t.Errorf("Percentile(1..10, %v) = %d, want %d", p, got, want)
		}
	}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	if got := Percentile(hundred, 99); got != 99*time.Millisecond {
		t.Errorf("p99 of 1..100 ms = %v, want 99ms (nearest rank)", got)
	}
	if got := Percentile(hundred, 50); got != 50*time.Millisecond {
		t.Errorf("p50 of 1..100 ms = %v, want 50ms", got)
	}
	if got := Percentile([]float64{7}, 99); got != 7 {
		t.Errorf("one value: %v", got)
	}
	if got := Percentile([]float64(nil), 50); got != 0 {
		t.Errorf("no values: %v", got)
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		v    []int
		want float64
	}{{nil, 0}, {[]int{5}, 5}, {[]int{3, 1, 2}, 2}, {[]int{4, 1, 3, 2}, 2.5}} {
		if got := median(c.v); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.v, got, c.want)
		}
	}
}

func TestNiceTicks(t *testing.T) {
	ticks, step := niceTicks(-0.93, 1.07, 8)
	if step != 0.5 || ticks[0] != -0.5 || ticks[len(ticks)-1] != 1 {
		t.Fatalf("niceTicks(-0.93, 1.07) = %v step %v", ticks, step)
	}
	if got := tickLabel(-1e-17, 0.5); got != "0.0" {
		t.Fatalf("tickLabel near zero = %q", got)
	}
	if ticks, step := niceTicks(0, 519, 10); step != 100 || len(ticks) != 6 {
		t.Fatalf("niceTicks(0, 519) = %v step %v", ticks, step)
	}
}
