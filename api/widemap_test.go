package api

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// wideMap is a msgpack map of n str keys (same length, a long common
// prefix: the costly case for comparing keys) to nil; dupAt ≥ 0 repeats
// key 0 as entry dupAt.
func wideMap(n, dupAt int) []byte {
	b := []byte{0xde, byte(n >> 8), byte(n)} // map16
	for i := range n {
		k := fmt.Sprintf("observation/state/joint_%06d", i)
		if i == dupAt {
			k = fmt.Sprintf("observation/state/joint_%06d", 0)
		}
		b = append(b, 0xa0|byte(len(k)))
		b = append(b, k...)
		b = append(b, 0xc0)
	}
	return b
}

// TestDuplicateKeysAnyWidth: a repeated key is refused in small maps
// (checked by scanning) and wide ones (checked with a set), wherever it
// is; distinct keys pass.
func TestDuplicateKeysAnyWidth(t *testing.T) {
	for _, n := range []int{2, 8, 15, 16, 17, 64, 4096} {
		if v, err := Decode(wideMap(n, -1), Limits{}); err != nil || len(v.Map) != n {
			t.Errorf("%d distinct keys: %d entries, %v", n, len(v.Map), err)
		}
		for _, at := range []int{1, n / 2, n - 1} {
			if at < 1 {
				continue
			}
			_, err := Decode(wideMap(n, at), Limits{})
			if !errors.Is(err, ErrMalformed) || err == nil || !strings.Contains(err.Error(), `duplicate map key "observation/state/joint_000000"`) {
				t.Errorf("%d keys, key 0 repeated at %d: %v", n, at, err)
			}
		}
	}
}

// BenchmarkDecodeWideMap decodes one map of 4096 keys (the most a map may
// have by default); the duplicate-key check used to be quadratic.
func BenchmarkDecodeWideMap(b *testing.B) {
	frame := wideMap(4096, -1)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(frame, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}
