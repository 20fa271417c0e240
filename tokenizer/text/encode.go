package text

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Encode tokenizes text; with addSpecial the post-processor adds its
// special tokens (e.g. Llama's <s>).
func (t *Tokenizer) Encode(text string, addSpecial bool) ([]int64, error) {
	return t.AppendEncode(nil, text, addSpecial)
}

// AppendEncode is Encode appending to dst, so callers can reuse a buffer.
func (t *Tokenizer) AppendEncode(dst []int64, text string, addSpecial bool) ([]int64, error) {
	if !utf8.ValidString(text) {
		return dst, fmt.Errorf("%w: text is not valid UTF-8", ErrInvalid)
	}
	start := len(dst)
	first := true
	var err error
	for len(text) > 0 {
		at, end, tok := t.nextAdded(text)
		if at > 0 || tok == nil {
			seg := text
			if tok != nil {
				seg = text[:at]
			}
			if dst, err = t.encodeSegment(dst, seg, first); err != nil {
				return dst[:start], err
			}
		}
		if tok == nil {
			break
		}
		dst = append(dst, tok.ID)
		text, first = text[end:], false
	}
	if addSpecial && t.post != nil {
		dst = t.post.apply(dst, start)
	}
	return dst, nil
}

// nextAdded finds the earliest added token in s (longest at a tie) and
// returns the span it takes, widened by its lstrip/rstrip whitespace.
func (t *Tokenizer) nextAdded(s string) (at, end int, tok *addedToken) {
	at = -1
	for i := range t.added {
		a := &t.added[i]
		off := 0
		for {
			j := strings.Index(s[off:], a.Content)
			if j < 0 {
				break
			}
			j += off
			k := j + len(a.Content)
			if a.SingleWord && !wordBoundary(s, j, k) {
				off = j + 1
				continue
			}
			if at < 0 || j < at {
				at, end, tok = j, k, a
			}
			break
		}
	}
	if tok == nil {
		return 0, 0, nil
	}
	if tok.LStrip {
		at = len(strings.TrimRightFunc(s[:at], unicode.IsSpace))
	}
	if tok.RStrip {
		end = len(s) - len(strings.TrimLeftFunc(s[end:], unicode.IsSpace))
	}
	return at, end, tok
}

func wordBoundary(s string, i, j int) bool {
	if i > 0 {
		r, _ := utf8.DecodeLastRuneInString(s[:i])
		if isWord(r) {
			return false
		}
	}
	if j < len(s) {
		r, _ := utf8.DecodeRuneInString(s[j:])
		if isWord(r) {
			return false
		}
	}
	return true
}

// encodeSegment normalises, pre-tokenizes and runs the model on text that
// holds no added token.
func (t *Tokenizer) encodeSegment(dst []int64, seg string, first bool) ([]int64, error) {
	var err error
	if t.norm != nil {
		if seg, err = t.norm(seg); err != nil {
			return dst, err
		}
	}
	if seg == "" {
		return dst, nil
	}
	words := []string{seg}
	if t.pre != nil {
		words = t.pre.split(words, first)
	}
	for _, w := range words {
		if w == "" {
			continue
		}
		if dst, err = t.model.appendWord(dst, w); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// Decode turns ids back into text, for logs and debugging: it undoes byte
// fallback, byte-level mapping, the Metaspace character and WordPiece's
// "##". It is not guaranteed to invert Encode exactly.
func (t *Tokenizer) Decode(ids []int64, skipSpecial bool) (string, error) {
	special := map[int64]bool{}
	for _, a := range t.added {
		if a.Special {
			special[a.ID] = true
		}
	}
	var raw []byte
	for _, id := range ids {
		s, ok := t.byID[id]
		if !ok {
			return "", fmt.Errorf("%w: id %d is not in the vocabulary", ErrInvalid, id)
		}
		if special[id] {
			if !skipSpecial {
				raw = append(raw, s...)
			}
			continue
		}
		var b byte
		if len(s) == 6 && strings.HasPrefix(s, "<0x") && s[5] == '>' {
			if _, err := fmt.Sscanf(s, "<0x%02X>", &b); err == nil {
				raw = append(raw, b)
				continue
			}
		}
		if t.byteLv {
			for _, r := range s {
				if c, ok := charToByte[r]; ok {
					raw = append(raw, c)
				}
			}
			continue
		}
		if wp, ok := t.model.(*wordPiece); ok {
			if strings.HasPrefix(s, wp.Prefix) {
				s = s[len(wp.Prefix):]
			} else if len(raw) > 0 {
				raw = append(raw, ' ')
			}
		}
		raw = append(raw, s...)
	}
	out := string(raw)
	if t.meta != nil {
		out = strings.ReplaceAll(out, t.meta.Replacement, " ")
	} else if !t.byteLv {
		out = strings.ReplaceAll(out, "▁", " ")
	}
	if t.meta != nil || strings.HasPrefix(out, " ") && !t.byteLv {
		out = strings.TrimPrefix(out, " ")
	}
	return out, nil
}
