package text

import (
	"fmt"
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
		at, end, tok := t.rawMatch.next(text)
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
		at, end, tok := t.normMatch.next(seg)
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
