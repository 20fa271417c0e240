package ort

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	onnx "github.com/yalue/onnxruntime_go"
)

// Version is the ONNX Runtime release `make setup` installs and this
// package is tested against (C API 24).
const Version = "1.24.1"

// GPUVersion is the ONNX Runtime release `make setup GPU=1` installs,
// with the CUDA and TensorRT plugin libraries beside it.
const GPUVersion = "1.29.0"

// defaultLibrary may be set at build time with
// -ldflags "-X github.com/efferent/efferent/policy/ort.defaultLibrary=PATH".
var defaultLibrary string

// ErrLibrary is wrapped when the ONNX Runtime shared library cannot be found
// or loaded.
var ErrLibrary = errors.New("ONNX Runtime library unavailable")

var env struct {
	sync.Mutex
	path string // library the environment was initialised with
	err  error
}

// LibraryCandidates lists, in order, where the library is looked for when
// explicit is empty.
func LibraryCandidates(explicit string) []string {
	var c []string
	if explicit != "" {
		return []string{explicit}
	}
	if p := os.Getenv("EFFERENT_ORT_LIBRARY"); p != "" {
		return []string{p}
	}
	if defaultLibrary != "" {
		c = append(c, defaultLibrary)
	}
	rel := filepath.Join("onnxruntime", Version, "libonnxruntime.so.1")
	if d := os.Getenv("EFFERENT_CACHE"); d != "" {
		c = append(c, filepath.Join(d, rel))
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		c = append(c, filepath.Join(d, "efferent", rel))
	}
	if h, err := os.UserHomeDir(); err == nil {
		c = append(c, filepath.Join(h, ".cache", "efferent", rel))
	}
	return c
}

// FindLibrary returns the first candidate that exists.
func FindLibrary(explicit string) (string, error) {
	cands := LibraryCandidates(explicit)
	for _, p := range cands {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: not found at %s; run `make setup` (it installs ONNX Runtime %s), or set ort.library / $EFFERENT_ORT_LIBRARY",
		ErrLibrary, strings.Join(cands, ", "), Version)
}

// Init loads the ONNX Runtime library and creates the process-wide
// environment, once. Later calls return the first call's result; asking for
// a different library after the first succeeded is an error, because ONNX
// Runtime allows one environment per process.
func Init(library string) (string, error) {
	env.Lock()
	defer env.Unlock()
	if env.path != "" || env.err != nil {
		if env.err == nil && library != "" && library != env.path {
			return env.path, fmt.Errorf("%w: already initialised with %s, cannot switch to %s in one process", ErrLibrary, env.path, library)
		}
		return env.path, env.err
	}
	p, err := FindLibrary(library)
	if err != nil {
		env.err = err
		return "", err
	}
	onnx.SetSharedLibraryPath(p)
	if err := onnx.InitializeEnvironment(onnx.WithLogLevelError()); err != nil {
		env.err = fmt.Errorf("%w: loading %s: %v", ErrLibrary, p, err)
		return "", env.err
	}
	env.path = p
	return p, nil
}

// RuntimeVersion is the version string the loaded library reports.
func RuntimeVersion() string { return onnx.GetVersion() }
