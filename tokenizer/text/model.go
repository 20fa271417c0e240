package text

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"
)

// model turns one pre-tokenized word into ids.
type model interface {
	appendWord(dst []int64, word string) ([]int64, error)
}

func parseModel(raw json.RawMessage) (model, map[string]int64, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil, fmt.Errorf("%w: model is missing", ErrInvalid)
	}
	// One pass over the (large) model: its fields, raw; then each field
	// alone, so that the vocab and merges are scanned once each.
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, nil, fmt.Errorf("%w: model: %v", ErrInvalid, err)
	}
	var k string
	if t, ok := fields["type"]; ok && string(t) != "null" {
		if err := json.Unmarshal(t, &k); err != nil {
			return nil, nil, fmt.Errorf("%w: model type: %v", ErrInvalid, err)
		}
	}
	if k == "" {
		// Old files omit "type" for BPE; detect by the merges field.
		if m := fields["merges"]; len(m) > 0 && string(m) != "null" {
			k = "BPE"
		} else {
			return nil, nil, fmt.Errorf("%w: model is missing", ErrInvalid)
		}
	}
	switch k {
	case "BPE", "WordLevel", "WordPiece":
	case "Unigram":
		return parseUnigram(raw)
	default:
		// Before reading the vocab: Unigram's is a list, not a map.
		return nil, nil, fmt.Errorf("%w: model type %q", ErrUnsupported, k)
	}
	// The small fields, without vocab and merges.
	small := map[string]json.RawMessage{}
	for f, v := range fields {
		if f != "vocab" && f != "merges" {
			small[f] = v
		}
	}
	smallRaw, _ := json.Marshal(small)
	var base struct {
		Vocab    map[string]int64
		UnkToken *string `json:"unk_token"`
	}
	if err := json.Unmarshal(smallRaw, &base); err != nil {
		return nil, nil, fmt.Errorf("%w: model %s: %v", ErrInvalid, k, err)
	}
	if v, ok := fields["vocab"]; ok {
		if err := json.Unmarshal(v, &base.Vocab); err != nil {
			return nil, nil, fmt.Errorf("%w: model %s vocab: %v", ErrInvalid, k, err)
		}
	}
	if len(base.Vocab) == 0 {
		return nil, nil, fmt.Errorf("%w: model %s has an empty vocab", ErrInvalid, k)
	}
	seen := make(map[int64]string, len(base.Vocab))
	for s, id := range base.Vocab {
		if id < 0 || id >= 1<<31 {
			return nil, nil, fmt.Errorf("%w: vocab id %d of %q out of range", ErrInvalid, id, s)
		}
		if prev, dup := seen[id]; dup {
			return nil, nil, fmt.Errorf("%w: vocab id %d used by %q and %q", ErrInvalid, id, prev, s)
		}
		seen[id] = s
	}
	unk := int64(-1)
	if base.UnkToken != nil {
		id, ok := base.Vocab[*base.UnkToken]
		if !ok {
			return nil, nil, fmt.Errorf("%w: unk_token %q is not in the vocab", ErrInvalid, *base.UnkToken)
		}
		unk = id
	}
	switch k {
	case "BPE":
		m, err := parseBPE(smallRaw, fields["merges"], base.Vocab, unk)
		return m, base.Vocab, err
	case "WordLevel":
		return &wordLevel{vocab: base.Vocab, unk: unk}, base.Vocab, nil
	case "WordPiece":
		wp := &wordPiece{vocab: base.Vocab, unk: unk, Prefix: "##", MaxChars: 100}
		if err := json.Unmarshal(smallRaw, wp); err != nil {
			return nil, nil, fmt.Errorf("%w: model WordPiece: %v", ErrInvalid, err)
		}
		if unk < 0 {
			return nil, nil, fmt.Errorf("%w: WordPiece needs unk_token", ErrInvalid)
		}
		return wp, base.Vocab, nil
	default:
		return nil, nil, fmt.Errorf("%w: model type %q", ErrUnsupported, k)
	}
}

// errUnknown reports a word piece the model cannot represent.
func errUnknown(word string) error {
	return fmt.Errorf("%w: %q has no token and the model has no unk_token", ErrInvalid, word)
}

type wordLevel struct {
	vocab map[string]int64
	unk   int64
}

func (m *wordLevel) appendWord(dst []int64, w string) ([]int64, error) {
	if id, ok := m.vocab[w]; ok {
		return append(dst, id), nil
	}
	if m.unk < 0 {
		return dst, errUnknown(w)
	}
	return append(dst, m.unk), nil
}

// wordPiece is BERT's greedy longest-match-first sub-word model.
type wordPiece struct {
	vocab    map[string]int64
	unk      int64
	Prefix   string `json:"continuing_subword_prefix"`
	MaxChars int    `json:"max_input_chars_per_word"`
}

func (m *wordPiece) appendWord(dst []int64, w string) ([]int64, error) {
	if utf8.RuneCountInString(w) > m.MaxChars {
		return append(dst, m.unk), nil
	}
	n := len(dst)
	for start := 0; start < len(w); {
		end, found := len(w), int64(-1)
		for end > start {
			sub := w[start:end]
			if start > 0 {
				sub = m.Prefix + sub
			}
			if id, ok := m.vocab[sub]; ok {
				found = id
				break
			}
			_, size := utf8.DecodeLastRuneInString(w[start:end])
			end -= size
		}
		if found < 0 {
			return append(dst[:n], m.unk), nil
		}
		dst, start = append(dst, found), end
	}
	return dst, nil
}

// bpe is byte-pair encoding as the Rust library implements it: start from
// characters (byte-fallback tokens for characters not in the vocabulary),
// repeatedly merge the adjacent pair of lowest rank (leftmost first).
type bpe struct {
	vocab        map[string]int64
	unk          int64
	ranks        map[[2]int64]merge
	byteFallback bool
	fuseUnk      bool
	prefix       string
	suffix       string
	ignoreMerges bool
	byteIDs      [256]int64

	words wordCache
}

type merge struct {
	rank int
	id   int64
}

// maxCache bounds the per-word cache; it is cleared when full.
const maxCache = 10000

// wordCache remembers each word's ids, so that an instruction a robot
// sends again and again is split into pieces once: BPE's merges and
// Unigram's lattice allocate. It is bounded and guarded (a Tokenizer may
// be shared).
type wordCache struct {
	mu sync.Mutex
	m  map[string][]int64
}

// append appends w's ids to dst, from the cache or from encode.
func (c *wordCache) append(dst []int64, w string, encode func([]int64, string) ([]int64, error)) ([]int64, error) {
	c.mu.Lock()
	ids, ok := c.m[w]
	c.mu.Unlock()
	if ok {
		return append(dst, ids...), nil
	}
	n := len(dst)
	dst, err := encode(dst, w)
	if err != nil {
		return dst[:n], err
	}
	c.mu.Lock()
	switch {
	case c.m == nil:
		c.m = map[string][]int64{}
	case len(c.m) >= maxCache:
		clear(c.m)
	}
	c.m[w] = append([]int64(nil), dst[n:]...)
	c.mu.Unlock()
	return dst, nil
}

// reset empties the cache.
func (c *wordCache) reset() {
	c.mu.Lock()
	clear(c.m)
	c.mu.Unlock()
}

func parseBPE(raw, mergesRaw json.RawMessage, vocab map[string]int64, unk int64) (*bpe, error) {
	var b struct {
		Merges       []json.RawMessage
		Dropout      *float64 `json:"dropout"`
		FuseUnk      bool     `json:"fuse_unk"`
		ByteFallback bool     `json:"byte_fallback"`
		Prefix       *string  `json:"continuing_subword_prefix"`
		Suffix       *string  `json:"end_of_word_suffix"`
		IgnoreMerges bool     `json:"ignore_merges"`
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, fmt.Errorf("%w: model BPE: %v", ErrInvalid, err)
	}
	if b.Dropout != nil && *b.Dropout != 0 {
		return nil, fmt.Errorf("%w: BPE dropout %v (non-deterministic)", ErrUnsupported, *b.Dropout)
	}
	// Merges as [a, b] pairs (newer files) or "a b" strings, decoded in one
	// go; element by element only for a mixed list.
	var pairs [][]string
	var strs []string
	if len(mergesRaw) > 0 && string(mergesRaw) != "null" {
		if json.Unmarshal(mergesRaw, &pairs) != nil {
			pairs = nil
			if json.Unmarshal(mergesRaw, &strs) != nil {
				strs = nil
				if err := json.Unmarshal(mergesRaw, &b.Merges); err != nil {
					return nil, fmt.Errorf("%w: model BPE merges: %v", ErrInvalid, err)
				}
			}
		}
	}

	m := &bpe{vocab: vocab, unk: unk, ranks: make(map[[2]int64]merge, max(len(pairs), len(strs), len(b.Merges))),
		byteFallback: b.ByteFallback, fuseUnk: b.FuseUnk, ignoreMerges: b.IgnoreMerges}
	if b.Prefix != nil {
		m.prefix = *b.Prefix
	}
	if b.Suffix != nil {
		m.suffix = *b.Suffix
	}
	// mergeAt returns merge i as its two tokens; skip for a header line.
	mergeAt := func(i int) (a, c string, skip bool, err error) {
		var str string
		switch {
		case pairs != nil:
			if len(pairs[i]) != 2 {
				return "", "", false, fmt.Errorf("%w: merge %d is neither \"a b\" nor [a, b]", ErrInvalid, i)
			}
			return pairs[i][0], pairs[i][1], false, nil
		case strs != nil:
			str = strs[i]
		default:
			if json.Unmarshal(b.Merges[i], &str) != nil {
				var pair []string
				if err := json.Unmarshal(b.Merges[i], &pair); err != nil || len(pair) != 2 {
					return "", "", false, fmt.Errorf("%w: merge %d is neither \"a b\" nor [a, b]", ErrInvalid, i)
				}
				return pair[0], pair[1], false, nil
			}
		}
		if strings.HasPrefix(str, "#version") {
			return "", "", true, nil // a merges.txt header; the Rust library skips it
		}
		parts := strings.Split(str, " ")
		if len(parts) != 2 {
			return "", "", false, fmt.Errorf("%w: merge %d %q is not two tokens", ErrInvalid, i, str)
		}
		return parts[0], parts[1], false, nil
	}
	for i := range max(len(pairs), len(strs), len(b.Merges)) {
		a, c, skip, err := mergeAt(i)
		if err != nil {
			return nil, err
		}
		if skip {
			continue
		}
		ia, ok1 := vocab[a]
		ic, ok2 := vocab[c]
		merged := a + strings.TrimPrefix(c, m.prefix)
		im, ok3 := vocab[merged]
		if !ok1 || !ok2 || !ok3 {
			return nil, fmt.Errorf("%w: merge %d (%q, %q) names a token not in the vocab", ErrInvalid, i, a, c)
		}
		// A repeated pair takes its last rank: the Rust library collects
		// the merges into a map, so later entries overwrite earlier ones.
		m.ranks[[2]int64{ia, ic}] = merge{rank: i, id: im}
	}
	if m.byteFallback {
		for i := range m.byteIDs {
			id, ok := vocab[fmt.Sprintf("<0x%02X>", i)]
			if !ok {
				return nil, fmt.Errorf("%w: byte_fallback is on but <0x%02X> is not in the vocab", ErrInvalid, i)
			}
			m.byteIDs[i] = id
		}
	}
	return m, nil
}

func (m *bpe) appendWord(dst []int64, w string) ([]int64, error) {
	return m.words.append(dst, w, m.encode)
}

func (m *bpe) encode(dst []int64, w string) ([]int64, error) {
	if m.ignoreMerges {
		// The whole word, without end_of_word_suffix, as the Rust library.
		if id, ok := m.vocab[w]; ok {
			return append(dst, id), nil
		}
	}
	// Symbols: vocab ids; -1 marks a character the vocab lacks that must
	// become unk (no byte fallback), kept so fuse_unk can merge runs.
	syms := make([]int64, 0, len(w))
	nRunes := utf8.RuneCountInString(w)
	k := 0
	for i, r := range w {
		s := w[i : i+utf8.RuneLen(r)]
		if k > 0 {
			s = m.prefix + s
		}
		if k == nRunes-1 {
			s += m.suffix
		}
		k++
		if id, ok := m.vocab[s]; ok {
			syms = append(syms, id)
			continue
		}
		if m.byteFallback {
			// The bytes of the symbol as looked up, prefix and suffix
			// included, as the Rust library does.
			for j := 0; j < len(s); j++ {
				syms = append(syms, m.byteIDs[s[j]])
			}
			continue
		}
		if m.unk < 0 {
			return dst, errUnknown(s)
		}
		syms = append(syms, -1)
	}
	syms = m.mergeAll(syms)
	prevUnk := false
	for _, s := range syms {
		if s < 0 {
			if m.fuseUnk && prevUnk {
				continue
			}
			dst, prevUnk = append(dst, m.unk), true
			continue
		}
		dst, prevUnk = append(dst, s), false
	}
	return dst, nil
}

// clearCache empties the model's word cache (benchmarks).
func (t *Tokenizer) clearCache() {
	switch m := t.model.(type) {
	case *bpe:
		m.words.reset()
	case *unigram:
		m.words.reset()
	}
}

// mergeAll applies the merges as the Rust library's Word::merge_all does:
// a heap of candidate pairs ordered by rank, then position, each checked
// against the current symbols when popped; the pair of lowest rank, the
// leftmost among equals, merges first. -1 (unk) never merges.
func (m *bpe) mergeAll(syms []int64) []int64 {
	n := len(syms)
	if n < 2 {
		return syms
	}
	next := make([]int32, n)
	prev := make([]int32, n)
	for i := range syms {
		next[i], prev[i] = int32(i+1), int32(i-1)
	}
	next[n-1] = -1
	var h pairHeap
	push := func(i, j int32) {
		if syms[i] < 0 || syms[j] < 0 {
			return
		}
		if mg, ok := m.ranks[[2]int64{syms[i], syms[j]}]; ok {
			h.push(pairItem{rank: int32(mg.rank), pos: i, id: mg.id})
		}
	}
	for i := int32(0); i+1 < int32(n); i++ {
		push(i, i+1)
	}
	for len(h) > 0 {
		top := h.pop()
		if syms[top.pos] == removedSym || next[top.pos] < 0 {
			continue
		}
		r := next[top.pos]
		if mg, ok := m.ranks[[2]int64{syms[top.pos], syms[r]}]; !ok || mg.id != top.id || syms[top.pos] < 0 || syms[r] < 0 {
			continue // stale: a neighbour merged since
		}
		syms[top.pos], syms[r] = top.id, removedSym
		next[top.pos] = next[r]
		if nr := next[r]; nr >= 0 {
			prev[nr] = top.pos
		}
		if p := prev[top.pos]; p >= 0 {
			push(p, top.pos)
		}
		if nx := next[top.pos]; nx >= 0 {
			push(top.pos, nx)
		}
	}
	out := syms[:0]
	for _, s := range syms {
		if s != removedSym {
			out = append(out, s)
		}
	}
	return out
}

// removedSym marks a symbol merged into its left neighbour.
const removedSym = -2

type pairItem struct {
	rank, pos int32
	id        int64
}

// pairHeap is a binary min-heap on (rank, pos).
type pairHeap []pairItem

func (h pairItem) less(o pairItem) bool {
	return h.rank < o.rank || h.rank == o.rank && h.pos < o.pos
}

func (h *pairHeap) push(x pairItem) {
	*h = append(*h, x)
	a := *h
	for i := len(a) - 1; i > 0; {
		p := (i - 1) / 2
		if !a[i].less(a[p]) {
			break
		}
		a[i], a[p] = a[p], a[i]
		i = p
	}
}

func (h *pairHeap) pop() pairItem {
	a := *h
	top := a[0]
	last := len(a) - 1
	a[0] = a[last]
	a = a[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(a) && a[l].less(a[m]) {
			m = l
		}
		if r < len(a) && a[r].less(a[m]) {
			m = r
		}
		if m == i {
			break
		}
		a[i], a[m] = a[m], a[i]
		i = m
	}
	*h = a
	return top
}
