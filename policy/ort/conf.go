package ort

import (
	"fmt"
	"path/filepath"
	"runtime"
)

// Conf configures ONNX Runtime sessions.
type Conf struct {
	// Library is the path of libonnxruntime.so. Default: found as the
	// package doc describes.
	Library string `yaml:"library"`
	// Provider is the execution provider: "cpu" (default), "cuda" or
	// "tensorrt". The library `make setup` installs is CPU-only; `make
	// setup GPU=1` installs ONNX Runtime 1.29 with the CUDA and TensorRT
	// plugin libraries beside it (set Library to it). A GPU provider is
	// taken from Library when it is compiled in (an onnxruntime-gpu
	// build), else from its plugin library. There is never a fall-back to
	// the CPU: a provider that cannot start is an error naming why.
	Provider string `yaml:"provider"`
	// ProviderLibrary is the GPU provider's plugin library. Default:
	// libonnxruntime_providers_cuda.so (or _tensorrt.so) beside Library.
	ProviderLibrary string `yaml:"provider_library"`
	// DeviceID selects the GPU for cuda/tensorrt: the index among the
	// devices the provider offers. Default 0.
	DeviceID int `yaml:"device_id"`
	// TensorRT configures the tensorrt provider.
	TensorRT TensorRTConf `yaml:"tensorrt"`
	// IntraOpThreads is ONNX Runtime's intra-op thread count. Default
	// (0): half the CPUs, at least 1 and at most 8 — the other half serve
	// the connections, the clients or the control loop beside the model.
	// Measured on 2 cores (docs/performance.md): serving efferent-tiny to
	// 16 clients, 1 thread answers 1,170–1,420 requests/s and 2 threads
	// 870–1,150; one inference alone is no faster on 2. `efferent bench
	// serve --tune` measures it for a model and machine.
	IntraOpThreads int `yaml:"intra_op_threads"`
	// Spinning lets the intra-op threads spin while they wait for work
	// (ONNX Runtime's session.intra_op.allow_spinning, which ONNX Runtime
	// turns on). Default false: spinning threads take the cores from the
	// connections beside the model (2 threads, 16 clients: 1,100–1,150
	// requests/s without, 870–930 with).
	Spinning *bool `yaml:"spinning"`
	// Optimization is ONNX Runtime's graph optimisation level: all
	// (default), extended, basic or disabled. A float16 export whose
	// RMSNorm uses Pow can fail to load on the CPU at the default (ONNX
	// Runtime 1.24's SimplifiedLayerNormFusion meets the casts it inserts
	// around Pow, which has no float16 CPU kernel): basic skips that
	// fusion.
	Optimization string `yaml:"optimization"`
	// NoKVCache makes every action token pay for the whole sequence again:
	// the prefix (images, state, instruction) is re-encoded and the tokens
	// before it re-decoded, as a decoder without past key/values would.
	// The answers are the same; it exists so that `efferent bench infer`
	// can show what the cache saves. Default false.
	NoKVCache bool `yaml:"-"`
	// residentOnHost (tests) keeps the graph-to-graph tensors in ONNX
	// Runtime's CPU allocator, bound as on a GPU, to test that path
	// without one.
	residentOnHost bool
}

// TensorRTConf configures the TensorRT execution provider. Its engines are
// built when a model opens (the server's warm-up runs every batch size
// before /readyz says ready) and kept in EngineCache, so a restart
// rebuilds nothing.
type TensorRTConf struct {
	// FP16 lets TensorRT run layers in float16. Default true ("false"
	// keeps float32 everywhere).
	FP16 *bool `yaml:"fp16"`
	// EngineCache is the folder for built engines and TensorRT's timing
	// cache. Default: tensorrt/ in efferent's cache ($EFFERENT_CACHE or
	// ~/.cache/efferent).
	EngineCache string `yaml:"engine_cache"`
	// MaxBatch is the largest batch the engines' optimisation profiles
	// cover (the dynamic dimensions are the batch and, for a decoder, the
	// past length, which grows by one every action token: one profile
	// spans all of them, so no step rebuilds an engine). A larger batch
	// makes TensorRT build another engine. Default 8, the server's
	// max_batch default.
	MaxBatch int `yaml:"max_batch"`
}

// WithDefaults returns c with zero fields replaced by their defaults.
func (c Conf) WithDefaults() Conf {
	if c.Provider == "" {
		c.Provider = "cpu"
	}
	if c.IntraOpThreads == 0 {
		c.IntraOpThreads = max(1, min(runtime.NumCPU()/2, 8))
	}
	if c.Spinning == nil {
		off := false
		c.Spinning = &off
	}
	if c.TensorRT.FP16 == nil {
		t := true
		c.TensorRT.FP16 = &t
	}
	if c.TensorRT.EngineCache == "" {
		c.TensorRT.EngineCache = filepath.Join(cacheDir(), "tensorrt")
	}
	if c.TensorRT.MaxBatch == 0 {
		c.TensorRT.MaxBatch = 8
	}
	return c
}

// Validate checks the configuration; errors name the key.
func (c Conf) Validate() error {
	switch c.Provider {
	case "", "cpu", "cuda", "tensorrt":
	default:
		return fmt.Errorf("ort.provider: %q is not one of cpu, cuda, tensorrt", c.Provider)
	}
	if c.IntraOpThreads < 0 || c.IntraOpThreads > 256 {
		return fmt.Errorf("ort.intra_op_threads: %d, want 0 (default) .. 256", c.IntraOpThreads)
	}
	switch c.Optimization {
	case "", "all", "extended", "basic", "disabled":
	default:
		return fmt.Errorf("ort.optimization: %q is not one of all, extended, basic, disabled", c.Optimization)
	}
	if c.TensorRT.MaxBatch < 0 || c.TensorRT.MaxBatch > maxBatchLimit {
		return fmt.Errorf("ort.tensorrt.max_batch: %d, want 0 (default) .. %d", c.TensorRT.MaxBatch, maxBatchLimit)
	}
	if c.DeviceID < 0 {
		return fmt.Errorf("ort.device_id: %d is negative", c.DeviceID)
	}
	return nil
}

// prepare fills conf's defaults, validates it and initialises the ONNX
// Runtime library it names: what every model's Open does first.
func prepare(conf Conf) (Conf, string, error) {
	conf = conf.WithDefaults()
	if err := conf.Validate(); err != nil {
		return conf, "", err
	}
	lib, err := Init(conf.Library)
	return conf, lib, err
}
