package policy_test

import (
	"errors"
	"io/fs"
	"math"
	"strings"
	"testing"
	"testing/fstest"

	"gopkg.in/yaml.v3"

	"github.com/efferent/efferent/models"
	"github.com/efferent/efferent/policy"
)

// fixtureManifest returns the bundled model's manifest bytes and its
// directory.
func fixtureManifest(t *testing.T) ([]byte, fs.FS) {
	t.Helper()
	dir, err := models.Embedded(models.Fixture)
	if err != nil {
		t.Fatal(err)
	}
	data, err := fs.ReadFile(dir, policy.ManifestFile)
	if err != nil {
		t.Fatal(err)
	}
	return data, dir
}

// deleteKey marks a key for removal in mutate.
type deleteKey struct{}

// mutate sets (or deletes) the value at a dotted path such as
// "decoder.layers" or "observation.images.1.key" in manifest YAML.
func mutate(t *testing.T, data []byte, at string, v any) []byte {
	t.Helper()
	var root map[string]any
	if err := yaml.Unmarshal(data, &root); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(at, ".")
	var cur any = root
	for i, p := range parts {
		last := i == len(parts)-1
		switch c := cur.(type) {
		case map[string]any:
			if last {
				if _, del := v.(deleteKey); del {
					delete(c, p)
				} else {
					c[p] = v
				}
				break
			}
			cur = c[p]
		case []any:
			var idx int
			for _, ch := range p {
				idx = idx*10 + int(ch-'0')
			}
			if last {
				c[idx] = v
				break
			}
			cur = c[idx]
		default:
			t.Fatalf("path %s: %T at %q", at, cur, p)
		}
	}
	out, err := yaml.Marshal(root)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestParseFixtureManifest(t *testing.T) {
	data, dir := fixtureManifest(t)
	m, err := policy.ParseManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	md := m.Metadata()
	if md.Horizon != 5 || md.Dim != 7 || md.StateDim != 8 || len(md.ImageKeys) != 2 || md.Weights != "random" {
		t.Fatalf("metadata %+v does not describe the fixture", md)
	}
	if md.StepPeriod.Milliseconds() != 50 {
		t.Fatalf("step period %v, want 50ms at 20 Hz", md.StepPeriod)
	}
	if md.MaxLagSteps != 0 {
		t.Fatalf("max lag %v, want 0: the fixture declares none", md.MaxLagSteps)
	}
	if m, err := policy.ParseManifest(mutate(t, data, "action.max_lag_steps", 2.5)); err != nil || m.Metadata().MaxLagSteps != 2.5 {
		t.Fatalf("action.max_lag_steps 2.5: %v", err)
	}
	if _, err := policy.LoadManifest(dir, "embedded:fixture"); err != nil {
		t.Fatal(err)
	}
}

// Each bad manifest must fail with ErrManifest and name the field, so a
// lab exporting its own model knows what to fix.
func TestManifestErrorsNameTheField(t *testing.T) {
	base, _ := fixtureManifest(t)
	cases := []struct {
		at    string
		v     any
		field string
	}{
		{"format", "efferent-model/2", "format"},
		{"name", deleteKey{}, "name"},
		{"weights", "pretrained", "weights"},
		{"observation.images", []any{}, "observation.images"},
		{"observation.images.1.key", "observation/image", "observation.images[1].key"},
		{"observation.image_height", 0, "observation.image_height"},
		{"observation.image_width", 5000, "observation.image_width"},
		{"observation.resize", "crop", "observation.resize"},
		{"observation.center_crop", 1.5, "center_crop 1.5"},
		{"observation.rotate", 45, "rotate 45"},
		{"observation.color", "yuv", "color \"yuv\""},
		{"observation.interpolation", "lanczos", "interpolation \"lanczos\""},
		{"observation.state.dim", -1, "observation.state.dim"},
		{"text.max_tokens", 0, "text.max_tokens"},
		{"text.pad_id", 4096, "text.pad_id"},
		{"text.truncation", "middle", `text.truncation: is "middle", want right, left or refuse`},
		{"text.tokenizer", deleteKey{}, "text.tokenizer"},
		{"encoder.present_key", "present.key", "encoder.present_key"},
		{"decoder.past_value", "past.%d.%s", "decoder.past_value"},
		{"decoder.layers", 0, "decoder.layers"},
		{"decoder.start_token", 1024, "decoder.start_token"},
		{"action.dim", 0, "action.dim"},
		{"action.horizon", 2000, "action.horizon"},
		{"action.step_hz", 0, "action.step_hz"},
		{"action.max_lag_steps", -1, "action.max_lag_steps"},
		{"action.max_lag_steps", 6, "action.max_lag_steps"},
		{"action.normalization.q01", []any{0.0}, "action.normalization"},
		{"action.normalization.mask", []any{true}, "action.normalization.mask"},
		{"action.normalization.q99", []any{0.9, 0.85, 0.93, 0.12, 0.2, 0.25, -2.0}, "action.normalization.q99[6]"},
		{"action.normalization.q01", []any{math.NaN(), 0, 0, 0, 0, 0, 0}, "action.normalization"},
		{"action.tokenizer.kind", "fsq", "action.tokenizer.kind"},
		{"action.tokenizer.direction", "sideways", "action.tokenizer.direction"},
		{"action.tokenizer.token_base", 5000, "action.tokenizer.token_base"},
		{"action.tokenizer.codebook", deleteKey{}, "action.tokenizer.codebook"},
		{"action.tokenizer.latent_decoder", map[string]any{"file": "x.onnx"}, "action.tokenizer.latent_decoder"},
		{"decoder.bogus_field", 1, "decoder.bogus_field: unknown key"},
		{"observation.images.1.kye", "x", "observation.images[1].kye: unknown key; did you mean key?"},
		{"action.horizon", "long", "action.horizon: cannot unmarshal !!str `long` into int"},
	}
	for _, tc := range cases {
		t.Run(tc.at, func(t *testing.T) {
			data := mutate(t, base, tc.at, tc.v)
			_, err := policy.ParseManifest(data)
			if !errors.Is(err, policy.ErrManifest) {
				t.Fatalf("err = %v, want ErrManifest", err)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("error %q does not name %s", err, tc.field)
			}
		})
	}
}

func TestManifestBinsKind(t *testing.T) {
	base, _ := fixtureManifest(t)
	data := mutate(t, base, "action.tokenizer", map[string]any{"kind": "bins"})
	m, err := policy.ParseManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	if m.Action.Tokenizer.Bins != 256 {
		t.Fatalf("bins default %d, want 256", m.Action.Tokenizer.Bins)
	}
	data = mutate(t, base, "action.tokenizer", map[string]any{"kind": "bins", "codebook": "codebook.json"})
	if _, err := policy.ParseManifest(data); err == nil || !strings.Contains(err.Error(), "belong to kind vq") {
		t.Fatalf("bins with a codebook: %v", err)
	}
}

func TestLoadManifestFiles(t *testing.T) {
	base, dir := fixtureManifest(t)
	withManifest := func(data []byte, drop ...string) fstest.MapFS {
		m := fstest.MapFS{}
		_ = fs.WalkDir(dir, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			m[p] = &fstest.MapFile{Data: []byte("x")}
			return nil
		})
		m[policy.ManifestFile] = &fstest.MapFile{Data: data}
		for _, p := range drop {
			delete(m, p)
		}
		return m
	}
	cases := []struct {
		name  string
		fsys  fs.FS
		field string
	}{
		{"missing graph", withManifest(base, "decoder.onnx"), "decoder.file"},
		{"missing codebook", withManifest(base, "codebook.json"), "action.tokenizer.codebook"},
		{"path escapes", withManifest(mutate(t, base, "encoder.file", "../encoder.onnx")), "encoder.file"},
		{"no manifest", fstest.MapFS{}, "manifest.yaml"},
		{"huge manifest", fstest.MapFS{policy.ManifestFile: {Data: make([]byte, 2<<20)}}, "larger than"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := policy.LoadManifest(tc.fsys, "testdir")
			if !errors.Is(err, policy.ErrManifest) || !strings.Contains(err.Error(), tc.field) || !strings.Contains(err.Error(), "testdir") {
				t.Fatalf("err = %v, want ErrManifest naming testdir and %s", err, tc.field)
			}
		})
	}
}

func TestReadFileLimit(t *testing.T) {
	_, dir := fixtureManifest(t)
	base, _ := fs.ReadFile(dir, policy.ManifestFile)
	m, err := policy.ParseManifest(base)
	if err != nil {
		t.Fatal(err)
	}
	m.FS, m.Source = dir, "embedded:fixture"
	if _, err := m.ReadFile("codebook.json", 10); err == nil || !strings.Contains(err.Error(), "larger than 10 bytes") {
		t.Fatalf("limit not enforced: %v", err)
	}
	if data, err := m.ReadFile("codebook.json", 1<<20); err != nil || len(data) == 0 {
		t.Fatalf("read: %v", err)
	}
}

// A flow manifest's noise scale (the sampling temperature) defaults to 1,
// takes 0 … 1, and anything else is refused naming the key.
func TestFlowNoiseScale(t *testing.T) {
	dir, err := models.Embedded(models.Flow)
	if err != nil {
		t.Fatal(err)
	}
	base, err := fs.ReadFile(dir, policy.ManifestFile)
	if err != nil {
		t.Fatal(err)
	}
	m, err := policy.ParseManifest(base)
	if err != nil {
		t.Fatal(err)
	}
	if s := m.Flow.Noise(); s != 1 {
		t.Fatalf("default noise scale %v, want 1", s)
	}
	for _, v := range []float64{0, 0.5, 1} {
		m, err := policy.ParseManifest(mutate(t, base, "flow.noise_scale", v))
		if err != nil || m.Flow.Noise() != v {
			t.Fatalf("noise_scale %v: %v, %v", v, m, err)
		}
	}
	for _, v := range []float64{-0.1, 1.5, math.NaN()} {
		_, err := policy.ParseManifest(mutate(t, base, "flow.noise_scale", v))
		if !errors.Is(err, policy.ErrManifest) || !strings.Contains(err.Error(), "flow.noise_scale") {
			t.Fatalf("noise_scale %v: err %v, want one naming flow.noise_scale", v, err)
		}
	}
}
