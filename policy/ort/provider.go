package ort

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"unsafe"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/efferent/efferent/internal/cachedir"
)

// ErrProviderLibrary is wrapped (with ErrProvider) when a GPU provider's
// own shared library, or one it needs (CUDA, cuBLAS, cuDNN, TensorRT), is
// missing. The message names each missing library and where it was
// looked for.
var ErrProviderLibrary = errors.New("execution provider library missing")

// AvailableProviders lists the execution providers compiled into the
// loaded ONNX Runtime library, as ONNX Runtime names them
// ("CPUExecutionProvider", "CUDAExecutionProvider", ...), initialising the
// environment first (see Init). A provider listed may still fail to start
// when its own libraries (CUDA, cuDNN, TensorRT) are missing; one that is
// not listed may still come from a plugin library (see Conf.Provider).
func AvailableProviders(library string) ([]string, error) {
	return compiledProviders(library)
}

// gpuProvider is what Conf.Provider names for a GPU provider: ONNX
// Runtime's name for it and the file name of its plugin library.
type gpuProvider struct {
	ep, library, what string
}

var gpuProviders = map[string]gpuProvider{
	"cuda":     {"CUDAExecutionProvider", "libonnxruntime_providers_cuda.so", "CUDA 13, cuBLAS, cuRAND and cuDNN 9"},
	"tensorrt": {"TensorrtExecutionProvider", "libonnxruntime_providers_tensorrt.so", "TensorRT 10 and CUDA 13"},
}

// selected is how a GPU provider is added to session options: compiled
// into the core library (a lab's own onnxruntime-gpu build: the
// provider's Append call) or from a registered plugin library (ONNX
// Runtime 1.22+'s plugin API: the chosen device and the V2 Append call).
type selected struct {
	name     string // cpu, cuda, tensorrt
	compiled bool
	env      unsafe.Pointer
	dev      epDevice
}

// onDevice reports whether the provider's memory is not the host's:
// then tensors passed between graphs are kept there (see device.go).
func (s *selected) onDevice() bool { return s != nil && s.dev.mem != nil }

// listCompiled is compiledProviders (a variable: tests give the library
// no GPU provider, to reach the plugin path with a library that has one
// compiled in).
var listCompiled = compiledProviders

var providerCache struct {
	sync.Mutex
	m          map[string]*selected // by provider, plugin and device; errors are not kept (a retry after installing CUDA works)
	registered map[string]bool      // plugin libraries registered, by path
}

// selectProvider finds the execution provider conf names in the library
// at lib: nothing to do for the CPU; a GPU provider compiled into the
// library; or its plugin library, registered once per process, and the
// conf.DeviceID-th device it offers. It never falls back to the CPU: a
// provider that cannot run is an error that says why.
func selectProvider(conf Conf, lib string) (*selected, error) {
	if conf.Provider == "" || conf.Provider == "cpu" {
		return &selected{name: "cpu"}, nil
	}
	gp, ok := gpuProviders[conf.Provider]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrProvider, conf.Provider)
	}
	compiled, err := listCompiled(lib)
	if err != nil {
		return nil, err
	}
	if slices.Contains(compiled, gp.ep) {
		return &selected{name: conf.Provider, compiled: true}, nil
	}
	plugin := conf.ProviderLibrary
	if plugin == "" {
		plugin = filepath.Join(filepath.Dir(lib), gp.library)
	}
	key := fmt.Sprintf("%s\x00%s\x00%d", conf.Provider, plugin, conf.DeviceID)
	providerCache.Lock()
	defer providerCache.Unlock()
	if s := providerCache.m[key]; s != nil {
		return s, nil
	}
	if st, err := os.Stat(plugin); err != nil || st.IsDir() {
		return nil, fmt.Errorf("%w: %w: %s: the ONNX Runtime library at %s has no %s compiled in (it has %s), and its plugin library %s is not there; "+
			"`make setup GPU=1` installs ONNX Runtime %s with the CUDA and TensorRT plugins (then set ort.library to %s), or set ort.provider_library",
			ErrProvider, ErrProviderLibrary, conf.Provider, lib, gp.ep, strings.Join(compiled, ", "), plugin, GPUVersion, gpuLibraryHint())
	}
	if !exportsSymbol(plugin, "CreateEpFactories") {
		// The npm GPU package's TensorRT library is of this kind.
		return nil, fmt.Errorf("%w: %s: %s is a provider-bridge library (it exports no CreateEpFactories), which only an ONNX Runtime core built with %s can load, "+
			"and the core at %s has %s; set ort.library to an onnxruntime-gpu build that lists %s (efferent model inspect shows what a library has)",
			ErrProvider, conf.Provider, plugin, gp.ep, lib, strings.Join(compiled, ", "), gp.ep)
	}
	env, err := loadCAPI(lib)
	if err != nil {
		return nil, err
	}
	// One registration per plugin library and process, whatever the
	// device; ONNX Runtime wants a name of its own for each.
	if !providerCache.registered[plugin] {
		name := fmt.Sprintf("%s-%d", conf.Provider, len(providerCache.registered))
		if err := onnx.RegisterExecutionProviderLibrary(name, plugin); err != nil {
			// The loader says only the first library it missed; name
			// them all, and where they were looked for.
			if missing := missingDependencies(plugin); len(missing) > 0 {
				driver := ""
				if slices.Contains(missing, "libcuda.so.1") {
					driver = " (libcuda.so.1 is the NVIDIA driver's)"
				}
				return nil, fmt.Errorf("%w: %w: %s: %s needs %s%s, which the dynamic loader cannot find (it looked in %s); install %s and put their lib folders on LD_LIBRARY_PATH (docs/gpu.md)",
					ErrProvider, ErrProviderLibrary, conf.Provider, plugin, strings.Join(missing, ", "), driver, strings.Join(searchPath(plugin), ", "), gp.what)
			}
			return nil, fmt.Errorf("%w: %s: registering the plugin library %s: %v", ErrProvider, conf.Provider, plugin, err)
		}
		if providerCache.registered == nil {
			providerCache.registered = map[string]bool{}
		}
		providerCache.registered[plugin] = true
	}
	devs, err := epDevices(env)
	if err != nil {
		return nil, err
	}
	var mine []epDevice
	for _, d := range devs {
		// ONNX Runtime's name, or a plugin's own spelling of it (a CUDA
		// plugin factory may name itself otherwise): never the CPU's.
		if d.ep == gp.ep || d.ep != "CPUExecutionProvider" && strings.Contains(strings.ToLower(d.ep), conf.Provider) {
			mine = append(mine, d)
		}
	}
	switch {
	case len(mine) == 0:
		var all []string
		for _, d := range devs {
			all = append(all, d.String())
		}
		return nil, fmt.Errorf("%w: %s: the plugin %s registered but offers no device (ONNX Runtime sees: %s); is a GPU visible (nvidia-smi, CUDA_VISIBLE_DEVICES)?",
			ErrProvider, conf.Provider, plugin, strings.Join(all, ", "))
	case conf.DeviceID >= len(mine):
		return nil, fmt.Errorf("%w: ort.device_id %d: %s offers %d device(s)", ErrProvider, conf.DeviceID, gp.ep, len(mine))
	}
	s := &selected{name: conf.Provider, env: env, dev: mine[conf.DeviceID]}
	if providerCache.m == nil {
		providerCache.m = map[string]*selected{}
	}
	providerCache.m[key] = s
	return s, nil
}

// gpuLibraryHint is where `make setup GPU=1` puts the GPU build's core
// library.
func gpuLibraryHint() string {
	return filepath.Join(cacheDir(), "onnxruntime", GPUVersion, "libonnxruntime.so.1")
}

// cacheDir is where `make setup` installs ONNX Runtime (cachedir.Dir; the
// temporary folder when there is no home directory).
func cacheDir() string {
	if d, err := cachedir.Dir(); err == nil {
		return d
	}
	return filepath.Join(os.TempDir(), "efferent")
}
