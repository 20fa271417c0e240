package legged

import (
	"hash/fnv"
	"strconv"
)

// rng is SplitMix64, as in package sim: initial states depend on nothing
// but their seed, not on math/rand's algorithm across Go versions.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// float returns a uniform number in [0, 1).
func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// uniform returns a uniform number in [lo, hi).
func (r *rng) uniform(lo, hi float64) float64 { return lo + (hi-lo)*r.float() }

// seedOf hashes its parts (FNV-1a, parts separated by a zero byte).
func seedOf(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

// Seed returns the seed of initial state init of the task: a hash of
// (suite, task index, init). A false-premise variant shares its base
// task's seed, so its layout is the base layout minus the missing object.
func (t Task) Seed(init int) uint64 {
	return seedOf(t.Suite, strconv.Itoa(t.Index), strconv.Itoa(init))
}
