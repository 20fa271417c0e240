package sim

import "sort"

// Catalog returns every object a task can place on the table, sorted by
// name, each resting on the table at the origin (what NewObject returns).
// The false-premise checker builds its vocabulary and its detector's
// colours from it.
func Catalog() []Object {
	names := make([]string, 0, len(catalog))
	for n := range catalog {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]Object, len(names))
	for i, n := range names {
		out[i], _ = NewObject(n) // n is catalogued: no error
	}
	return out
}
