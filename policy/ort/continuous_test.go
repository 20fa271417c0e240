package ort

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/internal/golden"
	"github.com/efferent/efferent/policy"
)

// continuousFixtures are the flow and regression fixtures (models/), each
// shaped like a real model family, with golden outputs from PyTorch.
var continuousFixtures = []string{"efferent-pi0-fixture", "efferent-pi0-loop-fixture", "efferent-oft-fixture", "efferent-flow"}

// extraModels are model directories besides the fixtures, from
// $EFFERENT_TEST_EXTRA_MODELS (absolute paths, space-separated), for the
// continuous golden test: scripts/gpu-check.sh checks the 1e9-parameter
// model it generates this way.
func extraModels() []string { return strings.Fields(os.Getenv("EFFERENT_TEST_EXTRA_MODELS")) }

// loadDir loads a model directory's manifest and golden outputs: a
// fixture's name under models/, or an absolute path.
func loadDir(t testing.TB, name string) (*policy.Manifest, *golden.File) {
	t.Helper()
	dir := filepath.Join("..", "..", "models", name)
	if filepath.IsAbs(name) {
		dir = name
	}
	if _, err := os.Stat(filepath.Join(dir, policy.ManifestFile)); err != nil {
		t.Fatalf("fixture %s: %v (build it with /usr/bin/python3 models/%s/build.py)", name, err, name)
	}
	m, err := policy.LoadManifest(os.DirFS(dir), dir)
	if err != nil {
		t.Fatal(err)
	}
	g, err := golden.Load(os.DirFS(dir), m.Golden)
	if err != nil {
		t.Fatal(err)
	}
	return m, g
}

// openFixture opens a continuous fixture on one thread, closed when the
// test ends, with its manifest and golden outputs.
func openFixture(t testing.TB, name string) (*Continuous, *policy.Manifest, *golden.File) {
	t.Helper()
	m, g := loadDir(t, name)
	c, err := OpenContinuous(m, testConf())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, m, g
}

// goldenObservation rebuilds a golden case's observation at each
// camera's own size.
func goldenObservation(t testing.TB, m *policy.Manifest, c golden.Case) *efferent.Observation {
	t.Helper()
	obs := &efferent.Observation{Images: map[string]efferent.Image{}, State: c.State, Prompt: c.Prompt, Seq: c.Seq}
	for i, im := range m.Obs.Images {
		h, w := m.CameraSize(i)
		pix, err := golden.Pattern(c.Images[im.Key], h, w)
		if err != nil {
			t.Fatal(err)
		}
		obs.Images[im.Key] = pix
	}
	return obs
}

// close reports whether got is within the golden tolerance of want.
func within(g *golden.File, got, want float64) bool {
	return math.Abs(got-want) <= g.Tolerance.ActionsAbs+g.Tolerance.ActionsRel*math.Abs(want)
}

// Each flow and regression fixture reproduces PyTorch under ONNX Runtime:
// the noise from its seed, the graph's raw output, and the robot's
// unnormalised actions.
func TestContinuousGolden(t *testing.T) {
	if testing.Short() {
		t.Skip("ONNX Runtime")
	}
	for _, name := range append(continuousFixtures, extraModels()...) {
		t.Run(filepath.Base(name), func(t *testing.T) {
			c, m, g := openFixture(t, name)
			H, D, MD := m.Action.Horizon, m.Action.Dim, m.Action.ModelDimOrDim()
			noise := make([]float32, H*MD)
			for ci, gc := range g.Cases {
				if gc.Noise != nil {
					policy.FlowNoise(m.Flow.Seed+gc.Seq, noise)
					for h := range H {
						for d := range MD {
							if math.Abs(float64(noise[h*MD+d])-gc.Noise[h][d]) > 1e-6 {
								t.Fatalf("case %d: noise[%d][%d] = %v, python %v", ci, h, d, noise[h*MD+d], gc.Noise[h][d])
							}
						}
					}
				}
				var out efferent.Chunk
				if err := c.Infer(context.Background(), goldenObservation(t, m, gc), &out); err != nil {
					t.Fatalf("case %d: %v", ci, err)
				}
				if out.H != H || out.D != D {
					t.Fatalf("case %d: chunk %dx%d, want %dx%d", ci, out.H, out.D, H, D)
				}
				worst := 0.0
				for h := range H {
					for d := range D {
						got, want := out.Actions[h*D+d], gc.Actions[h][d]
						worst = max(worst, math.Abs(got-want))
						if !within(g, got, want) {
							t.Fatalf("case %d: action[%d][%d] = %v, torch %v (tolerance %v abs + %v rel)", ci, h, d, got, want, g.Tolerance.ActionsAbs, g.Tolerance.ActionsRel)
						}
					}
				}
				t.Logf("case %d: %dx%d actions within %.2g of torch", ci, H, D, worst)
			}
		})
	}
}

// One batched run answers each row as a run of its own would.
func TestContinuousBatchMatchesSingle(t *testing.T) {
	if testing.Short() {
		t.Skip("ONNX Runtime")
	}
	for _, name := range continuousFixtures {
		t.Run(name, func(t *testing.T) {
			c, m, g := openFixture(t, name)
			if c.MaxBatch() < 2 {
				t.Fatalf("MaxBatch %d: the fixture's graphs have a symbolic batch axis", c.MaxBatch())
			}
			n := len(g.Cases)
			obs, outs, errs := make([]*efferent.Observation, n), make([]*efferent.Chunk, n), make([]error, n)
			singles := make([]efferent.Chunk, n)
			for i, gc := range g.Cases {
				obs[i], outs[i] = goldenObservation(t, m, gc), &efferent.Chunk{}
				if err := c.Infer(context.Background(), obs[i], &singles[i]); err != nil {
					t.Fatal(err)
				}
			}
			c.InferBatch(context.Background(), obs, outs, errs)
			for i := range n {
				if errs[i] != nil {
					t.Fatalf("row %d: %v", i, errs[i])
				}
				for k, want := range singles[i].Actions {
					if got := outs[i].Actions[k]; math.Abs(got-want) > 1e-4+1e-3*math.Abs(want) {
						t.Fatalf("row %d value %d: batched %v, alone %v", i, k, got, want)
					}
				}
			}
		})
	}
}

// Steady-state inference allocates nothing, in every continuous layout.
func TestContinuousInferAllocatesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("ONNX Runtime")
	}
	for _, name := range continuousFixtures {
		t.Run(name, func(t *testing.T) {
			c, m, g := openFixture(t, name)
			obs := goldenObservation(t, m, g.Cases[0])
			var out efferent.Chunk
			ctx := context.Background()
			if err := c.Infer(ctx, obs, &out); err != nil {
				t.Fatal(err)
			}
			if a := testing.AllocsPerRun(5, func() {
				if err := c.Infer(ctx, obs, &out); err != nil {
					t.Fatal(err)
				}
			}); a != 0 {
				t.Fatalf("%v allocations per Infer", a)
			}
		})
	}
}

// The same observation and seed give the same chunk; another seq, other
// noise and another chunk.
func TestFlowNoiseIsSeeded(t *testing.T) {
	if testing.Short() {
		t.Skip("ONNX Runtime")
	}
	c, m, g := openFixture(t, "efferent-pi0-fixture")
	obs := goldenObservation(t, m, g.Cases[0])
	var a, b, d efferent.Chunk
	ctx := context.Background()
	if err := c.Infer(ctx, obs, &a); err != nil {
		t.Fatal(err)
	}
	if err := c.Infer(ctx, obs, &b); err != nil {
		t.Fatal(err)
	}
	obs.Seq++
	if err := c.Infer(ctx, obs, &d); err != nil {
		t.Fatal(err)
	}
	same, differ := true, false
	for i := range a.Actions {
		same = same && a.Actions[i] == b.Actions[i]
		differ = differ || a.Actions[i] != d.Actions[i]
	}
	if !same || !differ {
		t.Fatalf("same seed same chunk: %v; another seq another chunk: %v", same, differ)
	}
}
