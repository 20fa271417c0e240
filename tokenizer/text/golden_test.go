package text

import (
	"encoding/json"
	"errors"
	"os"
	"slices"
	"testing"
)

// goldenFile is testdata/golden.json: Hugging Face's tokenizer output for
// every fixture and sentence, written by testdata/gen_golden.mjs. The
// sentences are also the benchmark's table.
type goldenFile struct {
	Reference string          `json:"reference"`
	Fixtures  []goldenFixture `json:"fixtures"`
}

type goldenFixture struct {
	Path  string       `json:"path"` // relative to this package
	Cases []goldenCase `json:"cases"`
}

type goldenCase struct {
	Name       string   `json:"name"`
	Text       string   `json:"text"`
	IDs        []int64  `json:"ids"`         // add_special_tokens: false
	Tokens     []string `json:"tokens"`      // the reference's tokens for IDs
	IDsSpecial []int64  `json:"ids_special"` // add_special_tokens: true
	Decoded    string   `json:"decoded"`     // the reference's decode of IDs
}

func loadGolden(tb testing.TB) goldenFile {
	tb.Helper()
	data, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		tb.Fatal(err)
	}
	var g goldenFile
	if err := json.Unmarshal(data, &g); err != nil {
		tb.Fatal(err)
	}
	if len(g.Fixtures) == 0 {
		tb.Fatal("golden.json has no fixtures")
	}
	return g
}

// refused lists golden cases this package deliberately refuses with
// ErrUnsupported instead of tokenizing (none at present: Unicode
// normalisation, which the BERT fixture's accent stripping needs, is
// implemented).
var refused = map[string][]string{}

// exactDecode lists the fixtures whose Decode must equal the reference's
// decoder output: byte-level and SentencePiece-style ones. Decode is for
// logs elsewhere (doc: not guaranteed to invert Encode).
var exactDecode = map[string]bool{
	"testdata/bytelevel_bpe.json":                  true,
	"testdata/metaspace_bpe.json":                  true,
	"../../models/efferent-fixture/tokenizer.json": true,
}

func TestGolden(t *testing.T) {
	g := loadGolden(t)
	for _, fx := range g.Fixtures {
		t.Run(fx.Path, func(t *testing.T) {
			tk, err := Load(fx.Path)
			if err != nil {
				t.Fatal(err)
			}
			nRefused := 0
			for _, c := range fx.Cases {
				if slices.Contains(refused[fx.Path], c.Name) {
					nRefused++
					if _, err := tk.Encode(c.Text, false); !errors.Is(err, ErrUnsupported) {
						t.Errorf("%s %q: err = %v, want ErrUnsupported", c.Name, c.Text, err)
					}
					continue
				}
				got, err := tk.Encode(c.Text, false)
				if err != nil {
					t.Errorf("%s %q: %v", c.Name, c.Text, err)
					continue
				}
				if !slices.Equal(got, c.IDs) {
					t.Errorf("%s %q:\n got %v %q\nwant %v %q", c.Name, c.Text, got, tokensOf(tk, got), c.IDs, c.Tokens)
				}
				// With special tokens, appended after a prefix the
				// post-processor must leave alone.
				prefix := []int64{-1, -2}
				got, err = tk.AppendEncode(slices.Clone(prefix), c.Text, true)
				if err != nil || !slices.Equal(got[:2], prefix) || !slices.Equal(got[2:], c.IDsSpecial) {
					t.Errorf("%s %q special: %v %v, want %v after %v", c.Name, c.Text, got, err, c.IDsSpecial, prefix)
				}
				if !exactDecode[fx.Path] || len(c.IDs) == 0 {
					continue
				}
				if back, err := tk.Decode(c.IDs, false); err != nil || back != c.Decoded {
					t.Errorf("%s: Decode = %q, %v; reference %q", c.Name, back, err, c.Decoded)
				}
			}
			if nRefused != len(refused[fx.Path]) {
				t.Errorf("refused cases: %d in golden.json, %d listed", nRefused, len(refused[fx.Path]))
			}
		})
	}
}

// tokensOf names ids for failure messages.
func tokensOf(tk *Tokenizer, ids []int64) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = tk.byID[id]
	}
	return out
}
