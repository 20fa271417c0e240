// Package bounded reads files whose size the reader bounds: a file a user
// points efferent at (a demonstration, a statistics file) is refused when
// it is larger than what its format can need, before it is read whole.
package bounded

import (
	"fmt"
	"io"
	"os"
)

// ReadFile reads path, refusing it when it holds more than limit bytes.
func ReadFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return b, nil
}
