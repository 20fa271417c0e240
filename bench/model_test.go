package bench

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/calibration"
	"github.com/efferent/efferent/camera"
	"github.com/efferent/efferent/models"
	"github.com/efferent/efferent/policy"
	"github.com/efferent/efferent/tokenizer"
	"github.com/efferent/efferent/tokenizer/bins"
)

// fakeModel stands for the model under ONNX Runtime: a bins
// detokenizer of the manifest's chunk shape, and an Infer that checks
// the observation and reports a fixed split of 4 tokens.
type fakeModel struct {
	m      *policy.Manifest
	detok  tokenizer.Detokenizer
	closed *int
}

func (f *fakeModel) Infer(ctx context.Context, obs *efferent.Observation, out *efferent.Chunk) error {
	if len(obs.Images) != len(f.m.Obs.Images) || len(obs.State) != f.m.Obs.State.Dim || obs.Prompt == "" {
		return errors.New("observation does not fit the manifest")
	}
	for _, im := range obs.Images {
		if im.H != f.m.Obs.ImageHeight || im.W != f.m.Obs.ImageWidth || len(im.Pix) != im.H*im.W*3 {
			return errors.New("image does not fit the manifest")
		}
	}
	return nil
}

func (f *fakeModel) Metadata() policy.Metadata { return policy.Metadata{} }
func (f *fakeModel) Close() error              { *f.closed++; return nil }

func (f *fakeModel) Detokenizer() tokenizer.Detokenizer { return f.detok }

func (f *fakeModel) Timing(t *Timing) {
	t.Encoder, t.Total = time.Millisecond, 3*time.Millisecond
	t.Steps = t.Steps[:0]
	for range 4 {
		t.Steps = append(t.Steps, 500*time.Microsecond)
	}
}

func fakeOpener(t *testing.T, closed *int) Opener {
	return func(m *policy.Manifest, _ bool) (Model, error) {
		norm, err := tokenizer.NewNormalizer(make([]float64, m.Action.Dim), onesLike(m.Action.Dim), nil)
		if err != nil {
			t.Fatal(err)
		}
		d, err := bins.New(bins.Conf{VocabSize: 1000, Bins: 16, Dim: m.Action.Dim, Horizon: m.Action.Horizon, Norm: norm})
		if err != nil {
			t.Fatal(err)
		}
		return &fakeModel{m: m, detok: d, closed: closed}, nil
	}
}

// nonePerOp says whether a row's operations did not allocate. Allocs counts
// the whole process, so another goroutine's stray allocation during the run
// shows up as a fraction (CI once saw 7 in 1000 decodes); an operation that
// allocated would count at least one each. The decoders' own AllocsPerRun
// tests hold them to exactly zero.
func nonePerOp(r Row) bool { return r.Allocs < 0.5 }

func onesLike(n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = 1
	}
	return v
}

// Detok times the model's detokenizer (named after the manifest) and
// OpenVLA's bins, per chunk, and closes the model.
func TestDetok(t *testing.T) {
	var closed int
	rep, err := Detok(DetokConf{N: 1000, Open: fakeOpener(t, &closed)})
	if err != nil {
		t.Fatal(err)
	}
	m, err := models.Manifest(models.Default)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Name != "detok" || len(rep.Rows) != 2 || closed != 1 {
		t.Fatalf("%+v, closed %d", rep, closed)
	}
	if r := rep.Rows[0]; !strings.HasPrefix(r.Case, "vq "+m.Name+" (") || r.N != 1000 || r.P50 <= 0 || !strings.Contains(r.Verdict, "< 10 µs") {
		t.Fatalf("row %+v", r)
	}
	if r := rep.Rows[1]; r.Case != "bins 256 (OpenVLA, 7 tokens → 1x7)" || r.N != 1000 || !nonePerOp(r) {
		t.Fatalf("row %+v", r)
	}
	if _, err := Detok(DetokConf{}); err == nil {
		t.Fatal("no Open: want an error")
	}
	if _, err := Detok(DetokConf{Model: "no-such-model", Open: fakeOpener(t, &closed)}); err == nil {
		t.Fatal("unknown model: want an error")
	}
}

// Infer opens the model with and without the KV cache and reports the
// prefix, one token and the whole chunk of each, from the model's split.
func TestInfer(t *testing.T) {
	var closed int
	rep, err := Infer(context.Background(), InferConf{N: 5, Open: fakeOpener(t, &closed), Provider: "cpu", IntraOpThreads: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != 6 || closed != 2 || len(rep.Targets) != 1 || !strings.HasPrefix(rep.Targets[0], "provider cpu;") {
		t.Fatalf("%+v, closed %d", rep, closed)
	}
	for i, want := range []struct {
		suffix string
		n      int
		p50    float64
	}{
		{"kv cache: prefix (encoder)", 5, 1000}, {"kv cache: one action token", 20, 500}, {"kv cache: whole chunk (4 tokens)", 5, 3000},
		{"no kv cache: prefix (encoder)", 5, 1000}, {"no kv cache: one action token", 20, 500}, {"no kv cache: whole chunk (4 tokens)", 5, 3000},
	} {
		r := rep.Rows[i]
		if !strings.HasSuffix(r.Case, want.suffix) || (i < 3 && strings.Contains(r.Case, "no kv")) || r.N != want.n || r.P50 != want.p50 ||
			r.Extra["intra_op_threads"] != 3 {
			t.Fatalf("row %d: %+v, want %+v", i, r, want)
		}
	}
}

// fakePreprocessor copies the top-left corner of the frame.
type fakePreprocessor struct {
	spec      camera.Spec
	undistort int
	closed    *int
}

func (p *fakePreprocessor) Apply(src efferent.Image, dst *efferent.Image) error {
	h, w := p.spec.Height, p.spec.Width
	if cap(dst.Pix) < h*w*3 {
		dst.Pix = make([]byte, h*w*3)
	}
	*dst = efferent.Image{H: h, W: w, C: 3, Pix: dst.Pix[:h*w*3]}
	for y := range h {
		copy(dst.Pix[y*w*3:(y+1)*w*3], src.Pix[y*src.W*3:])
	}
	return nil
}

func (p *fakePreprocessor) SetUndistort(in calibration.Intrinsics) error {
	if in.Width != 640 || in.Height != 480 {
		return errors.New("intrinsics of another camera")
	}
	p.undistort++
	return nil
}

func (p *fakePreprocessor) Close() { *p.closed++ }

// Preprocess times both cases on their preprocessor, the second one
// undistorting, and closes each.
func TestPreprocess(t *testing.T) {
	var closed int
	var made []*fakePreprocessor
	rep, err := Preprocess(PreprocessConf{N: 20, New: func(s camera.Spec) (Preprocessor, error) {
		p := &fakePreprocessor{spec: s, closed: &closed}
		made = append(made, p)
		return p, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != 2 || len(made) != 2 || closed != 2 || made[0].undistort != 0 || made[1].undistort != 1 || made[1].spec.Color != "bgr" {
		t.Fatalf("%+v; %d made, %d closed", rep, len(made), closed)
	}
	for _, r := range rep.Rows {
		if r.N != 20 || !nonePerOp(r) || !strings.Contains(r.Verdict, "< 1 ms") {
			t.Fatalf("row %+v", r)
		}
	}
	if _, err := Preprocess(PreprocessConf{}); err == nil {
		t.Fatal("no New: want an error")
	}
}

// Preprocessors passes the concrete preprocessor on, and a nil one (not
// a typed nil) with the error.
func TestPreprocessors(t *testing.T) {
	var closed int
	newP := Preprocessors(func(s camera.Spec) (*fakePreprocessor, error) {
		if s.Height == 0 {
			return nil, errors.New("no size")
		}
		return &fakePreprocessor{spec: s, closed: &closed}, nil
	})
	if p, err := newP(camera.Spec{}); err == nil || p != nil {
		t.Fatalf("%v, %v: want the error and a nil Preprocessor", p, err)
	}
	p, err := newP(camera.Spec{Height: 2, Width: 2})
	if err != nil || p.(*fakePreprocessor).spec.Width != 2 {
		t.Fatalf("%v, %v", p, err)
	}
}
