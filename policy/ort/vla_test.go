package ort

import (
	"context"
	"errors"
	"io/fs"
	"maps"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/internal/golden"
	"github.com/efferent/efferent/models"
	"github.com/efferent/efferent/policy"
)

func fixture(t testing.TB) (*policy.Manifest, *golden.File) {
	t.Helper()
	return embedded(t, models.Fixture)
}

// embedded loads an embedded model's manifest and golden outputs.
func embedded(t testing.TB, name string) (*policy.Manifest, *golden.File) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration: needs the ONNX Runtime library (make setup)")
	}
	fsys, err := models.Embedded(name)
	if err != nil {
		t.Fatal(err)
	}
	m, err := policy.LoadManifest(fsys, "embedded:"+name)
	if err != nil {
		t.Fatal(err)
	}
	g, err := golden.Load(fsys, m.Golden)
	if err != nil {
		t.Fatal(err)
	}
	return m, g
}

// testConf is the tests' configuration: one intra-op thread, on the
// provider $EFFERENT_TEST_PROVIDER names (scripts/gpu-check.sh runs the
// golden tests on cuda and tensorrt; default the CPU).
func testConf() Conf {
	return Conf{IntraOpThreads: 1, Provider: os.Getenv("EFFERENT_TEST_PROVIDER")}
}

func open(t testing.TB, m *policy.Manifest) *VLA {
	t.Helper()
	v, err := Open(m, testConf())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

// tokenModels are the embedded models of the autoregressive layout, which
// the VLA tests here cover (efferent-flow is tested with the other flow
// models, continuous_test.go).
func tokenModels(t testing.TB) []string {
	t.Helper()
	var names []string
	for _, name := range models.Names() {
		m, err := models.Manifest(name)
		if err != nil {
			t.Fatal(err)
		}
		if m.LayoutName() == policy.LayoutAutoregressive {
			names = append(names, name)
		}
	}
	return names
}

// dirTokenModels are the trained models of the autoregressive layout that
// ship as directories only (not embedded in the binary).
var dirTokenModels = []string{"efferent-long"}

// TestGolden checks, for every shipped model (embedded, and the trained
// ones shipped as directories), that the Go tokenizer, ONNX Runtime with
// the KV-cached constrained decoding loop, the VQ detokenizer (with the
// fixture's ONNX latent decoder) and the un-normalisation reproduce
// PyTorch's outputs.
func TestGolden(t *testing.T) {
	for _, name := range tokenModels(t) {
		t.Run(name, func(t *testing.T) { testGolden(t, name, embedded) })
	}
	for _, name := range dirTokenModels {
		t.Run(name, func(t *testing.T) {
			if testing.Short() {
				t.Skip("integration: needs the ONNX Runtime library (make setup)")
			}
			testGolden(t, name, loadDir)
		})
	}
}

func testGolden(t *testing.T, name string, load func(testing.TB, string) (*policy.Manifest, *golden.File)) {
	m, g := load(t, name)
	v := open(t, m)
	for _, c := range g.Cases {
		t.Run(c.Prompt, func(t *testing.T) {
			ids, err := v.tok.Encode(c.Prompt, m.Text.AddSpecial)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids, c.PromptIDs) {
				t.Fatalf("prompt ids %v, PyTorch build script made %v", ids, c.PromptIDs)
			}
			obs, err := c.Observation(m.Obs.ImageHeight, m.Obs.ImageWidth)
			if err != nil {
				t.Fatal(err)
			}
			obs.Seq = 7
			var ch efferent.Chunk
			if err := v.Infer(context.Background(), &obs, &ch); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ch.Tokens, c.Tokens) {
				t.Fatalf("tokens %v, PyTorch %v", ch.Tokens, c.Tokens)
			}
			want := c.FlatActions()
			if ch.H != len(c.Actions) || ch.D != len(c.Actions[0]) || len(ch.Actions) != len(want) {
				t.Fatalf("chunk %dx%d (%d values), want %dx%d", ch.H, ch.D, len(ch.Actions), len(c.Actions), len(c.Actions[0]))
			}
			worst := 0.0
			for i := range want {
				worst = max(worst, math.Abs(ch.Actions[i]-want[i]))
			}
			if worst > g.Tolerance.ActionsAbs {
				t.Fatalf("max |ORT - PyTorch| = %g > %g\n got %v\nwant %v", worst, g.Tolerance.ActionsAbs, ch.Actions, want)
			}
			t.Logf("max |ORT - PyTorch| = %.2g over %d actions", worst, len(want))
			if ch.Seq != 7 || ch.Model != m.Name || ch.StepPeriod != m.Action.StepPeriod() {
				t.Fatalf("chunk metadata: seq %d model %q period %v", ch.Seq, ch.Model, ch.StepPeriod)
			}
		})
	}
}

// TestInferIsRepeatable runs the cases interleaved: reused tensors and the
// KV cache must carry nothing from one call into the next.
func TestInferIsRepeatable(t *testing.T) {
	m, g := fixture(t)
	v := open(t, m)
	var ch efferent.Chunk
	for round := 0; round < 3; round++ {
		for _, c := range g.Cases {
			obs, _ := c.Observation(m.Obs.ImageHeight, m.Obs.ImageWidth)
			if err := v.Infer(context.Background(), &obs, &ch); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ch.Tokens, c.Tokens) {
				t.Fatalf("round %d %q: tokens %v, want %v", round, c.Prompt, ch.Tokens, c.Tokens)
			}
		}
	}
}

func TestBadObservations(t *testing.T) {
	m, g := fixture(t)
	v := open(t, m)
	good, _ := g.Cases[0].Observation(m.Obs.ImageHeight, m.Obs.ImageWidth)
	cases := []struct {
		name   string
		mutate func(o *efferent.Observation)
		want   string
	}{
		{"missing camera", func(o *efferent.Observation) { delete(o.Images, "observation/wrist_image") }, `"observation/wrist_image" missing`},
		{"wrong size", func(o *efferent.Observation) {
			o.Images["observation/image"] = efferent.Image{H: 10, W: 10, C: 3, Pix: make([]byte, 300)}
		}, "is 10x10x3, model needs 224x224x3"},
		{"short pixels", func(o *efferent.Observation) {
			o.Images["observation/image"] = efferent.Image{H: 224, W: 224, C: 3, Pix: make([]byte, 10)}
		}, "needs 150528 bytes"},
		{"state length", func(o *efferent.Observation) { o.State = o.State[:7] }, "has 7 values, model needs 8"},
		{"NaN state", func(o *efferent.Observation) { o.State = slices.Clone(o.State); o.State[3] = math.NaN() }, `"observation/state"[3] is NaN`},
		{"huge state", func(o *efferent.Observation) { o.State = slices.Clone(o.State); o.State[0] = 1e30 }, `"observation/state"[0] is 1e+30, beyond ±1e+06`},
		{"empty prompt", func(o *efferent.Observation) { o.Prompt = "" }, "prompt \"prompt\" is required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obs := good
			obs.Images = maps.Clone(good.Images)
			tc.mutate(&obs)
			var ch efferent.Chunk
			err := v.Infer(context.Background(), &obs, &ch)
			if !errors.Is(err, ErrObservation) || !errors.Is(err, policy.ErrBadObservation) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrObservation (policy.ErrBadObservation) containing %q", err, tc.want)
			}
		})
	}
	// The model still works after refusing bad input.
	var ch efferent.Chunk
	if err := v.Infer(context.Background(), &good, &ch); err != nil || !slices.Equal(ch.Tokens, g.Cases[0].Tokens) {
		t.Fatalf("after errors: %v, tokens %v", err, ch.Tokens)
	}
}

func TestCancelledContext(t *testing.T) {
	m, g := fixture(t)
	v := open(t, m)
	obs, _ := g.Cases[0].Observation(m.Obs.ImageHeight, m.Obs.ImageWidth)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var ch efferent.Chunk
	if err := v.Infer(ctx, &obs, &ch); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// overlay returns the embedded fixture with manifest.yaml edited.
func overlay(t *testing.T, edit func(string) string) *policy.Manifest {
	t.Helper()
	src, err := models.Embedded("efferent-fixture")
	if err != nil {
		t.Fatal(err)
	}
	mfs := fstest.MapFS{}
	err = fs.WalkDir(src, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(src, p)
		if p == policy.ManifestFile {
			data = []byte(edit(string(data)))
		}
		mfs[p] = &fstest.MapFile{Data: data}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err := policy.LoadManifest(mfs, "overlay")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestManifestGraphMismatch: a manifest that disagrees with its graphs is
// refused at load time with an error naming the tensor.
func TestManifestGraphMismatch(t *testing.T) {
	fixture(t)
	cases := []struct{ name, old, new, want string }{
		{"unknown input", "input: image_0", "input: image_9", `no input named "image_9"`},
		{"wrong prefix length", "prefix_len: 65", "prefix_len: 64", `"prefix_mask" has shape [-1 65], manifest implies [?, 64]`},
		{"wrong heads", "heads: 2", "heads: 4", `has shape`},
		{"wrong vocab", "vocab_size: 1024", "vocab_size: 2048", `"logits" has shape`},
		{"wrong state dim", "dim: 8}", "dim: 9}", `"state" has shape [-1 8], manifest implies [?, 9]`},
		{"wrong latent output", "output: chunk", "output: actions", `no output named "actions"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := overlay(t, func(s string) string {
				if !strings.Contains(s, tc.old) {
					t.Fatalf("manifest has no %q", tc.old)
				}
				return strings.Replace(s, tc.old, tc.new, 1)
			})
			v, err := Open(m, Conf{IntraOpThreads: 1})
			if err == nil {
				v.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestProviderUnavailable: this machine has no GPU, so asking for CUDA or
// TensorRT must fail with a clear error, never silently fall back to the
// CPU.
func TestProviderUnavailable(t *testing.T) {
	m, _ := fixture(t)
	for _, p := range []string{"cuda", "tensorrt"} {
		v, err := Open(m, Conf{Provider: p})
		if err == nil {
			v.Close()
			t.Skipf("this ONNX Runtime library has %s; nothing to test", p)
		}
		// A hint to set ort.library, or (GPU libraries installed on a
		// machine without CUDA) the missing libraries named.
		if !errors.Is(err, ErrProvider) || !strings.Contains(err.Error(), "ort.library") && !errors.Is(err, ErrProviderLibrary) {
			t.Fatalf("%s: err = %v, want ErrProvider with a hint", p, err)
		}
	}
}

func TestLibraryNotFound(t *testing.T) {
	_, err := FindLibrary("/nonexistent/libonnxruntime.so")
	if !errors.Is(err, ErrLibrary) || !strings.Contains(err.Error(), "make setup") {
		t.Fatalf("err = %v", err)
	}
}

// batchRows builds n observations cycling through the golden cases, and
// what Infer answers for each alone.
func batchRows(t *testing.T, v *VLA, g *golden.File, n int) ([]*efferent.Observation, []efferent.Chunk) {
	t.Helper()
	m := v.Manifest()
	obs := make([]*efferent.Observation, n)
	want := make([]efferent.Chunk, n)
	for i := range obs {
		o, err := g.Cases[i%len(g.Cases)].Observation(m.Obs.ImageHeight, m.Obs.ImageWidth)
		if err != nil {
			t.Fatal(err)
		}
		o.Seq = uint64(100 + i)
		obs[i] = &o
		if err := v.Infer(context.Background(), obs[i], &want[i]); err != nil {
			t.Fatal(err)
		}
	}
	return obs, want
}

// TestInferBatchMatchesInfer: every row of a batch answers what Infer
// answers for that observation alone (same tokens, actions within the
// golden tolerance), at every batch size up to past MaxBatch (which runs
// in groups), for every shipped model.
func TestInferBatchMatchesInfer(t *testing.T) {
	for _, name := range tokenModels(t) {
		t.Run(name, func(t *testing.T) {
			m, g := embedded(t, name)
			v := open(t, m)
			if v.MaxBatch() != maxBatchLimit {
				t.Fatalf("MaxBatch = %d, want %d: the shipped graphs have a symbolic batch axis", v.MaxBatch(), maxBatchLimit)
			}
			obs, want := batchRows(t, v, g, maxBatchLimit+3)
			for _, n := range []int{1, 2, 3, 8, 16, maxBatchLimit + 3} {
				out := make([]*efferent.Chunk, n)
				for i := range out {
					out[i] = &efferent.Chunk{}
				}
				errs := make([]error, n)
				v.InferBatch(context.Background(), obs[:n], out, errs)
				for i := range n {
					if errs[i] != nil {
						t.Fatalf("batch %d row %d: %v", n, i, errs[i])
					}
					if !slices.Equal(out[i].Tokens, want[i].Tokens) || out[i].Seq != want[i].Seq {
						t.Fatalf("batch %d row %d: tokens %v seq %d, alone %v seq %d", n, i, out[i].Tokens, out[i].Seq, want[i].Tokens, want[i].Seq)
					}
					for k := range want[i].Actions {
						if d := math.Abs(out[i].Actions[k] - want[i].Actions[k]); d > g.Tolerance.ActionsAbs {
							t.Fatalf("batch %d row %d action %d: |batched - alone| = %g", n, i, k, d)
						}
					}
				}
			}
		})
	}
}

// TestInferBatchBadRow: a row that does not fit gets its own error; the
// rows around it are answered as if it were not there, and the next batch
// is unaffected.
func TestInferBatchBadRow(t *testing.T) {
	m, g := fixture(t)
	v := open(t, m)
	obs, want := batchRows(t, v, g, 4)
	bad := *obs[1]
	bad.State = []float64{1, 2}
	obs[1] = &bad
	out := []*efferent.Chunk{{}, {}, {}, {}}
	errs := make([]error, 4)
	v.InferBatch(context.Background(), obs, out, errs)
	if !errors.Is(errs[1], ErrObservation) || !strings.Contains(errs[1].Error(), "has 2 values") {
		t.Fatalf("bad row: err = %v", errs[1])
	}
	for _, i := range []int{0, 2, 3} {
		if errs[i] != nil || !slices.Equal(out[i].Tokens, want[i].Tokens) {
			t.Fatalf("row %d: err %v tokens %v, want %v", i, errs[i], out[i].Tokens, want[i].Tokens)
		}
	}
	// All bad: nothing runs, every row says why.
	v.InferBatch(context.Background(), []*efferent.Observation{&bad, &bad}, out[:2], errs[:2])
	if errs[0] == nil || errs[1] == nil {
		t.Fatalf("all-bad batch: errs %v", errs[:2])
	}
	// Mismatched slices are reported on every row, not a panic.
	v.InferBatch(context.Background(), obs[:2], out[:1], errs[:2])
	if errs[0] == nil || errs[1] == nil || !strings.Contains(errs[0].Error(), "batch of 2 observations, 1 chunks") {
		t.Fatalf("mismatched batch: errs %v", errs[:2])
	}
}

// TestInferBatchAllocations: once a batch size has run, running it again
// allocates nothing (tensors and bindings are reused; a row's repeated
// instruction is not re-tokenized).
func TestInferBatchAllocations(t *testing.T) {
	m, g := fixture(t)
	v := open(t, m)
	obs, _ := batchRows(t, v, g, 8)
	out := make([]*efferent.Chunk, len(obs))
	for i := range out {
		out[i] = &efferent.Chunk{}
	}
	errs := make([]error, len(obs))
	ctx := context.Background()
	v.InferBatch(ctx, obs, out, errs) // makes batch size 8's tensors
	single := testing.AllocsPerRun(20, func() { _ = v.Infer(ctx, obs[0], out[0]) })
	batched := testing.AllocsPerRun(20, func() { v.InferBatch(ctx, obs, out, errs) })
	t.Logf("allocations: Infer %.0f, InferBatch of 8 %.0f", single, batched)
	if batched != 0 || single != 0 {
		t.Fatalf("InferBatch of 8 allocates %.0f times, Infer %.0f; want 0", batched, single)
	}
}

// TestBatchAxis: graphs with a symbolic first axis batch; a fixed batch of
// one runs one row at a time; any other fixed batch is refused.
func TestBatchAxis(t *testing.T) {
	info := func(d0 int64) onnx.InputOutputInfo { return onnx.InputOutputInfo{Dimensions: onnx.NewShape(d0, 4)} }
	specs := []tensorSpec{{name: "x"}}
	out := []tensorSpec{{name: "y"}}
	for _, tc := range []struct {
		in, out int64
		dyn     bool
		err     string
	}{{-1, -1, true, ""}, {1, 1, false, ""}, {-1, 1, false, ""}, {4, -1, false, "fixed batch of 4"}} {
		g := &graph{file: "g.onnx", inputs: map[string]onnx.InputOutputInfo{"x": info(tc.in)}, outputs: map[string]onnx.InputOutputInfo{"y": info(tc.out)}}
		dyn, err := batchAxis(g, specs, out)
		if dyn != tc.dyn || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("in %d out %d: dynamic %v err %v; want %v %q", tc.in, tc.out, dyn, err, tc.dyn, tc.err)
		}
	}
}
