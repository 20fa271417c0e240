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
	k, err := kind(raw)
	if err != nil {
		return nil, nil, err
	}
	if k == "" {
		// Old files omit "type" for BPE; detect by the merges field.
		var probe struct {
			Merges json.RawMessage `json:"merges"`
		}
		if json.Unmarshal(raw, &probe) == nil && len(probe.Merges) > 0 {
			k = "BPE"
		} else {
			return nil, nil, fmt.Errorf("%w: model is missing", ErrInvalid)
		}
	}
	switch k {
	case "BPE", "WordLevel", "WordPiece":
	default:
		// Before reading the vocab: Unigram's is a list, not a map.
		return nil, nil, fmt.Errorf("%w: model type %q", ErrUnsupported, k)
	}
	var base struct {
		Vocab    map[string]int64 `json:"vocab"`
		UnkToken *string          `json:"unk_token"`
	}
	if err := json.Unmarshal(raw, &base); err != nil {
		return nil, nil, fmt.Errorf("%w: model %s: %v", ErrInvalid, k, err)
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
		m, err := parseBPE(raw, base.Vocab, unk)
		return m, base.Vocab, err
	case "WordLevel":
		return &wordLevel{vocab: base.Vocab, unk: unk}, base.Vocab, nil
	case "WordPiece":
		wp := &wordPiece{vocab: base.Vocab, unk: unk, Prefix: "##", MaxChars: 100}
		if err := json.Unmarshal(raw, wp); err != nil {
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

	mu    sync.Mutex
	cache map[string][]int64
}

type merge struct {
	rank int
	id   int64
}

// maxCache bounds the per-word cache; it is cleared when full.
const maxCache = 10000

func parseBPE(raw json.RawMessage, vocab map[string]int64, unk int64) (*bpe, error) {
	var b struct {
		Merges       []json.RawMessage `json:"merges"`
		Dropout      *float64          `json:"dropout"`
		FuseUnk      bool              `json:"fuse_unk"`
		ByteFallback bool              `json:"byte_fallback"`
		Prefix       *string           `json:"continuing_subword_prefix"`
		Suffix       *string           `json:"end_of_word_suffix"`
		IgnoreMerges bool              `json:"ignore_merges"`
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, fmt.Errorf("%w: model BPE: %v", ErrInvalid, err)
	}
	if b.Dropout != nil && *b.Dropout != 0 {
		return nil, fmt.Errorf("%w: BPE dropout %v (non-deterministic)", ErrUnsupported, *b.Dropout)
	}
	m := &bpe{vocab: vocab, unk: unk, ranks: make(map[[2]int64]merge, len(b.Merges)),
		byteFallback: b.ByteFallback, fuseUnk: b.FuseUnk, ignoreMerges: b.IgnoreMerges, cache: map[string][]int64{}}
	if b.Prefix != nil {
		m.prefix = *b.Prefix
	}
	if b.Suffix != nil {
		m.suffix = *b.Suffix
	}
	for i, r := range b.Merges {
		var a, c string
		var s string
		if err := json.Unmarshal(r, &s); err == nil {
			if strings.HasPrefix(s, "#version") {
				continue // a merges.txt header; the Rust library skips it
			}
			parts := strings.Split(s, " ")
			if len(parts) != 2 {
				return nil, fmt.Errorf("%w: merge %d %q is not two tokens", ErrInvalid, i, s)
			}
			a, c = parts[0], parts[1]
		} else {
			var pair []string
			if err := json.Unmarshal(r, &pair); err != nil || len(pair) != 2 {
				return nil, fmt.Errorf("%w: merge %d is neither \"a b\" nor [a, b]", ErrInvalid, i)
			}
			a, c = pair[0], pair[1]
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
	m.mu.Lock()
	ids, ok := m.cache[w]
	m.mu.Unlock()
	if ok {
		return append(dst, ids...), nil
	}
	n := len(dst)
	dst, err := m.encode(dst, w)
	if err != nil {
		return dst[:n], err
	}
	m.mu.Lock()
	if len(m.cache) >= maxCache {
		clear(m.cache)
	}
	m.cache[w] = append([]int64(nil), dst[n:]...)
	m.mu.Unlock()
	return dst, nil
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
	for {
		best, at := merge{rank: -1}, -1
		for i := 0; i+1 < len(syms); i++ {
			if syms[i] < 0 || syms[i+1] < 0 {
				continue
			}
			if mg, ok := m.ranks[[2]int64{syms[i], syms[i+1]}]; ok && (at < 0 || mg.rank < best.rank) {
				best, at = mg, i
			}
		}
		if at < 0 {
			break
		}
		syms[at] = best.id
		syms = append(syms[:at+1], syms[at+2:]...)
	}
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
