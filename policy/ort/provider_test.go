package ort

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// cc builds a C file into a shared library with the C compiler cgo uses.
func cc(t *testing.T, out, src string, args ...string) {
	t.Helper()
	c := filepath.Join(t.TempDir(), "src.c")
	if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	compiler := os.Getenv("CC")
	if compiler == "" {
		compiler = "gcc"
	}
	cmd := exec.Command(compiler, append([]string{"-shared", "-fPIC", "-o", out, c}, args...)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", compiler, err, b)
	}
}

// fakePlugin builds a library named like the CUDA plugin that needs
// libcudart.so.13 and libcublas.so.13 (stubs linked by path, then
// removed, as on a machine without CUDA), with libcublas.so.13 left in
// cublasDir when it is not empty.
func fakePlugin(t *testing.T, cublasDir string) string {
	t.Helper()
	stubs, dir := t.TempDir(), t.TempDir()
	for _, lib := range []string{"libcudart.so.13", "libcublas.so.13"} {
		cc(t, filepath.Join(stubs, lib), "int "+strings.NewReplacer(".", "_").Replace(lib)+"(void){return 0;}\n", "-Wl,-soname,"+lib)
	}
	plugin := filepath.Join(dir, "libonnxruntime_providers_cuda.so")
	cc(t, plugin, "int CreateEpFactories(void){return 1;}\n", "-Wl,--no-as-needed", filepath.Join(stubs, "libcudart.so.13"), filepath.Join(stubs, "libcublas.so.13"))
	if cublasDir != "" {
		if err := os.Rename(filepath.Join(stubs, "libcublas.so.13"), filepath.Join(cublasDir, "libcublas.so.13")); err != nil {
			t.Fatal(err)
		}
	}
	os.Remove(filepath.Join(stubs, "libcudart.so.13"))
	os.Remove(filepath.Join(stubs, "libcublas.so.13"))
	return plugin
}

func TestLdCache(t *testing.T) {
	if _, err := os.Stat("/etc/ld.so.cache"); err != nil {
		t.Skip("no /etc/ld.so.cache")
	}
	if c := ldCache("/etc/ld.so.cache"); !c["libc.so.6"] || !c["libdl.so.2"] {
		t.Fatalf("ld.so.cache read as %d names, without libc.so.6 or libdl.so.2", len(c))
	}
	if c := ldCache("capi.go"); len(c) != 0 {
		t.Fatalf("a Go file read as a cache: %d names", len(c))
	}
}

// TestMissingDependencies: every library the dynamic loader would not
// find is named, and one in LD_LIBRARY_PATH is not.
func TestMissingDependencies(t *testing.T) {
	libDir := t.TempDir()
	plugin := fakePlugin(t, libDir)
	t.Setenv("LD_LIBRARY_PATH", "")
	if got := missingDependencies(plugin); !slices.Equal(got, []string{"libcudart.so.13", "libcublas.so.13"}) {
		t.Fatalf("missing = %v, want libcudart.so.13 and libcublas.so.13", got)
	}
	t.Setenv("LD_LIBRARY_PATH", "/nonexistent:"+libDir)
	if got := missingDependencies(plugin); !slices.Equal(got, []string{"libcudart.so.13"}) {
		t.Fatalf("with %s on LD_LIBRARY_PATH: missing = %v, want libcudart.so.13", libDir, got)
	}
	if p := searchPath(plugin); !slices.Contains(p, libDir) || !slices.Contains(p, "/etc/ld.so.cache") {
		t.Fatalf("search path %v", p)
	}
	if got := missingDependencies("capi.go"); got != nil {
		t.Fatalf("not an ELF file: missing = %v", got)
	}
}

// TestMissingDependenciesOrigin: $ORIGIN in a RUNPATH is the library's
// own folder.
func TestMissingDependenciesOrigin(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "deps"), 0o755); err != nil {
		t.Fatal(err)
	}
	dep := filepath.Join(dir, "deps", "libdep.so.1")
	cc(t, dep, "int dep(void){return 0;}\n", "-Wl,-soname,libdep.so.1")
	lib := filepath.Join(dir, "libplugin.so")
	cc(t, lib, "int plugin(void){return 0;}\n", "-Wl,--no-as-needed", dep, "-Wl,-rpath,$ORIGIN/deps", "-Wl,--enable-new-dtags")
	if got := missingDependencies(lib); len(got) != 0 {
		t.Fatalf("missing = %v, want none (libdep.so.1 is in $ORIGIN/deps)", got)
	}
	os.Remove(dep)
	if got := missingDependencies(lib); !slices.Equal(got, []string{"libdep.so.1"}) {
		t.Fatalf("missing = %v, want libdep.so.1", got)
	}
}

// noGPUCompiled makes the library look as if no GPU provider were
// compiled in (the npm 1.24 build lists CUDA's provider bridge), so that
// selectProvider takes the plugin path.
func noGPUCompiled(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("ONNX Runtime")
	}
	old := listCompiled
	listCompiled = func(string) ([]string, error) { return []string{"CPUExecutionProvider"}, nil }
	t.Cleanup(func() { listCompiled = old })
	if _, err := Init(""); err != nil {
		t.Fatal(err)
	}
}

// TestPluginMissing: no plugin library beside the core library is an
// error that says what to install, for both GPU providers.
func TestPluginMissing(t *testing.T) {
	noGPUCompiled(t)
	lib, err := Init("")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"cuda", "tensorrt"} {
		want := filepath.Join(filepath.Dir(lib), gpuProviders[p].library)
		if _, err := os.Stat(want); err == nil {
			t.Skipf("%s is installed beside the library (make setup GPU=1)", want)
		}
		_, err := NewSessionOptions(Conf{Provider: p, IntraOpThreads: 1}.WithDefaults(), lib)
		if !errors.Is(err, ErrProvider) || !errors.Is(err, ErrProviderLibrary) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "make setup GPU=1") {
			t.Fatalf("%s: err = %v, want ErrProviderLibrary naming %s and make setup GPU=1", p, err, want)
		}
	}
}

// TestPluginNeedsCUDA: a plugin library whose CUDA libraries are missing
// is an error naming every one of them and where they were looked for.
func TestPluginNeedsCUDA(t *testing.T) {
	noGPUCompiled(t)
	plugin := fakePlugin(t, "")
	t.Setenv("LD_LIBRARY_PATH", "/opt/nowhere")
	_, err := NewSessionOptions(Conf{Provider: "cuda", ProviderLibrary: plugin, IntraOpThreads: 1}.WithDefaults(), "")
	if !errors.Is(err, ErrProviderLibrary) {
		t.Fatalf("err = %v, want ErrProviderLibrary", err)
	}
	t.Log(err)
	for _, want := range []string{"libcudart.so.13, libcublas.so.13", "/opt/nowhere", "/etc/ld.so.cache", plugin, "CUDA 13"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("err = %v, want it to name %q", err, want)
		}
	}
}

// TestPluginNotAnEP: a provider-bridge library (no CreateEpFactories,
// like the npm GPU package's TensorRT library) is refused by name, with
// what would load it; there is no fall-back to the CPU.
func TestPluginNotAnEP(t *testing.T) {
	noGPUCompiled(t)
	lib, _ := Init("")
	plugin := filepath.Join(t.TempDir(), "libonnxruntime_providers_tensorrt.so")
	cc(t, plugin, "int GetProvider(void){return 0;}\n")
	_, err := NewSessionOptions(Conf{Provider: "tensorrt", ProviderLibrary: plugin, IntraOpThreads: 1}.WithDefaults(), lib)
	if !errors.Is(err, ErrProvider) || errors.Is(err, ErrProviderLibrary) || !strings.Contains(err.Error(), plugin+" is a provider-bridge library") ||
		!strings.Contains(err.Error(), "the core at "+lib+" has CPUExecutionProvider") {
		t.Fatalf("err = %v, want ErrProvider naming a provider-bridge library", err)
	}
}

// TestPluginNoDevice: a plugin that registers but offers no device (a
// machine whose GPU is not visible) is an error saying what ONNX Runtime
// sees.
func TestPluginNoDevice(t *testing.T) {
	noGPUCompiled(t)
	lib, _ := Init("")
	plugin := filepath.Join(t.TempDir(), "libonnxruntime_providers_cuda.so")
	cc(t, plugin, `#include <stddef.h>
void *CreateEpFactories(const char *name, const void *base, const void *logger, void **factories, size_t max, size_t *n) { *n = 0; return NULL; }
void *ReleaseEpFactory(void *f) { return NULL; }
`)
	_, err := NewSessionOptions(Conf{Provider: "cuda", ProviderLibrary: plugin, IntraOpThreads: 1}.WithDefaults(), lib)
	if !errors.Is(err, ErrProvider) || !strings.Contains(err.Error(), "registered but offers no device (ONNX Runtime sees: CPUExecutionProvider on CPU)") {
		t.Fatalf("err = %v, want no device", err)
	}
	// A second model asking again reuses the registration.
	_, err2 := NewSessionOptions(Conf{Provider: "cuda", ProviderLibrary: plugin, IntraOpThreads: 1}.WithDefaults(), lib)
	if err2 == nil || err2.Error() != err.Error() {
		t.Fatalf("second try: %v, want %v", err2, err)
	}
}

// TestRealCUDAPlugin: with the GPU build that `make setup GPU=1`
// installed, on a machine without CUDA, the real plugin library is
// diagnosed by name. Skipped where it is not installed.
func TestRealCUDAPlugin(t *testing.T) {
	noGPUCompiled(t)
	plugin := filepath.Join(cacheDir(), "onnxruntime", GPUVersion, gpuProviders["cuda"].library)
	if _, err := os.Stat(plugin); err != nil {
		t.Skipf("no %s (make setup GPU=1)", plugin)
	}
	if missing := missingDependencies(plugin); len(missing) == 0 {
		t.Skip("this machine has the CUDA libraries the plugin needs")
	}
	_, err := NewSessionOptions(Conf{Provider: "cuda", ProviderLibrary: plugin, IntraOpThreads: 1}.WithDefaults(), "")
	if !errors.Is(err, ErrProviderLibrary) || !strings.Contains(err.Error(), "libcudart.so.13") {
		t.Fatalf("err = %v, want ErrProviderLibrary naming libcudart.so.13", err)
	}
	t.Log(err)
}

// TestTensorRTOptions: the engine cache, float16 and one optimisation
// profile that spans every batch size and past length a decoder runs.
func TestTensorRTOptions(t *testing.T) {
	m, _ := fixture(t)
	v := open(t, m)
	conf := Conf{Provider: "tensorrt", TensorRT: TensorRTConf{EngineCache: filepath.Join(t.TempDir(), "trt"), MaxBatch: 4}}.WithDefaults()
	v.setProfiles(conf)
	o, err := providerOptions(conf, v.dec.prof)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(conf.TensorRT.EngineCache); err != nil || !st.IsDir() {
		t.Fatalf("engine cache folder not made: %v", err)
	}
	P, steps, d := m.Encoder.PrefixLen, v.geometry().steps, m.Decoder
	kv := func(b, past int) string {
		return strings.Join([]string{itoa(b), itoa(d.Heads), itoa(past), itoa(d.HeadDim)}, "x")
	}
	for key, want := range map[string]string{
		"trt_fp16_enable":         "1",
		"trt_engine_cache_enable": "1",
		"trt_engine_cache_path":   conf.TensorRT.EngineCache,
		"trt_profile_min_shapes":  d.AttentionMask + ":1x" + itoa(P+1),
		"trt_profile_max_shapes":  d.AttentionMask + ":4x" + itoa(P+steps),
	} {
		if !strings.Contains(o[key], want) {
			t.Errorf("%s = %q, want it to contain %q", key, o[key], want)
		}
	}
	if !strings.Contains(o["trt_profile_min_shapes"], ":"+kv(1, P)) || !strings.Contains(o["trt_profile_max_shapes"], ":"+kv(4, P+steps-1)) {
		t.Errorf("past key/value profile: min %q max %q, want %s and %s", o["trt_profile_min_shapes"], o["trt_profile_max_shapes"], kv(1, P), kv(4, P+steps-1))
	}
	off := false
	conf.TensorRT.FP16 = &off
	if o, _ := providerOptions(conf, nil); o["trt_fp16_enable"] != "0" || o["trt_profile_min_shapes"] != "" {
		t.Errorf("fp16 off, no profile: %v", o)
	}
	if o, _ := providerOptions(Conf{Provider: "cuda"}.WithDefaults(), v.dec.prof); len(o) != 0 {
		t.Errorf("cuda options %v, want none", o)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestTensorRTOptionsWithoutDefaults: NewSessionOptions' callers (model
// inspect, the premise detector) may pass a Conf without its defaults;
// TensorRT's engine cache then defaults too, and the error, if any, is
// the provider's own.
func TestTensorRTOptionsWithoutDefaults(t *testing.T) {
	if testing.Short() {
		t.Skip("ONNX Runtime")
	}
	lib, err := Init("")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("EFFERENT_CACHE", t.TempDir())
	opts, err := NewSessionOptions(Conf{Provider: "tensorrt", IntraOpThreads: 1}, lib)
	if err == nil {
		opts.Destroy()
		t.Skip("this machine runs TensorRT")
	}
	if strings.Contains(err.Error(), "engine_cache") {
		t.Fatalf("err = %v: the engine cache default was not applied", err)
	}
}
