package text

import (
	"errors"
	"io/fs"
	"math"
	"strings"
	"testing"
)

// TestParseUnsupported: a component this package does not implement fails
// Parse with ErrUnsupported and a message naming it, rather than
// tokenizing differently from the original.
func TestParseUnsupported(t *testing.T) {
	bpe := func(extra string) string {
		return `{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]` + extra + `}`
	}
	replace := func(re string) string {
		return `{"type":"Replace","pattern":{"Regex":` + re + `},"content":""}`
	}
	for _, tc := range []struct {
		field, value, names string
	}{
		{"model", bpe(`,"dropout":0.1`), "dropout"},
		{"normalizer", `{"type":"NFKC_CF"}`, "NFKC_CF"},
		{"normalizer", `{"type":"Sequence","normalizers":[{"type":"Lowercase"},{"type":"ByteLevel"}]}`, "ByteLevel"},
		{"normalizer", replace(`"(?=a)b"`), "(?=a)b"},
		{"normalizer", replace(`"[a[bc]]"`), "nested class"},
		{"normalizer", replace(`"[a-z&&[^aeiou]]"`), "intersection"},
		{"normalizer", replace(`"[\\w&&b]"`), "intersection"},
		{"normalizer", replace(`"[\\S,]"`), `\S inside a class`},
		{"normalizer", replace(`"a\\Z"`), `\Z`},
		{"pre_tokenizer", `{"type":"Split","pattern":{"Regex":"(?<=a)b"},"behavior":"Removed","invert":false}`, "Split"},
		{"pre_tokenizer", `{"type":"Split","pattern":{"Regex":"\\w+"},"behavior":"Removed","invert":false}`, "Split"},
		{"pre_tokenizer", `{"type":"Split","pattern":{"Regex":"a*"},"behavior":"Removed","invert":false}`, "empty string"},
		{"pre_tokenizer", `{"type":"Split","pattern":{"String":"a"},"behavior":"Sideways","invert":false}`, "Sideways"},
		{"decoder", `{"type":"CTC"}`, "CTC"},
		{"pre_tokenizer", `{"type":"Digits","individual_digits":true}`, "Digits"},
		{"pre_tokenizer", `{"type":"Metaspace","replacement":"▁","prepend_scheme":"sometimes"}`, "sometimes"},
		{"pre_tokenizer", `{"type":"Sequence","pretokenizers":[{"type":"WhitespaceSplit"},{"type":"Metaspace","prepend_scheme":"first"}]}`, "first"},
		{"post_processor", `{"type":"Fancy"}`, "Fancy"},
		{"post_processor", `{"type":"TemplateProcessing","single":[{"Sequence":{"id":"B"}}],"special_tokens":{}}`, "$A"},
		{"post_processor", `{"type":"Sequence","processors":[` +
			`{"type":"BertProcessing","sep":["up",2],"cls":["pick",1]},` +
			`{"type":"RobertaProcessing","sep":["up",2],"cls":["pick",1]}]}`, "two"},
	} {
		_, err := Parse(fileWith(t, map[string]any{tc.field: rawJSON(tc.value)}))
		if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), tc.names) {
			t.Errorf("%s %s: err = %v, want ErrUnsupported naming %q", tc.field, tc.value, err, tc.names)
		}
	}
}

// TestNormalizedAddedToken: a normalized added token is found by its
// normalised content in the normalised text (here NFC composes both).
func TestNormalizedAddedToken(t *testing.T) {
	tk := mustParse(t, fileWith(t, map[string]any{
		"normalizer":   rawJSON(`{"type":"NFC"}`),
		"added_tokens": rawJSON(`[{"id":9,"content":"cafe\u0301","normalized":true}]`),
	}))
	for _, text := range []string{"pick café", "pick cafe\u0301"} {
		ids, err := tk.Encode(text, false)
		if err != nil || len(ids) != 2 || ids[0] != 1 || ids[1] != 9 {
			t.Errorf("%q: %v, %v; want [1 9]", text, ids, err)
		}
	}
}

// TestParseInvalid: malformed or inconsistent files fail with ErrInvalid.
func TestParseInvalid(t *testing.T) {
	wl := func(vocab, extra string) string { return `{"type":"WordLevel","vocab":` + vocab + extra + `}` }
	bpe := func(vocab, merges, extra string) string {
		return `{"type":"BPE","vocab":` + vocab + `,"merges":` + merges + extra + `}`
	}
	for _, tc := range []struct {
		name  string
		data  string // whole file; empty: field and value replace one field
		field string
		value string
	}{
		{name: "truncated", data: `{"model": {"type": "WordLevel", "vocab": {"a": 0}`},
		{name: "not an object", data: `[1, 2]`},
		{name: "empty", data: ``},
		{name: "no model", field: "model", value: `null`},
		{name: "model not an object", field: "model", value: `"BPE"`},
		{name: "empty vocab", field: "model", value: wl(`{}`, ``)},
		{name: "duplicate id", field: "model", value: wl(`{"a":0,"b":0}`, ``)},
		{name: "negative id", field: "model", value: wl(`{"a":-1}`, ``)},
		{name: "huge id", field: "model", value: wl(`{"a":4294967296}`, ``)},
		{name: "unk not in vocab", field: "model", value: wl(`{"a":0}`, `,"unk_token":"[UNK]"`)},
		{name: "WordPiece without unk", field: "model", value: `{"type":"WordPiece","vocab":{"a":0}}`},
		{name: "merge of unknown token", field: "model", value: bpe(`{"a":0,"b":1,"ab":2}`, `["a c"]`, ``)},
		{name: "merge result not in vocab", field: "model", value: bpe(`{"a":0,"b":1}`, `["a b"]`, ``)},
		{name: "merge of three", field: "model", value: bpe(`{"a":0,"b":1,"ab":2}`, `["a b c"]`, ``)},
		{name: "merge pair of one", field: "model", value: bpe(`{"a":0,"b":1,"ab":2}`, `[["a"]]`, ``)},
		{name: "byte_fallback without bytes", field: "model", value: bpe(`{"a":0,"b":1,"ab":2}`, `["a b"]`, `,"byte_fallback":true`)},
		{name: "Unigram empty", field: "model", value: `{"type":"Unigram","vocab":[]}`},
		{name: "Unigram unk outside", field: "model", value: `{"type":"Unigram","vocab":[["a",0.0]],"unk_id":1}`},
		{name: "Unigram entry not a pair", field: "model", value: `{"type":"Unigram","vocab":[["a","x"]]}`},
		{name: "Unigram duplicate piece", field: "model", value: `{"type":"Unigram","vocab":[["a",0.0],["a",-1.0]]}`},
		{name: "Precompiled empty", field: "normalizer", value: `{"type":"Precompiled","precompiled_charsmap":""}`},
		{name: "Precompiled not base64", field: "normalizer", value: `{"type":"Precompiled","precompiled_charsmap":"!!"}`},
		{name: "Precompiled trie too long", field: "normalizer", value: `{"type":"Precompiled","precompiled_charsmap":"/////w=="}`},
		{name: "Strip decoder content", field: "decoder", value: `{"type":"Strip","content":"ab","start":1,"stop":0}`},
		{name: "added token empty", field: "added_tokens", value: `[{"id":7,"content":""}]`},
		{name: "added token negative id", field: "added_tokens", value: `[{"id":-3,"content":"<x>"}]`},
		{name: "added token id disagrees", field: "added_tokens", value: `[{"id":7,"content":"pick"}]`},
		{name: "two strings, one id", field: "added_tokens", value: `[{"id":1,"content":"<x>"}]`},
		{name: "metaspace empty replacement", field: "pre_tokenizer", value: `{"type":"Metaspace","replacement":""}`},
		{name: "metaspace long replacement", field: "pre_tokenizer", value: `{"type":"Metaspace","replacement":"__"}`},
		{name: "pattern without kind", field: "normalizer", value: `{"type":"Replace","pattern":{},"content":""}`},
		{name: "strip not bools", field: "normalizer", value: `{"type":"Strip","strip_left":"yes"}`},
		{name: "template undefined token", field: "post_processor", value: `{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"[CLS]"}},{"Sequence":{"id":"A"}}],"special_tokens":{}}`},
		{name: "template without $A", field: "post_processor", value: `{"type":"TemplateProcessing","single":[],"special_tokens":{}}`},
		{name: "template piece empty", field: "post_processor", value: `{"type":"TemplateProcessing","single":[{}],"special_tokens":{}}`},
		{name: "template id not in vocab", field: "post_processor", value: `{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"X"}},{"Sequence":{"id":"A"}}],"special_tokens":{"X":{"ids":[99]}}}`},
		{name: "bert processing short", field: "post_processor", value: `{"type":"BertProcessing","sep":["up"],"cls":["pick",1]}`},
		{name: "bert processing id not a number", field: "post_processor", value: `{"type":"BertProcessing","sep":["up","2"],"cls":["pick",1]}`},
		{name: "bert processing id not in vocab", field: "post_processor", value: `{"type":"BertProcessing","sep":["up",2],"cls":["pick",100]}`},
		{name: "component type not a string", field: "normalizer", value: `{"type":7}`},
	} {
		data := []byte(tc.data)
		if tc.field != "" {
			data = fileWith(t, map[string]any{tc.field: rawJSON(tc.value)})
		}
		if _, err := Parse(data); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", tc.name, err)
		}
	}
}

func TestParseTooLarge(t *testing.T) {
	if _, err := Parse(make([]byte, MaxFileBytes+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("err = %v, want ErrTooLarge", err)
	}
}

func TestLoadErrors(t *testing.T) {
	if _, err := Load("testdata/no-such-tokenizer.json"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	// The path is named, the sentinel kept.
	_, err := Load("testdata/golden.json")
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "golden.json") {
		t.Errorf("golden.json is no tokenizer: %v", err)
	}
}

// TestEncodeErrors: text the tokenizer cannot represent is an error, and
// AppendEncode then leaves dst as it was.
func TestEncodeErrors(t *testing.T) {
	noUnk := mustParse(t, fileWith(t, map[string]any{"model": rawJSON(`{"type":"WordLevel","vocab":{"pick":0,"up":1}}`)}))
	bpeNoUnk := mustParse(t, fileWith(t, map[string]any{
		"model": rawJSON(`{"type":"BPE","vocab":{"p":0,"i":1,"c":2,"k":3,"pi":4},"merges":["p i"]}`),
	}))
	for _, tc := range []struct {
		name string
		tk   *Tokenizer
		text string
		want error
	}{
		{"WordLevel unknown word", noUnk, "pick the cup", ErrInvalid},
		{"BPE unknown character", bpeNoUnk, "pick!", ErrInvalid},
		{"invalid UTF-8", noUnk, "pick \xff", ErrInvalid},
	} {
		dst := []int64{42}
		got, err := tc.tk.AppendEncode(dst, tc.text, true)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
		if len(got) != 1 || got[0] != 42 {
			t.Errorf("%s: dst = %v, want [42]", tc.name, got)
		}
	}
	// The same text the model can represent encodes.
	if ids, err := noUnk.Encode("pick up", false); err != nil || len(ids) != 2 {
		t.Errorf("pick up: %v, %v", ids, err)
	}
}

func TestDecodeOutOfRange(t *testing.T) {
	tk, err := Load("testdata/bytelevel_bpe.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{-1, int64(tk.VocabSize()), math.MaxInt64, math.MinInt64} {
		if s, err := tk.Decode([]int64{0, id}, false); !errors.Is(err, ErrInvalid) {
			t.Errorf("Decode(%d) = %q, %v; want ErrInvalid", id, s, err)
		}
	}
	if s, err := tk.Decode(nil, false); err != nil || s != "" {
		t.Errorf("Decode(nil) = %q, %v", s, err)
	}
}
