package ort

import (
	"context"
	"errors"
	"io/fs"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

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

func open(t testing.TB, m *policy.Manifest) *VLA {
	t.Helper()
	v, err := Open(m, Conf{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

// TestGolden checks, for every shipped model, that the Go tokenizer, ONNX
// Runtime with the KV-cached constrained decoding loop, the VQ detokenizer
// (with the fixture's ONNX latent decoder) and the un-normalisation
// reproduce PyTorch's outputs.
func TestGolden(t *testing.T) {
	for _, name := range models.Names() {
		t.Run(name, func(t *testing.T) { testGolden(t, name) })
	}
}

func testGolden(t *testing.T, name string) {
	m, g := embedded(t, name)
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
		{"empty prompt", func(o *efferent.Observation) { o.Prompt = "" }, "prompt \"prompt\" is required"},
		{"long prompt", func(o *efferent.Observation) { o.Prompt = strings.Repeat("red ", 40) }, "model accepts at most 32"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obs := good
			obs.Images = maps.Clone(good.Images)
			tc.mutate(&obs)
			var ch efferent.Chunk
			err := v.Infer(context.Background(), &obs, &ch)
			if !errors.Is(err, ErrObservation) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrObservation containing %q", err, tc.want)
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
		{"wrong prefix length", "prefix_len: 65", "prefix_len: 64", `"prefix_mask" has shape [1 65], manifest implies [1, 64]`},
		{"wrong heads", "heads: 2", "heads: 4", `has shape`},
		{"wrong vocab", "vocab_size: 1024", "vocab_size: 2048", `"logits" has shape`},
		{"wrong state dim", "dim: 8}", "dim: 9}", `"state" has shape [1 8]`},
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

// TestProviderUnavailable: the npm library is CPU-only, so asking for CUDA
// must fail with a clear error, never silently fall back to the CPU.
func TestProviderUnavailable(t *testing.T) {
	m, _ := fixture(t)
	for _, p := range []string{"cuda", "tensorrt"} {
		v, err := Open(m, Conf{Provider: p})
		if err == nil {
			v.Close()
			t.Skipf("this ONNX Runtime library has %s; nothing to test", p)
		}
		if !errors.Is(err, ErrProvider) || !strings.Contains(err.Error(), "ort.library") {
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
