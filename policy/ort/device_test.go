package ort

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/internal/golden"
	"github.com/efferent/efferent/models"
	"github.com/efferent/efferent/policy"
)

// TestCAPIIndices recomputes capi.go's OrtApi indices from the header
// onnxruntime_go bundles (the C API version efferent asks for), with the
// C compiler cgo uses.
func TestCAPIIndices(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/yalue/onnxruntime_go").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	dir := strings.TrimSpace(string(out))
	src, err := os.ReadFile("capi.go")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^\tef(\w+) = (\d+),$`).FindAllStringSubmatch(string(src), -1) {
		n, _ := strconv.Atoi(m[2])
		want[m[1]] = n
	}
	if len(want) < 15 {
		t.Fatalf("found %d indices in capi.go", len(want))
	}
	var c strings.Builder
	c.WriteString("#include <stdio.h>\n#include <stddef.h>\n#include \"onnxruntime_c_api.h\"\nint main(void){\n")
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range want {
			if !yield(k) {
				return
			}
		}
	})
	for _, n := range names {
		fmt.Fprintf(&c, "printf(\"%s %%zu\\n\", offsetof(OrtApi, %s)/sizeof(void*));\n", n, n)
	}
	c.WriteString("printf(\"version %d\\n\", ORT_API_VERSION); return 0;}\n")
	tmp := t.TempDir()
	if err := os.WriteFile(filepath.Join(tmp, "idx.c"), []byte(c.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "gcc"
	}
	if b, err := exec.Command(cc, "-I"+dir, "-o", filepath.Join(tmp, "idx"), filepath.Join(tmp, "idx.c")).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cc, err, b)
	}
	res, err := exec.Command(filepath.Join(tmp, "idx")).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(res)), "\n") {
		f := strings.Fields(line)
		got, _ := strconv.Atoi(f[1])
		if f[0] == "version" {
			if got != cAPIVersion {
				t.Errorf("header is API %d, cAPIVersion %d", got, cAPIVersion)
			}
			continue
		}
		if want[f[0]] != got {
			t.Errorf("ef%s = %d in capi.go, the header says %d", f[0], want[f[0]], got)
		}
	}
}

// TestEPDevices: ONNX Runtime's device list, read through capi.go, has
// the CPU provider on the CPU, in host memory.
func TestEPDevices(t *testing.T) {
	if testing.Short() {
		t.Skip("ONNX Runtime")
	}
	env, err := loadCAPI("")
	if err != nil {
		t.Fatal(err)
	}
	devs, err := epDevices(env)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(devs, func(d epDevice) bool { return d.ep == "CPUExecutionProvider" })
	if i < 0 {
		t.Fatalf("devices %v: no CPUExecutionProvider", devs)
	}
	if d := devs[i]; d.hw != 0 || d.mem != nil || d.String() != "CPUExecutionProvider on CPU" {
		t.Fatalf("CPU device: %+v (%s)", d, d)
	}
	// The V2 Append path, with the CPU's device: the session it makes
	// runs the model like the default one.
	opts, err := NewSessionOptions(Conf{IntraOpThreads: 1}.WithDefaults(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer opts.Destroy()
	if err := appendEPDevice(opts, env, devs[i], map[string]string{}); err != nil {
		t.Fatalf("append CPU device: %v", err)
	}
	m, _ := fixture(t)
	data, err := m.ReadFile(m.Encoder.File, maxEmbeddedGraphBytes)
	if err != nil {
		t.Fatal(err)
	}
	g, err := describeGraph(m, m.Encoder.File)
	if err != nil {
		t.Fatal(err)
	}
	s, err := onnx.NewDynamicAdvancedSessionWithONNXData(data, sortedNames(g.inputs), sortedNames(g.outputs), opts)
	if err != nil {
		t.Fatalf("session with the CPU EP device: %v", err)
	}
	s.Destroy()
}

// TestResidentTensors runs every embedded model with its graph-to-graph
// tensors in ONNX Runtime's allocator memory, bound as on a GPU (the
// CPU allocator stands in for the device's): every answer, alone and in
// a batch, is the same as with host tensors, and the copies a GPU would
// make are counted.
func TestResidentTensors(t *testing.T) {
	names := models.Names()
	for _, f := range append(continuousFixtures, "efferent-fast-fixture", "efferent-openvla-fixture") {
		if !slices.Contains(names, f) {
			names = append(names, f)
		}
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			m, g := loadModel(t, name)
			host, err := OpenPolicy(m, Conf{IntraOpThreads: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer host.Close()
			dev, err := OpenPolicy(m, Conf{IntraOpThreads: 1, residentOnHost: true})
			if err != nil {
				t.Fatal(err)
			}
			defer dev.Close()
			cp := dev.(policy.Copier).Copies()
			if hc := host.(policy.Copier).Copies(); hc != (policy.Copies{}) {
				t.Fatalf("CPU provider counts copies: %+v", hc)
			}
			// One-graph models pass nothing between graphs.
			twoGraphs := m.LayoutName() == policy.LayoutAutoregressive || (m.Flow != nil && m.Flow.Graph == nil)
			if (cp.Resident > 0) != twoGraphs || cp.Memory != "Cpu" || cp.HostToDevice == 0 || cp.DeviceToHost == 0 {
				t.Fatalf("resident copies: %+v", cp)
			}
			t.Logf("per chunk: %d host→device, %d device→host, %d tensors resident", cp.HostToDevice, cp.DeviceToHost, cp.Resident)
			var obs []*efferent.Observation
			for _, c := range g.Cases {
				o := goldenObservation(t, m, c)
				obs = append(obs, o)
				compareChunks(t, host, dev, []*efferent.Observation{o})
			}
			compareChunks(t, host, dev, append(obs, obs...))
		})
	}
}

// loadModel loads an embedded model or a model directory under models/.
func loadModel(t *testing.T, name string) (*policy.Manifest, *golden.File) {
	t.Helper()
	switch {
	case slices.Contains(models.Names(), name):
		return embedded(t, name)
	case testing.Short():
		t.Skip("integration: needs the ONNX Runtime library (make setup)")
	case name == "efferent-openvla-fixture":
		return openvlaFixture(t) // with its tokenizer, fetched
	}
	return loadDir(t, name)
}

// compareChunks infers obs with both policies and wants the same chunks.
func compareChunks(t *testing.T, a, b policy.Policy, obs []*efferent.Observation) {
	t.Helper()
	run := func(p policy.Policy) []efferent.Chunk {
		out := make([]*efferent.Chunk, len(obs))
		for i := range out {
			out[i] = &efferent.Chunk{}
		}
		errs := make([]error, len(obs))
		policy.InferBatch(context.Background(), p, obs, out, errs)
		res := make([]efferent.Chunk, len(obs))
		for i, err := range errs {
			if err != nil {
				t.Fatalf("row %d: %v", i, err)
			}
			res[i] = *out[i]
		}
		return res
	}
	ca, cb := run(a), run(b)
	for i := range ca {
		if !slices.Equal(ca[i].Actions, cb[i].Actions) || !slices.Equal(ca[i].Tokens, cb[i].Tokens) {
			t.Fatalf("batch of %d, row %d: resident %v %v, host %v %v", len(obs), i, cb[i].Tokens, cb[i].Actions, ca[i].Tokens, ca[i].Actions)
		}
	}
}

// TestBareMatchesInfer: the bare ONNX Runtime loop that bench infer
// compares efferent with computes what Infer does (the same tokens; the
// same final x of the flow), so the comparison is of like with like.
func TestBareMatchesInfer(t *testing.T) {
	for _, name := range append(models.Names(), "efferent-pi0-fixture", "efferent-pi0-loop-fixture", "efferent-oft-fixture") {
		t.Run(name, func(t *testing.T) {
			m, g := loadModel(t, name)
			p, err := OpenPolicy(m, testConf())
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			obs := goldenObservation(t, m, g.Cases[0])
			var ch efferent.Chunk
			if err := p.Infer(context.Background(), obs, &ch); err != nil {
				t.Fatal(err)
			}
			b, err := NewBare(p, obs)
			if errors.Is(err, ErrBare) {
				t.Skip(err) // float16 tensors
			}
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			for range 2 {
				if err := b.Run(); err != nil {
					t.Fatal(err)
				}
			}
			switch v := p.(type) {
			case *VLA:
				if !slices.Equal(b.tokens, ch.Tokens) {
					t.Fatalf("bare tokens %v, Infer %v", b.tokens, ch.Tokens)
				}
			case *Continuous:
				if v.step != nil && !slices.Equal(b.x, v.sample.f32[:v.sample.elems]) {
					t.Fatalf("bare x %v, Infer %v", b.x, v.sample.f32[:v.sample.elems])
				}
			}
		})
	}
}

// TestDeviceResident (on a GPU: scripts/gpu-check.sh sets
// $EFFERENT_TEST_PROVIDER): the key/values passed between graphs live in
// the provider's memory, not the host's, and every model still answers
// as on the CPU within its golden tolerance (TestGolden,
// TestContinuousGolden).
func TestDeviceResident(t *testing.T) {
	conf := testConf()
	if conf.Provider == "" || conf.Provider == "cpu" {
		t.Skip("$EFFERENT_TEST_PROVIDER names no GPU provider")
	}
	for _, name := range models.Names() {
		t.Run(name, func(t *testing.T) {
			m, _ := embedded(t, name)
			p, err := OpenPolicy(m, conf)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			cp := p.(policy.Copier).Copies()
			t.Logf("%s on %s: %+v", name, conf.Provider, cp)
			if cp.Resident == 0 || cp.Memory == "" || cp.Memory == "Cpu" {
				t.Fatalf("copies %+v: nothing resident in device memory", cp)
			}
		})
	}
}
