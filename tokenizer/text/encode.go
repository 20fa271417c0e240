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
	var err error
	// first: the segment starts the input (Metaspace's "first" scheme).
	for first := true; len(text) > 0; first = false {
		at, end, tok := nextAdded(t.rawAdded, text)
		seg := text
		if tok != nil {
			seg = text[:at]
		}
		if seg != "" {
			if dst, err = t.encodeSegment(dst, seg, first); err != nil {
				return dst[:start], err
			}
		}
		if tok == nil {
			break
		}
		dst, text = append(dst, tok.ID), text[end:]
	}
	if addSpecial && t.post != nil {
		dst = t.post.apply(dst, start)
	}
	return dst, nil
}

// nextAdded finds the leftmost token of added in s (longest at a tie: added
// is sorted so) and returns the span it takes, widened by its lstrip/rstrip
// whitespace. Like the Rust library's Aho-Corasick scan, a single_word token
// that is not a whole word is skipped over, not searched inside.
func nextAdded(added []addedToken, s string) (at, end int, tok *addedToken) {
	for off := 0; off < len(s); off = end {
		at, tok = -1, nil
		for i := range added {
			if j := strings.Index(s[off:], added[i].Content); j >= 0 && (at < 0 || off+j < at) {
				at, tok = off+j, &added[i]
			}
		}
		if tok == nil {
			break
		}
		end = at + len(tok.Content)
		if tok.SingleWord && !wordBoundary(s, at, end) {
			continue
		}
		if tok.LStrip {
			at = len(strings.TrimRightFunc(s[:at], unicode.IsSpace))
		}
		if tok.RStrip {
			end = len(s) - len(strings.TrimLeftFunc(s[end:], unicode.IsSpace))
		}
		return at, end, tok
	}
	return 0, 0, nil
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

// encodeSegment normalises text that holds no raw-matched added token,
// then encodes the pieces between its normalized added tokens.
func (t *Tokenizer) encodeSegment(dst []int64, seg string, first bool) ([]int64, error) {
	var err error
	if t.norm != nil {
		if seg, err = t.norm(seg); err != nil {
			return dst, err
		}
	}
	for ; len(seg) > 0; first = false {
		at, end, tok := nextAdded(t.normAdded, seg)
		piece := seg
		if tok != nil {
			piece = seg[:at]
		}
		if piece != "" {
			if dst, err = t.encodePiece(dst, piece, first); err != nil {
				return dst, err
			}
		}
		if tok == nil {
			break
		}
		dst, seg = append(dst, tok.ID), seg[end:]
	}
	return dst, nil
}

// encodePiece pre-tokenizes normalised text and runs the model on each word.
func (t *Tokenizer) encodePiece(dst []int64, piece string, first bool) ([]int64, error) {
	words := []string{piece}
	if t.pre != nil {
		words = t.pre.split(words, first)
	}
	var err error
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
	special := t.special
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
