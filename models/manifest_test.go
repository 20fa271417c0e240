package models_test

import (
	"testing"

	"github.com/efferent/efferent/models"
)

// Manifest reads the manifest of an embedded model by name (the default
// for ""), and says why for a reference that is neither a directory nor
// an embedded model.
func TestManifest(t *testing.T) {
	for _, ref := range []string{"", models.Default, models.Fixture, models.Flow} {
		m, err := models.Manifest(ref)
		if err != nil {
			t.Fatalf("%q: %v", ref, err)
		}
		want := ref
		if ref == "" {
			want = models.Default
		}
		if m.Name != want || m.FS == nil || m.Action.Horizon < 1 || m.Action.Dim < 1 {
			t.Fatalf("%q: name %q, action %dx%d", ref, m.Name, m.Action.Horizon, m.Action.Dim)
		}
	}
	if _, err := models.Manifest("no-such-model"); err == nil {
		t.Fatal("unknown model: want an error")
	}
}
