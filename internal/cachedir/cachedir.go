// Package cachedir says where efferent keeps what it fetches or builds
// once (ONNX Runtime's libraries, npm tarballs, TensorRT engines): the
// same folder `make setup` (scripts/setup.sh) installs into.
package cachedir

import (
	"os"
	"path/filepath"
)

// Dir is $EFFERENT_CACHE, else $XDG_CACHE_HOME/efferent, else
// ~/.cache/efferent; an error only when none is set and there is no home
// directory.
func Dir() (string, error) {
	if d := os.Getenv("EFFERENT_CACHE"); d != "" {
		return d, nil
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "efferent"), nil
	}
	h, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(h, ".cache", "efferent"), nil
}
