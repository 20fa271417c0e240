package legged

import (
	"strconv"

	"github.com/efferent/efferent/sim"
)

// Seed returns the seed of initial state init of the task: a hash of
// (suite, task index, init), drawn from by sim.RNG as the tabletop's are.
// A false-premise variant shares its base task's seed, so its layout is
// the base layout minus the missing object.
func (t Task) Seed(init int) uint64 {
	return sim.SeedOf(t.Suite, strconv.Itoa(t.Index), strconv.Itoa(init))
}
