package text

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/efferent/efferent/internal/npmfile"
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

// FuzzEncodeLlama2 and the four below run arbitrary text through one
// real tokenizer each (testdata/real/sources.json; an npm one skips when
// out of reach): no panic; an error only for invalid UTF-8 (every one has
// an unk token, byte fallback or byte-level pieces); ids in the
// vocabulary, which Decode accepts; the same ids twice (the caches); and
// for Qwen3 (byte-level, NFC) Decode gives back the NFC of the text.
func FuzzEncodeLlama2(f *testing.F)              { fuzzRealEncode(f, "llama2") }
func FuzzEncodeGemma3(f *testing.F)              { fuzzRealEncode(f, "gemma3") }
func FuzzEncodeQwen3(f *testing.F)               { fuzzRealEncode(f, "qwen3") }
func FuzzEncodeUnigramT5(f *testing.F)           { fuzzRealEncode(f, "unigram_t5style") }
func FuzzEncodeUnigramByteFallback(f *testing.F) { fuzzRealEncode(f, "unigram_bytefallback") }

func fuzzRealEncode(f *testing.F, name string) {
	var tk *Tokenizer
	for _, src := range realSources(f) {
		if src.Name == name {
			tk = realTokenizer(f, src)
		}
	}
	if tk == nil {
		f.Fatalf("no %s in sources.json", name)
	}
	for i, c := range loadRealGolden(f, name).Cases {
		if i%5 == 0 && len(c.Text) < 200 {
			f.Add(c.Text)
		}
	}
	f.Add("pick \xff\xfe up")
	f.Add("<s><|im_start|><bos><unused12><|im_end")
	f.Fuzz(func(t *testing.T, text string) {
		valid := utf8.ValidString(text)
		for _, special := range []bool{false, true} {
			ids, err := tk.Encode(text, special)
			if err != nil {
				if valid || !errors.Is(err, ErrInvalid) {
					t.Fatalf("%q: %v", text, err)
				}
				continue
			}
			checkIDs(t, tk, ids, false)
			again, err := tk.Encode(text, special)
			if err != nil || !slices.Equal(again, ids) {
				t.Fatalf("%q: second Encode %v, %v; first %v", text, again, err, ids)
			}
			back, err := tk.Decode(ids, false)
			if err != nil {
				t.Fatalf("Decode(%v): %v", ids, err)
			}
			if name == "qwen3" && !special && back != norm.NFC.String(text) {
				t.Fatalf("qwen3 round trip: %q → %v → %q", text, ids, back)
			}
			if _, err := tk.Decode(ids, true); err != nil {
				t.Fatalf("Decode(%v, skip): %v", ids, err)
			}
		}
	})
}

// FuzzParseReal parses a file made of a small real-layout base
// (testdata/real/unigram_bytefallback.json) with one component replaced
// by arbitrary bytes, seeded with the components of every real file: no
// panic or hang, errors wrap a sentinel, and a tokenizer that parses
// encodes and decodes a few sentences.
func FuzzParseReal(f *testing.F) {
	fields := []string{"normalizer", "pre_tokenizer", "post_processor", "decoder", "model", "added_tokens"}
	parts := func(tb testing.TB, data []byte) map[string]json.RawMessage {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(data, &m); err != nil {
			tb.Fatal(err)
		}
		return m
	}
	baseData, err := os.ReadFile("testdata/real/unigram_bytefallback.json")
	if err != nil {
		f.Fatal(err)
	}
	base := parts(f, baseData)
	for _, src := range realSources(f) {
		var data []byte
		if src.File != "" {
			data, err = os.ReadFile("testdata/real/" + src.File)
		} else {
			data, err = npmfile.Read(src.spec())
		}
		if err != nil {
			continue // an npm file out of reach only leaves out its seeds
		}
		m := parts(f, data)
		for i, field := range fields {
			if c := m[field]; len(c) > 0 && len(c) < 1<<20 {
				f.Add(byte(i), []byte(c))
			}
		}
	}
	f.Add(byte(0), []byte(`{"type":"Precompiled","precompiled_charsmap":"AAAAAA=="}`))
	f.Add(byte(4), []byte(`{"type":"Unigram","unk_id":0,"vocab":[["<unk>",0],["a",-1],["ab",-1.5],["",-2]],"byte_fallback":true}`))
	f.Fuzz(func(t *testing.T, which byte, comp []byte) {
		var b bytes.Buffer
		b.WriteByte('{')
		for i, field := range fields {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%q:", field)
			if int(which)%len(fields) == i {
				b.Write(comp)
			} else {
				b.Write(base[field])
			}
		}
		b.WriteByte('}')
		tk, err := Parse(b.Bytes())
		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("Parse error wraps no sentinel: %v", err)
			}
			return
		}
		for _, text := range []string{liberoInstruction, "  Café 🤖 x=12, <s>[OBJ] ﬁ\t\n把 ", ""} {
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
