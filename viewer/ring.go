package viewer

import (
	"sync/atomic"

	"github.com/efferent/efferent"
)

// tickEntry is one setpoint and its verdict, copied by value.
type tickEntry struct {
	t      int64 // controller time, unix ns
	seq    uint64
	n      int // values used in v
	dim    int
	kind   efferent.VerdictKind
	hold   bool
	reason string // the gates' reasons are constants: no copy needed
	v      [MaxDim]float64
}

// tickRing is a single-producer single-consumer ring: the control loop's
// tick goroutine pushes, the hub drains. Neither ever waits for the
// other; a push into a full ring is refused (the caller counts it). The
// atomics order the entry's writes before the consumer's reads.
type tickRing struct {
	buf  []tickEntry
	mask uint64
	head atomic.Uint64 // next entry to write; written by the producer only
	tail atomic.Uint64 // next entry to read; written by the consumer only
}

func newTickRing(size int) *tickRing {
	n := 1
	for n < size {
		n <<= 1
	}
	return &tickRing{buf: make([]tickEntry, n), mask: uint64(n - 1)}
}

// push copies sp and v in; false when the ring is full.
func (r *tickRing) push(sp *efferent.Setpoint, v efferent.Verdict) bool {
	h := r.head.Load()
	if h-r.tail.Load() > r.mask {
		return false
	}
	e := &r.buf[h&r.mask]
	e.t = sp.Time.UnixNano()
	e.seq, e.hold = sp.Seq, sp.Hold
	e.kind, e.reason, e.dim = v.Kind, v.Reason, v.Dim
	e.n = copy(e.v[:], sp.Values)
	r.head.Store(h + 1)
	return true
}

// drain calls f on every entry pushed so far, oldest first, then frees
// them. f must not keep the entry.
func (r *tickRing) drain(f func(i, n int, e *tickEntry)) int {
	t, h := r.tail.Load(), r.head.Load()
	n := int(h - t)
	for i := 0; t+uint64(i) != h; i++ {
		f(i, n, &r.buf[(t+uint64(i))&r.mask])
	}
	r.tail.Store(h)
	return n
}
