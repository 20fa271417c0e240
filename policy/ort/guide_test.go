package ort

import (
	"context"
	"math"
	"testing"

	"github.com/efferent/efferent"
)

// guideFrom makes a guide of the first steps rows of c, delay frozen.
func guideFrom(rows [][]float64, delay int) efferent.ActionGuide {
	g := efferent.ActionGuide{Steps: len(rows), D: len(rows[0]), Delay: delay}
	for _, r := range rows {
		g.Actions = append(g.Actions, r...)
	}
	return g
}

// TestGuidedGolden: efferent-flow sampled with a guide reproduces
// PyTorch's guided sampling (the same rule, written independently in
// train.py), and the guide pulls the frozen steps onto it.
func TestGuidedGolden(t *testing.T) {
	if testing.Short() {
		t.Skip("ONNX Runtime")
	}
	c, m, g := openFixture(t, "efferent-flow")
	if len(g.Guided) == 0 {
		t.Fatal("efferent-flow's golden.json has no guided case")
	}
	if !c.Metadata().Guides {
		t.Fatal("a flow model with a step graph does not say it guides")
	}
	D := m.Action.Dim
	for _, gc := range g.Guided {
		obs := goldenObservation(t, m, g.Cases[gc.Case])
		obs.Guide = guideFrom(gc.Guide, gc.Delay)
		var out efferent.Chunk
		if err := c.Infer(context.Background(), obs, &out); err != nil {
			t.Fatal(err)
		}
		for h, row := range gc.Actions {
			for d, want := range row {
				if got := out.Actions[h*D+d]; !within(g, got, want) {
					t.Fatalf("guided case %d: action %d dim %d = %.6f, PyTorch %.6f", gc.Case, h, d, got, want)
				}
			}
		}
		// Unguided, the same observation answers its golden case.
		obs.Guide = efferent.ActionGuide{}
		if err := c.Infer(context.Background(), obs, &out); err != nil {
			t.Fatal(err)
		}
		free := g.Cases[gc.Case].Actions
		var errFree, errGuided float64
		for h := range gc.Delay {
			for d := range 3 {
				errFree = max(errFree, math.Abs(free[h][d]-gc.Guide[h][d]))
				errGuided = max(errGuided, math.Abs(gc.Actions[h][d]-gc.Guide[h][d]))
			}
		}
		if !(errGuided < errFree/3) {
			t.Fatalf("frozen steps: %.4f from the guide guided, %.4f unguided: the guide does not pull", errGuided, errFree)
		}
		t.Logf("frozen steps' x/y/z distance to the guide: %.4f unguided, %.4f guided", errFree, errGuided)
	}
}

// TestGuideRobustness: a guide of the wrong width is ignored (the chunk
// is the unguided one, bit for bit), a guide with NaN rows guides by the
// finite rows only, and guided sampling allocates nothing.
func TestGuideRobustness(t *testing.T) {
	if testing.Short() {
		t.Skip("ONNX Runtime")
	}
	c, m, g := openFixture(t, "efferent-pi0-fixture")
	obs := goldenObservation(t, m, g.Cases[0])
	ctx := context.Background()
	var free, out efferent.Chunk
	if err := c.Infer(ctx, obs, &free); err != nil {
		t.Fatal(err)
	}
	rows := make([][]float64, 20)
	for i := range rows {
		rows[i] = make([]float64, m.Action.Dim+1)
	}
	obs.Guide = guideFrom(rows, 3)
	if err := c.Infer(ctx, obs, &out); err != nil {
		t.Fatal(err)
	}
	for i, v := range out.Actions {
		if v != free.Actions[i] {
			t.Fatalf("a guide of %d dims for a %d-dim model changed value %d", m.Action.Dim+1, m.Action.Dim, i)
		}
	}
	for i := range rows {
		rows[i] = rows[i][:m.Action.Dim]
	}
	rows[1][0] = math.NaN()
	obs.Guide = guideFrom(rows, 3)
	if err := c.Infer(ctx, obs, &out); err != nil {
		t.Fatal(err)
	}
	for i, v := range out.Actions {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatalf("a NaN in the guide reached action value %d", i)
		}
	}
	if math.Abs(out.Actions[0]) >= math.Abs(free.Actions[0]) {
		t.Fatalf("guided towards 0, frozen action 0 moved from %g to %g", free.Actions[0], out.Actions[0])
	}
	if a := testing.AllocsPerRun(5, func() { _ = c.Infer(ctx, obs, &out) }); a != 0 {
		t.Fatalf("guided Infer allocates %v times", a)
	}
}

// TestFlowNoiseScale: at noise scale 0 every chunk starts from the origin,
// so the observation's seq (its noise seed) no longer changes the chunk;
// at the default 1 it does.
func TestFlowNoiseScale(t *testing.T) {
	if testing.Short() {
		t.Skip("ONNX Runtime")
	}
	m, g := loadDir(t, "efferent-flow")
	for _, scale := range []float64{1, 0} {
		mm := *m
		f := *m.Flow
		f.NoiseScale = &scale
		mm.Flow = &f
		c, err := OpenContinuous(&mm, Conf{IntraOpThreads: 1})
		if err != nil {
			t.Fatal(err)
		}
		obs := goldenObservation(t, &mm, g.Cases[0])
		var a, b efferent.Chunk
		obs.Seq = 1
		if err := c.Infer(context.Background(), obs, &a); err != nil {
			t.Fatal(err)
		}
		obs.Seq = 2
		if err := c.Infer(context.Background(), obs, &b); err != nil {
			t.Fatal(err)
		}
		c.Close()
		same := true
		for i := range a.Actions {
			same = same && a.Actions[i] == b.Actions[i]
		}
		if same != (scale == 0) {
			t.Fatalf("noise scale %v: chunks for seqs 1 and 2 the same: %v", scale, same)
		}
	}
}
