package fast

import (
	"bytes"
	"container/heap"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/efferent/efferent/tokenizer"
)

// MaxVocabBytes bounds a vocabulary file (the real FAST tokenizer.json is
// about 0.7 MB).
const MaxVocabBytes = 64 << 20

// maxVocabSize bounds the number of BPE tokens.
const maxVocabSize = 1 << 20

// Vocab is a FAST BPE vocabulary: the byte-level BPE of a Hugging Face
// tokenizer.json, as the FAST processor trains and saves it. It is
// read-only after ParseVocab and safe for concurrent use.
type Vocab struct {
	tokens []string           // id → token, as in the file
	ids    map[string]int32   // token → id
	merges map[[2]int32]merge // (left, right) → rank and result
	// data[off[id]:off[id+1]] are the bytes token id decodes to.
	data []byte
	off  []int32
	// byteID[b] is the id of the one-character token of byte b's
	// byte-level character, −1 if the vocabulary lacks it.
	byteID       [256]int32
	ignoreMerges bool
}

type merge struct{ rank, id int32 }

// Size is the number of BPE tokens (FAST ids are 0 .. Size−1).
func (v *Vocab) Size() int { return len(v.tokens) }

// Token returns token id's string as the file spells it (byte-level
// characters).
func (v *Vocab) Token(id int) string { return v.tokens[id] }

// Bytes returns the bytes token id decodes to (aliased: do not modify).
func (v *Vocab) Bytes(id int) []byte { return v.data[v.off[id]:v.off[id+1]] }

// LoadVocab reads a tokenizer.json.
func LoadVocab(path string) (*Vocab, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > MaxVocabBytes {
		return nil, fmt.Errorf("%w: %s is %d bytes, limit %d", tokenizer.ErrConfig, path, st.Size(), MaxVocabBytes)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	v, err := ParseVocab(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// tokenizerFile is the part of a tokenizer.json that FAST uses.
type tokenizerFile struct {
	AddedTokens   []json.RawMessage `json:"added_tokens"`
	Normalizer    json.RawMessage   `json:"normalizer"`
	PreTokenizer  json.RawMessage   `json:"pre_tokenizer"`
	PostProcessor json.RawMessage   `json:"post_processor"`
	Decoder       json.RawMessage   `json:"decoder"`
	Model         *struct {
		Type                    string            `json:"type"`
		Dropout                 *float64          `json:"dropout"`
		UnkToken                *string           `json:"unk_token"`
		ContinuingSubwordPrefix *string           `json:"continuing_subword_prefix"`
		EndOfWordSuffix         *string           `json:"end_of_word_suffix"`
		ByteFallback            bool              `json:"byte_fallback"`
		IgnoreMerges            bool              `json:"ignore_merges"`
		Vocab                   map[string]int64  `json:"vocab"`
		Merges                  []json.RawMessage `json:"merges"`
	} `json:"model"`
}

type component struct {
	Type           string `json:"type"`
	AddPrefixSpace bool   `json:"add_prefix_space"`
	UseRegex       *bool  `json:"use_regex"`
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

func parseComponent(raw json.RawMessage, field string) (*component, error) {
	if isNull(raw) {
		return nil, nil
	}
	var c component
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("%w: vocabulary %s: %v", tokenizer.ErrConfig, field, err)
	}
	return &c, nil
}

// ParseVocab decodes and validates a tokenizer.json holding a FAST BPE:
// model BPE (vocab ids 0..n−1, each once; merges as "a b" strings or
// [a, b] pairs, each naming tokens of the vocabulary whose concatenation
// is one too), pre_tokenizer ByteLevel without prefix space and with the
// GPT-2 split, decoder ByteLevel, no normalizer, no added tokens, a
// post_processor that adds nothing (none or ByteLevel), no dropout, unk
// token, subword affixes or byte fallback. Anything else would tokenize
// differently from the processor and is refused (tokenizer.ErrConfig).
func ParseVocab(data []byte) (*Vocab, error) {
	if len(data) > MaxVocabBytes {
		return nil, fmt.Errorf("%w: vocabulary is %d bytes, limit %d", tokenizer.ErrConfig, len(data), MaxVocabBytes)
	}
	var f tokenizerFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%w: vocabulary: %v", tokenizer.ErrConfig, err)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: vocabulary: %s", tokenizer.ErrConfig, fmt.Sprintf(format, args...))
	}
	m := f.Model
	if m == nil || m.Type != "BPE" {
		return nil, bad("model must be BPE")
	}
	if m.Dropout != nil && *m.Dropout != 0 {
		return nil, bad("BPE dropout %v: FAST decodes deterministically", *m.Dropout)
	}
	if m.UnkToken != nil || m.ByteFallback || (m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "") ||
		(m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "") {
		return nil, bad("unk_token, byte_fallback and subword prefixes/suffixes are not part of a FAST BPE")
	}
	if len(f.AddedTokens) != 0 {
		return nil, bad("%d added tokens: a FAST BPE has none", len(f.AddedTokens))
	}
	if !isNull(f.Normalizer) {
		return nil, bad("a normalizer: a FAST BPE has none")
	}
	pre, err := parseComponent(f.PreTokenizer, "pre_tokenizer")
	if err != nil {
		return nil, err
	}
	if pre == nil || pre.Type != "ByteLevel" || pre.AddPrefixSpace || (pre.UseRegex != nil && !*pre.UseRegex) {
		return nil, bad("pre_tokenizer must be ByteLevel with add_prefix_space false and use_regex true")
	}
	dec, err := parseComponent(f.Decoder, "decoder")
	if err != nil {
		return nil, err
	}
	if dec == nil || dec.Type != "ByteLevel" {
		return nil, bad("decoder must be ByteLevel")
	}
	post, err := parseComponent(f.PostProcessor, "post_processor")
	if err != nil {
		return nil, err
	}
	if post != nil && post.Type != "ByteLevel" {
		return nil, bad("post_processor %q may add tokens; want none or ByteLevel", post.Type)
	}
	n := len(m.Vocab)
	if n == 0 || n > maxVocabSize {
		return nil, bad("%d tokens, want 1..%d", n, maxVocabSize)
	}
	v := &Vocab{tokens: make([]string, n), ids: make(map[string]int32, n), ignoreMerges: m.IgnoreMerges,
		merges: make(map[[2]int32]merge, len(m.Merges)), off: make([]int32, n+1)}
	for tok, id := range m.Vocab {
		if id < 0 || id >= int64(n) {
			return nil, bad("token %q has id %d, want ids 0..%d, each once", tok, id, n-1)
		}
		if v.tokens[id] != "" {
			return nil, bad("id %d belongs to %q and %q", id, v.tokens[id], tok)
		}
		if tok == "" || !utf8.ValidString(tok) {
			return nil, bad("token %d is empty or not UTF-8", id)
		}
		v.tokens[id] = tok
		v.ids[tok] = int32(id)
	}
	for i, raw := range m.Merges {
		a, b, err := parseMerge(raw)
		if err != nil {
			return nil, bad("merges[%d]: %v", i, err)
		}
		ia, oka := v.ids[a]
		ib, okb := v.ids[b]
		ic, okc := v.ids[a+b]
		if !oka || !okb || !okc {
			return nil, bad("merges[%d] (%q, %q): %q, %q and their concatenation must all be tokens", i, a, b, a, b)
		}
		// A later duplicate overrides an earlier one, as the Rust
		// library's map does.
		v.merges[[2]int32{ia, ib}] = merge{rank: int32(i), id: ic}
	}
	for id, tok := range v.tokens {
		v.off[id] = int32(len(v.data))
		start := len(v.data)
		for _, r := range tok {
			b, ok := charByte(r)
			if !ok { // not byte-level text: the token's own UTF-8 bytes
				v.data = append(v.data[:start], tok...)
				break
			}
			v.data = append(v.data, b)
		}
		if len(v.data) > 1<<30 {
			return nil, bad("tokens too long")
		}
	}
	v.off[n] = int32(len(v.data))
	for b := range 256 {
		v.byteID[b] = -1
		if id, ok := v.ids[string(byteToChar[b])]; ok {
			v.byteID[b] = id
		}
	}
	return v, nil
}

func parseMerge(raw json.RawMessage) (a, b string, err error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		parts := strings.Split(s, " ")
		if len(parts) != 2 {
			return "", "", fmt.Errorf("%q is not two tokens separated by one space", s)
		}
		return parts[0], parts[1], nil
	}
	var pair []string
	if err := json.Unmarshal(raw, &pair); err != nil || len(pair) != 2 {
		return "", "", fmt.Errorf("want \"a b\" or [a, b]")
	}
	return pair[0], pair[1], nil
}

// Byte-level alphabet (GPT-2's bytes_to_unicode): the printable Latin-1
// bytes '!'..'~', '¡'..'¬', '®'..'ÿ' stand for themselves; the other 68
// bytes, in order, for U+0100 upwards.
func printable(b byte) bool {
	return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE)
}

var byteToChar, charToByte = func() ([256]rune, map[rune]byte) {
	var enc [256]rune
	dec := make(map[rune]byte, 256)
	n := rune(0)
	for b := range 256 {
		if printable(byte(b)) {
			enc[b] = rune(b)
		} else {
			enc[b] = 0x100 + n
			n++
		}
		dec[enc[b]] = byte(b)
	}
	return enc, dec
}()

func byteChar(b byte) rune { return byteToChar[b] }

func charByte(r rune) (byte, bool) {
	b, ok := charToByte[r]
	return b, ok
}

// Encode tokenizes s as the processor's BPE does: the GPT-2 split, each
// word's UTF-8 bytes as byte-level characters, merges by rank (the
// leftmost of equal rank first). A byte whose character is not in the
// vocabulary is an error (the Rust library drops it silently).
func (v *Vocab) Encode(s string) ([]int, error) {
	var ids []int
	var h mergeHeap
	rs := []rune(s)
	for start := 0; start < len(rs); {
		end := splitAt(rs, start)
		word := []byte(string(rs[start:end]))
		start = end
		if v.ignoreMerges {
			var sb strings.Builder
			for _, b := range word {
				sb.WriteRune(byteChar(b))
			}
			if id, ok := v.ids[sb.String()]; ok {
				ids = append(ids, int(id))
				continue
			}
		}
		sym := make([]int32, len(word))
		for i, b := range word {
			if sym[i] = v.byteID[b]; sym[i] < 0 {
				return nil, fmt.Errorf("%w: byte 0x%02x (character %q) has no token in the vocabulary", ErrUnrepresentable, b, byteChar(b))
			}
		}
		ids = v.mergeWord(sym, &h, ids)
	}
	return ids, nil
}

type pending struct{ rank, pos, left, right int32 }

type mergeHeap []pending

func (h mergeHeap) Len() int { return len(h) }
func (h mergeHeap) Less(i, j int) bool {
	if h[i].rank != h[j].rank {
		return h[i].rank < h[j].rank
	}
	return h[i].pos < h[j].pos
}
func (h mergeHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *mergeHeap) Push(x any)   { *h = append(*h, x.(pending)) }
func (h *mergeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// mergeWord applies the merges to one word's symbols and appends the
// resulting ids.
func (v *Vocab) mergeWord(sym []int32, h *mergeHeap, ids []int) []int {
	n := int32(len(sym))
	next := make([]int32, n)
	prev := make([]int32, n)
	alive := make([]bool, n)
	for i := range n {
		next[i], prev[i], alive[i] = i+1, i-1, true
	}
	*h = (*h)[:0]
	push := func(i int32) {
		if i < 0 || next[i] >= n {
			return
		}
		if m, ok := v.merges[[2]int32{sym[i], sym[next[i]]}]; ok {
			heap.Push(h, pending{rank: m.rank, pos: i, left: sym[i], right: sym[next[i]]})
		}
	}
	for i := range n {
		push(i)
	}
	for h.Len() > 0 {
		p := heap.Pop(h).(pending)
		i := p.pos
		if !alive[i] || sym[i] != p.left {
			continue
		}
		j := next[i]
		if j >= n || sym[j] != p.right {
			continue
		}
		sym[i] = v.merges[[2]int32{p.left, p.right}].id
		alive[j] = false
		next[i] = next[j]
		if next[j] < n {
			prev[next[j]] = i
		}
		push(prev[i])
		push(i)
	}
	for i := range n {
		if alive[i] {
			ids = append(ids, int(sym[i]))
		}
	}
	return ids
}

// The GPT-2 split of the ByteLevel pre-tokenizer,
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// written out by hand (Go's regexp has no look-ahead): the leftmost
// alternative that matches at each position, each as long as it goes,
// with \s the Unicode White_Space property (as Oniguruma has it).
func isSpace(r rune) bool  { return unicode.Is(unicode.White_Space, r) }
func isLetter(r rune) bool { return unicode.IsLetter(r) }
func isNumber(r rune) bool { return unicode.IsNumber(r) }
func isOther(r rune) bool  { return !isSpace(r) && !isLetter(r) && !isNumber(r) }

var contractions = []string{"s", "t", "re", "ve", "m", "ll", "d"}

// splitAt returns the end of the word that starts at rs[i].
func splitAt(rs []rune, i int) int {
	n := len(rs)
	if rs[i] == '\'' {
	next:
		for _, c := range contractions {
			if i+1+len(c) > n {
				continue
			}
			for k, r := range c {
				if rs[i+1+k] != r {
					continue next
				}
			}
			return i + 1 + len(c)
		}
	}
	j := i
	if rs[i] == ' ' {
		j = i + 1
	}
	for _, class := range [...]func(rune) bool{isLetter, isNumber, isOther} {
		k := j
		for k < n && class(rs[k]) {
			k++
		}
		if k > j {
			return k
		}
	}
	k := i
	for k < n && isSpace(rs[k]) {
		k++
	}
	if k == n || k-1 == i {
		return k
	}
	return k - 1
}
