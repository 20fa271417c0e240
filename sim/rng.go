package sim

import (
	"hash/fnv"
	"strconv"
)

// rng is SplitMix64: tiny, fast and fully specified, so layouts depend on
// nothing but their seed (not on math/rand's algorithm across Go versions).
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

// intn returns a uniform integer in [0, n).
func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }

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
// (suite, task index, init index). Layout jitter and the gripper's start
// offset are drawn from it; see Reset.
func (t Task) Seed(init int) uint64 {
	return seedOf(t.Suite, strconv.Itoa(t.Index), strconv.Itoa(init))
}

// RNG is the simulators' random source, SplitMix64 as rng: what an initial
// state draws depends on nothing but its seed. The legged simulator
// (sim/legged) draws its layouts from it too.
type RNG struct{ r rng }

// NewRNG returns an RNG seeded with seed.
func NewRNG(seed uint64) *RNG { return &RNG{rng{s: seed}} }

// Uniform returns a uniform number in [lo, hi).
func (g *RNG) Uniform(lo, hi float64) float64 { return g.r.uniform(lo, hi) }

// SeedOf hashes its parts (FNV-1a, parts separated by a zero byte): the
// seed of a task's initial state from its suite, index and init.
func SeedOf(parts ...string) uint64 { return seedOf(parts...) }
