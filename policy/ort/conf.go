package ort

import (
	"fmt"
	"runtime"
)

// Conf configures ONNX Runtime sessions.
type Conf struct {
	// Library is the path of libonnxruntime.so. Default: found as the
	// package doc describes.
	Library string `yaml:"library"`
	// Provider is the execution provider: "cpu" (default), "cuda" or
	// "tensorrt". The library installed by `make setup` is CPU-only; GPU
	// providers need an ONNX Runtime GPU build of the same version (see the
	// README) named by Library.
	Provider string `yaml:"provider"`
	// DeviceID selects the GPU for cuda/tensorrt. Default 0.
	DeviceID int `yaml:"device_id"`
	// IntraOpThreads is ONNX Runtime's intra-op thread count. Default:
	// the number of CPUs (at most 8); 0 means default.
	IntraOpThreads int `yaml:"intra_op_threads"`
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
}

// WithDefaults returns c with zero fields replaced by their defaults.
func (c Conf) WithDefaults() Conf {
	if c.Provider == "" {
		c.Provider = "cpu"
	}
	if c.IntraOpThreads == 0 {
		c.IntraOpThreads = min(runtime.NumCPU(), 8)
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
