package text

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
)

var (
	// ErrTooLarge: the file exceeds MaxFileBytes.
	ErrTooLarge = errors.New("tokenizer.json too large")
	// ErrUnsupported: the file uses a component this package does not
	// implement (the message names it), or the input needs one.
	ErrUnsupported = errors.New("tokenizer component not supported")
	// ErrInvalid: the file is malformed or inconsistent.
	ErrInvalid = errors.New("invalid tokenizer.json")
)

// MaxFileBytes bounds a tokenizer.json (real ones are a few MB).
const MaxFileBytes = 64 << 20

// Tokenizer encodes text to ids. It is safe for concurrent use except for
// its bounded word cache, which is guarded.
type Tokenizer struct {
	added []addedToken // as in the file
	// As the Rust library does, tokens with normalized: false are found in
	// the raw text; normalized ones in each normalised segment between
	// those, by their own normalised content. Both longest content first.
	rawAdded, normAdded []addedToken
	rawMatch, normMatch *addedMatcher
	special             map[int64]bool
	norm                normalizer
	pre                 preTokenizer
	model               model
	post                postProcessor
	vocab               map[string]int64
	byID                map[int64]string
	dec                 decoder
}

type addedToken struct {
	ID         int64  `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized *bool  `json:"normalized"` // absent: !special, as the Rust library's AddedToken::from
	Special    bool   `json:"special"`
}

type fileJSON struct {
	AddedTokens   []addedToken    `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	Model         json.RawMessage `json:"model"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
}

// Load reads and validates a tokenizer.json.
func Load(path string) (*Tokenizer, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > MaxFileBytes {
		return nil, fmt.Errorf("%w: %s is %d bytes, limit %d", ErrTooLarge, path, st.Size(), MaxFileBytes)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Parse decodes and validates tokenizer.json contents.
func Parse(data []byte) (*Tokenizer, error) {
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(data), MaxFileBytes)
	}
	var f fileJSON
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	t := &Tokenizer{}
	var err error
	if t.model, t.vocab, err = parseModel(f.Model); err != nil {
		return nil, err
	}
	for _, a := range f.AddedTokens {
		if a.Content == "" {
			return nil, fmt.Errorf("%w: added token %d has empty content", ErrInvalid, a.ID)
		}
		if a.ID < 0 {
			return nil, fmt.Errorf("%w: added token %q has negative id", ErrInvalid, a.Content)
		}
		if id, ok := t.vocab[a.Content]; ok && id != a.ID {
			return nil, fmt.Errorf("%w: added token %q has id %d, vocab says %d", ErrInvalid, a.Content, a.ID, id)
		}
		t.vocab[a.Content] = a.ID
		t.added = append(t.added, a)
	}
	t.byID = make(map[int64]string, len(t.vocab))
	for s, id := range t.vocab {
		if prev, dup := t.byID[id]; dup && prev != s {
			// Added tokens may repeat a vocab entry with the same id; two
			// different strings for one id is a broken file.
			return nil, fmt.Errorf("%w: id %d is both %q and %q", ErrInvalid, id, prev, s)
		}
		t.byID[id] = s
	}
	if t.norm, err = parseNormalizer(f.Normalizer); err != nil {
		return nil, err
	}
	if err := t.splitAdded(); err != nil {
		return nil, err
	}
	if t.pre, err = parsePreTokenizer(f.PreTokenizer); err != nil {
		return nil, err
	}
	if t.dec, err = parseDecoder(f.Decoder); err != nil {
		return nil, err
	}
	if t.post, err = parsePostProcessor(f.PostProcessor, t.vocab); err != nil {
		return nil, err
	}
	if tp, ok := t.post.(*template); ok {
		for _, id := range append(append([]int64(nil), tp.before...), tp.after...) {
			if _, ok := t.byID[id]; !ok {
				return nil, fmt.Errorf("%w: post_processor adds id %d, which is not in the vocab", ErrInvalid, id)
			}
		}
	}
	return t, nil
}

// splitAdded fills rawAdded, normAdded and special from added.
func (t *Tokenizer) splitAdded() error {
	t.special = map[int64]bool{}
	for _, a := range t.added {
		if a.Special {
			t.special[a.ID] = true
		}
		normalized := !a.Special
		if a.Normalized != nil {
			normalized = *a.Normalized
		}
		if !normalized || t.norm == nil {
			t.rawAdded = append(t.rawAdded, a)
			continue
		}
		c, err := t.norm(a.Content)
		if err != nil {
			// Its normalised form is unknown (non-ASCII under an NFx
			// stand-in), so neither is where it occurs.
			return fmt.Errorf("added token %q: %w", a.Content, err)
		}
		if c != "" { // one normalised to nothing never matches
			a.Content = c
			t.normAdded = append(t.normAdded, a)
		}
	}
	for _, l := range [][]addedToken{t.rawAdded, t.normAdded} {
		sort.SliceStable(l, func(i, j int) bool { return len(l[i].Content) > len(l[j].Content) })
	}
	t.rawMatch, t.normMatch = newAddedMatcher(t.rawAdded), newAddedMatcher(t.normAdded)
	return nil
}

// kind reads the "type" of a component; null gives "".
func kind(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var k struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &k); err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return k.Type, nil
}

// TokenID returns the id of a token string.
func (t *Tokenizer) TokenID(tok string) (int64, bool) {
	id, ok := t.vocab[tok]
	return id, ok
}

// VocabSize is the number of distinct ids, added tokens included.
func (t *Tokenizer) VocabSize() int { return len(t.byID) }
