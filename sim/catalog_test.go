package sim

import (
	"slices"
	"testing"
)

func TestCatalog(t *testing.T) {
	c := Catalog()
	if len(c) != len(catalog) {
		t.Fatalf("%d objects, want %d", len(c), len(catalog))
	}
	if !slices.IsSortedFunc(c, func(a, b Object) int { return cmpString(a.Name, b.Name) }) {
		t.Fatal("not sorted by name")
	}
	for _, o := range c {
		want, _ := NewObject(o.Name)
		if o != want {
			t.Fatalf("%s: %+v, want %+v", o.Name, o, want)
		}
	}
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
