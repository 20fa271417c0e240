package control

import (
	"slices"
	"sync/atomic"
	"time"
)

// durRing keeps the last len(buf) durations in preallocated storage, for
// percentiles, plus the maximum over all. One goroutine writes; any may
// read (each slot is atomic; a snapshot taken while writing may mix two
// neighbouring windows, which is fine for percentiles).
type durRing struct {
	buf []atomic.Int64
	n   atomic.Uint64
	max atomic.Int64
}

func newDurRing(size int) durRing { return durRing{buf: make([]atomic.Int64, size)} }

func (r *durRing) add(d time.Duration) {
	i := r.n.Load()
	r.buf[i%uint64(len(r.buf))].Store(int64(d))
	r.n.Store(i + 1)
	if int64(d) > r.max.Load() {
		r.max.Store(int64(d))
	}
}

// percentiles returns the nearest-rank p50 and p99 of the kept window and
// the all-time maximum. It allocates (not for the tick path).
func (r *durRing) percentiles() (p50, p99, mx time.Duration) {
	n := min(r.n.Load(), uint64(len(r.buf)))
	if n == 0 {
		return 0, 0, 0
	}
	v := make([]int64, n)
	for i := range v {
		v[i] = r.buf[i].Load()
	}
	slices.Sort(v)
	rank := func(q float64) time.Duration {
		i := int(q*float64(n)+0.999999999) - 1
		return time.Duration(v[min(max(i, 0), int(n)-1)])
	}
	return rank(0.50), rank(0.99), time.Duration(r.max.Load())
}
