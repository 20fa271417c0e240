package bench

import (
	"runtime"
	"time"
)

// mallocs returns the process's heap allocations so far.
func mallocs() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs
}

// timeN runs f n times and returns each call's duration and the heap
// allocations per call.
func timeN(n int, f func() error) ([]time.Duration, float64, error) {
	lat := make([]time.Duration, n)
	a0 := mallocs()
	for i := range n {
		t0 := time.Now()
		if err := f(); err != nil {
			return nil, 0, err
		}
		lat[i] = time.Since(t0)
	}
	return lat, float64(mallocs()-a0) / float64(n), nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
