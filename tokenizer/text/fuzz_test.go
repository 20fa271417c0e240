package text

import (
	"errors"
	"os"
	"slices"
	"testing"
	"unicode/utf8"
)

// isSentinel: every error this package returns wraps one of its sentinels,
// so callers can tell a bad file or input from a missing feature.
func isSentinel(err error) bool {
	return errors.Is(err, ErrInvalid) || errors.Is(err, ErrUnsupported) || errors.Is(err, ErrTooLarge)
}

// checkIDs fails unless every id names a vocabulary entry and, for the
// fixtures, whose ids are dense, lies in [0, VocabSize).
func checkIDs(t *testing.T, tk *Tokenizer, ids []int64, dense bool) {
	t.Helper()
	for _, id := range ids {
		if _, ok := tk.byID[id]; !ok || dense && (id < 0 || id >= int64(tk.VocabSize())) {
			t.Fatalf("id %d outside the vocabulary (size %d)", id, tk.VocabSize())
		}
	}
}

// FuzzEncode runs arbitrary text through every golden fixture: no panic;
// an error only for invalid UTF-8 (ErrInvalid) or a documented refusal
// (ErrUnsupported), since every fixture has an unk token or byte fallback;
// ids inside the vocabulary; the same ids twice (the word cache); and for
// the byte-level fixture, Decode inverts Encode exactly.
func FuzzEncode(f *testing.F) {
	g := loadGolden(f)
	var tks []*Tokenizer
	byteLevel := -1
	for i, fx := range g.Fixtures {
		tk, err := Load(fx.Path)
		if err != nil {
			f.Fatal(err)
		}
		tks = append(tks, tk)
		if fx.Path == "testdata/bytelevel_bpe.json" {
			byteLevel = i
		}
	}
	if byteLevel < 0 {
		f.Fatal("no byte-level fixture")
	}
	for _, c := range g.Fixtures[0].Cases {
		f.Add(c.Text)
	}
	f.Add("pick \xff\xfe up")    // invalid UTF-8
	f.Add("<s><s></s><obj><obj") // added tokens back to back, one cut short
	f.Add("[OBJ][obj] [MASK]<|endoftext|><|bos|>")
	f.Fuzz(func(t *testing.T, text string) {
		for i, tk := range tks {
			for _, special := range []bool{false, true} {
				ids, err := tk.Encode(text, special)
				if err != nil {
					valid := utf8.ValidString(text)
					if valid && !errors.Is(err, ErrUnsupported) || !valid && !errors.Is(err, ErrInvalid) {
						t.Fatalf("%s: %q: %v", g.Fixtures[i].Path, text, err)
					}
					continue
				}
				checkIDs(t, tk, ids, true)
				again, err := tk.Encode(text, special)
				if err != nil || !slices.Equal(again, ids) {
					t.Fatalf("%s: %q: second Encode %v, %v; first %v", g.Fixtures[i].Path, text, again, err, ids)
				}
				if i == byteLevel && !special {
					if back, err := tk.Decode(ids, false); err != nil || back != text {
						t.Fatalf("byte-level round trip: %q → %v → %q, %v", text, ids, back, err)
					}
				}
			}
		}
	})
}

// FuzzParse feeds arbitrary bytes to Parse, seeded with the fixtures: no
// panic or hang, errors wrap a sentinel, and a tokenizer that parses encodes
// a few sentences to ids inside its vocabulary, which Decode accepts.
func FuzzParse(f *testing.F) {
	for _, fx := range loadGolden(f).Fixtures {
		data, err := os.ReadFile(fx.Path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add(fileWith(f, nil))
	f.Add([]byte(`{"model":{"vocab":{"a":0,"b":1,"ab":2},"merges":[["a","b"]]},"added_tokens":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tk, err := Parse(data)
		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("Parse error wraps no sentinel: %v", err)
			}
			return
		}
		for _, text := range []string{"put the red block in the blue bowl", "  Café 🤖 x=12, <s>[OBJ]  ", ""} {
			ids, err := tk.Encode(text, true)
			if err != nil {
				if !isSentinel(err) {
					t.Fatalf("Encode(%q) error wraps no sentinel: %v", text, err)
				}
				continue
			}
			checkIDs(t, tk, ids, false)
			if _, err := tk.Decode(ids, false); err != nil {
				t.Fatalf("Decode(%v): %v", ids, err)
			}
		}
	})
}
