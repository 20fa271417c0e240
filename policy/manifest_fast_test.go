package policy_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/efferent/efferent/policy"
)

// fastManifest is models/efferent-fast-fixture's manifest (kind fast).
func fastManifest(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile("../models/efferent-fast-fixture/manifest.yaml")
	if err != nil {
		t.Fatalf("%v (build it with /usr/bin/python3 models/efferent-fast-fixture/build.py)", err)
	}
	return data
}

func TestManifestFastKind(t *testing.T) {
	base := fastManifest(t)
	m, err := policy.ParseManifest(base)
	if err != nil {
		t.Fatal(err)
	}
	tk := m.Action.Tokenizer
	if tk.Kind != "fast" || tk.Vocab != "fast_tokenizer.json" || tk.EndToken == nil || tk.MaxTokens <= 0 || tk.Scale != 10 || tk.Direction != "down" {
		t.Fatalf("tokenizer %+v", tk)
	}
	// Defaults: scale 10, direction down.
	data := mutate(t, mutate(t, base, "action.tokenizer.scale", deleteKey{}), "action.tokenizer.direction", deleteKey{})
	if m, err := policy.ParseManifest(data); err != nil || m.Action.Tokenizer.Scale != 10 || m.Action.Tokenizer.Direction != "down" {
		t.Fatalf("defaults: %v %+v", err, m.Action.Tokenizer)
	}
	for _, tc := range []struct {
		at    string
		v     any
		field string
	}{
		{"action.tokenizer.vocab", deleteKey{}, "action.tokenizer.vocab"},
		{"action.tokenizer.end_token", deleteKey{}, "action.tokenizer.end_token"},
		{"action.tokenizer.end_token", 5000, "action.tokenizer.end_token"},
		{"action.tokenizer.max_tokens", deleteKey{}, "action.tokenizer.max_tokens"},
		{"action.tokenizer.max_tokens", 5000, "action.tokenizer.max_tokens"},
		{"action.tokenizer.scale", -1, "action.tokenizer.scale"},
		{"action.tokenizer.norm_eps", -1e-6, "action.tokenizer.norm_eps"},
		{"action.tokenizer.min_token", 1 << 22, "action.tokenizer.min_token"},
		{"action.tokenizer.token_base", 4096, "action.tokenizer.token_base"},
		{"action.tokenizer.direction", "sideways", "action.tokenizer.direction"},
		{"action.tokenizer.codebook", "codebook.json", "belong to kinds vq and bins"},
		{"action.tokenizer.bins", 256, "belong to kinds vq and bins"},
		{"action.tokenizer.kind", "bins", "belong to kind fast"},
	} {
		t.Run(tc.at, func(t *testing.T) {
			_, err := policy.ParseManifest(mutate(t, base, tc.at, tc.v))
			if !errors.Is(err, policy.ErrManifest) || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("err = %v, want ErrManifest naming %s", err, tc.field)
			}
		})
	}
	// The vocabulary file must exist.
	if _, err := policy.LoadManifest(os.DirFS("../models/efferent-fast-fixture"), "fast"); err != nil {
		t.Fatal(err)
	}
}
