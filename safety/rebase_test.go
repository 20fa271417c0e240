package safety

import (
	"math"
	"testing"
	"time"

	"github.com/efferent/efferent"
)

// Rebase moves a delta axis's integrated position (as when the robot did
// not execute every increment, or was moved under the gate) without
// changing what the gate emits; the position bound then acts where the
// robot is.
func TestMotionRebase(t *testing.T) {
	conf := MotionConf{Period: time.Millisecond, Axes: []Axis{
		{Kind: Delta, Min: 0.02, Max: 0.70, Velocity: 0.25, Acceleration: 2, Jerk: 100, Scale: 0.05},
		{Min: -1, Max: 1, Velocity: 1, Acceleration: 5},
	}, Initial: []float64{0.30, 0.5}}
	a, err := NewMotion(conf)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewMotion(conf)
	down := func(g *MotionGate) float64 {
		sp := &efferent.Setpoint{Values: []float64{-0.25 * 1e-3 / 0.05, 0.5}}
		g.Check(sp)
		return sp.Values[0]
	}
	for range 300 { // accelerate downward: 0.25 m/s is reached in 0.3 s
		down(a)
		down(b)
	}
	b.Rebase([]float64{0.10, math.NaN()}) // the robot is 0.1 m lower than the gate integrated; the absolute axis is untouched
	if p := b.Positions(nil); math.Abs(p[0]-0.10) > 1e-12 || p[1] != 0.5 {
		t.Fatalf("positions after Rebase %v, want [0.10 0.5]", p)
	}
	for i := range 50 {
		if va, vb := down(a), down(b); math.Abs(va-vb) > 1e-12 {
			t.Fatalf("tick %d after Rebase: emitted %v, without it %v: the output must not change", i, vb, va)
		}
	}
	// The floor now acts 0.2 m earlier for b: 0.15 m further down it stops
	// at 0.02, while a is still 0.08 m above it.
	for range 600 {
		down(a)
		down(b)
	}
	pa, pb := a.Positions(nil)[0], b.Positions(nil)[0]
	if pb < 0.02-1e-9 || pb > 0.021 || pa < 0.05 {
		t.Fatalf("after 0.6 s more: rebased at %.4f (want the floor 0.02), the other at %.4f", pb, pa)
	}
	// A position outside the bounds is taken at the bound.
	b.Rebase([]float64{-0.5})
	if p := b.Positions(nil)[0]; p != 0.02 {
		t.Fatalf("rebased below the floor: %v, want 0.02", p)
	}
}
