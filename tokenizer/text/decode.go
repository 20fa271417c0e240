package text

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// decoder is one of the file's decoders: like the Rust library's
// Decoder::decode_chain, it maps the tokens to new tokens, which Decode
// finally concatenates.
type decoder interface {
	decodeChain(tokens []string) []string
}

func parseDecoder(raw json.RawMessage) (decoder, error) {
	k, err := kind(raw)
	if err != nil {
		return nil, err
	}
	bad := func(err error) error { return fmt.Errorf("%w: decoder %s: %v", ErrInvalid, k, err) }
	switch k {
	case "":
		return nil, nil
	case "Sequence":
		var s struct {
			Decoders []json.RawMessage `json:"decoders"`
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, bad(err)
		}
		var seq decSeq
		for _, r := range s.Decoders {
			d, err := parseDecoder(r)
			if err != nil {
				return nil, err
			}
			if d != nil {
				seq = append(seq, d)
			}
		}
		return seq, nil
	case "Replace":
		var r struct {
			Pattern pattern `json:"pattern"`
			Content string  `json:"content"`
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			return nil, fmt.Errorf("decoder Replace: %w", wrapInvalid(err))
		}
		if r.Pattern.re != nil && r.Pattern.asciiOnly {
			return nil, fmt.Errorf("%w: decoder Replace regex %q", ErrUnsupported, r.Pattern.str)
		}
		if r.Pattern.re == nil && r.Pattern.str == "" {
			return nil, fmt.Errorf("%w: decoder Replace of the empty string", ErrUnsupported)
		}
		return &decReplace{re: r.Pattern.re, old: r.Pattern.str, content: r.Content}, nil
	case "ByteFallback":
		return decByteFallback{}, nil
	case "Fuse":
		return decFuse{}, nil
	case "Strip":
		var s struct {
			Content string `json:"content"`
			Start   int    `json:"start"`
			Stop    int    `json:"stop"`
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, bad(err)
		}
		if utf8.RuneCountInString(s.Content) != 1 || s.Start < 0 || s.Stop < 0 {
			return nil, fmt.Errorf("%w: decoder Strip needs one content character and counts >= 0", ErrInvalid)
		}
		c, _ := utf8.DecodeRuneInString(s.Content)
		return &decStrip{content: c, start: s.Start, stop: s.Stop}, nil
	case "Metaspace":
		m := &metaspace{Replacement: "▁", PrependScheme: "always", Split: true}
		if err := json.Unmarshal(raw, m); err != nil {
			return nil, bad(err)
		}
		if m.AddPrefixSpace != nil && !*m.AddPrefixSpace {
			m.PrependScheme = "never"
		}
		if utf8.RuneCountInString(m.Replacement) != 1 {
			return nil, fmt.Errorf("%w: decoder Metaspace replacement %q is not one character", ErrInvalid, m.Replacement)
		}
		return decMetaspace{m}, nil
	case "ByteLevel":
		return decByteLevel{}, nil
	case "WordPiece":
		w := &decWordPiece{Prefix: "##", Cleanup: true}
		if err := json.Unmarshal(raw, w); err != nil {
			return nil, bad(err)
		}
		return w, nil
	case "BPEDecoder":
		b := &decBPE{Suffix: "</w>"}
		if err := json.Unmarshal(raw, b); err != nil {
			return nil, bad(err)
		}
		return b, nil
	default:
		return nil, fmt.Errorf("%w: decoder type %q", ErrUnsupported, k)
	}
}

type decSeq []decoder

func (s decSeq) decodeChain(tokens []string) []string {
	for _, d := range s {
		tokens = d.decodeChain(tokens)
	}
	return tokens
}

type decReplace struct {
	re           *regexp.Regexp
	old, content string
}

func (d *decReplace) decodeChain(tokens []string) []string {
	for i, t := range tokens {
		if d.re != nil {
			tokens[i] = d.re.ReplaceAllLiteralString(t, d.content)
		} else {
			tokens[i] = strings.ReplaceAll(t, d.old, d.content)
		}
	}
	return tokens
}

// decByteFallback turns runs of <0xXX> tokens into the text their bytes
// spell, or one U+FFFD per byte when they are not valid UTF-8.
type decByteFallback struct{}

func byteToken(t string) (byte, bool) {
	if len(t) != 6 || !strings.HasPrefix(t, "<0x") || t[5] != '>' {
		return 0, false
	}
	// Rust's u8::from_str_radix, which takes a leading '+'.
	hex := t[3:5]
	if hex[0] == '+' {
		hex = hex[1:]
	}
	var b byte
	for _, c := range []byte(hex) {
		switch {
		case '0' <= c && c <= '9':
			b = b<<4 | (c - '0')
		case 'A' <= c && c <= 'F':
			b = b<<4 | (c - 'A' + 10)
		case 'a' <= c && c <= 'f':
			b = b<<4 | (c - 'a' + 10)
		default:
			return 0, false
		}
	}
	return b, true
}

func (decByteFallback) decodeChain(tokens []string) []string {
	out := tokens[:0:0]
	var pending []byte
	flush := func() {
		if len(pending) == 0 {
			return
		}
		if utf8.Valid(pending) {
			out = append(out, string(pending))
		} else {
			for range pending {
				out = append(out, "\uFFFD")
			}
		}
		pending = pending[:0]
	}
	for _, t := range tokens {
		if b, ok := byteToken(t); ok {
			pending = append(pending, b)
			continue
		}
		flush()
		out = append(out, t)
	}
	flush()
	return out
}

type decFuse struct{}

func (decFuse) decodeChain(tokens []string) []string {
	return []string{strings.Join(tokens, "")}
}

// decStrip removes up to start leading and stop trailing content
// characters from every token.
type decStrip struct {
	content     rune
	start, stop int
}

func (d *decStrip) decodeChain(tokens []string) []string {
	for i, t := range tokens {
		for k := 0; k < d.start; k++ {
			r, n := utf8.DecodeRuneInString(t)
			if n == 0 || r != d.content {
				break
			}
			t = t[n:]
		}
		for k := 0; k < d.stop; k++ {
			r, n := utf8.DecodeLastRuneInString(t)
			if n == 0 || r != d.content {
				break
			}
			t = t[:len(t)-n]
		}
		tokens[i] = t
	}
	return tokens
}

// decMetaspace turns the replacement character back into spaces, dropping
// those of the first token unless the scheme never prepends one.
type decMetaspace struct{ m *metaspace }

func (d decMetaspace) decodeChain(tokens []string) []string {
	for i, t := range tokens {
		if i == 0 && d.m.PrependScheme != "never" {
			tokens[i] = strings.ReplaceAll(t, d.m.Replacement, "")
		} else {
			tokens[i] = strings.ReplaceAll(t, d.m.Replacement, " ")
		}
	}
	return tokens
}

// decByteLevel maps byte-level characters back to bytes; a token holding a
// character outside the map contributes its own UTF-8 bytes. Invalid UTF-8
// becomes U+FFFD, as Rust's from_utf8_lossy does.
type decByteLevel struct{}

func (decByteLevel) decodeChain(tokens []string) []string {
	var raw []byte
	for _, t := range tokens {
		n := len(raw)
		mapped := true
		for _, r := range t {
			b, ok := charToByte[r]
			if !ok {
				mapped = false
				break
			}
			raw = append(raw, b)
		}
		if !mapped {
			raw = append(raw[:n], t...)
		}
	}
	return []string{lossyUTF8(raw)}
}

// lossyUTF8 is Rust's String::from_utf8_lossy: each maximal invalid
// subsequence becomes one U+FFFD.
func lossyUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r != utf8.RuneError || n > 1 {
			sb.Write(b[:n])
			b = b[n:]
			continue
		}
		sb.WriteRune(utf8.RuneError)
		b = b[invalidPrefix(b):]
	}
	return sb.String()
}

// invalidPrefix is the length of the maximal prefix of b that starts a
// valid UTF-8 sequence but does not complete one (at least 1): the unit
// from_utf8_lossy replaces by one U+FFFD.
func invalidPrefix(b []byte) int {
	c := b[0]
	var need int
	lo, hi := byte(0x80), byte(0xBF)
	switch {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
		need = 2
	case c == 0xED:
		need, hi = 2, 0x9F
	case c == 0xF0:
		need, lo = 3, 0x90
	case c >= 0xF1 && c <= 0xF3:
		need = 3
	case c == 0xF4:
		need, hi = 3, 0x8F
	default:
		return 1
	}
	i := 1
	for ; i <= need && i < len(b); i++ {
		if b[i] < lo || b[i] > hi {
			break
		}
		lo, hi = 0x80, 0xBF
	}
	return i
}

// decWordPiece joins WordPiece tokens: a continuation loses its prefix,
// any other token but the first gets a space before it; cleanup undoes
// BERT's spacing around punctuation and contractions.
type decWordPiece struct {
	Prefix  string `json:"prefix"`
	Cleanup bool   `json:"cleanup"`
}

func (d *decWordPiece) decodeChain(tokens []string) []string {
	for i, t := range tokens {
		if i != 0 {
			if s, ok := strings.CutPrefix(t, d.Prefix); ok {
				t = s
			} else {
				t = " " + t
			}
		}
		if d.Cleanup {
			t = cleanupSpaces(t)
		}
		tokens[i] = t
	}
	return tokens
}

// cleanupSpaces is the Rust library's decoders::wordpiece::cleanup:
// replacements applied one after the other, in this order.
func cleanupSpaces(s string) string {
	for _, r := range [...][2]string{
		{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"},
		{" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"},
	} {
		s = strings.ReplaceAll(s, r[0], r[1])
	}
	return s
}

// decBPE replaces the end-of-word suffix by a space (by nothing in the
// last token).
type decBPE struct {
	Suffix string `json:"suffix"`
}

func (d *decBPE) decodeChain(tokens []string) []string {
	if d.Suffix == "" {
		return tokens
	}
	for i, t := range tokens {
		rep := " "
		if i == len(tokens)-1 {
			rep = ""
		}
		tokens[i] = strings.ReplaceAll(t, d.Suffix, rep)
	}
	return tokens
}

// Decode turns ids back into text as the Rust library's Tokenizer::decode
// does: each id becomes its token (added tokens by their content; with
// skipSpecial, special ones are left out), and the file's decoder turns the
// tokens into text; without a decoder the tokens are joined by spaces. An
// id outside the vocabulary is an error (the Rust library drops it).
func (t *Tokenizer) Decode(ids []int64, skipSpecial bool) (string, error) {
	tokens := make([]string, 0, len(ids))
	for _, id := range ids {
		s, ok := t.byID[id]
		if !ok {
			return "", fmt.Errorf("%w: id %d is not in the vocabulary", ErrInvalid, id)
		}
		if skipSpecial && t.special[id] {
			continue
		}
		tokens = append(tokens, s)
	}
	if t.dec == nil {
		return strings.Join(tokens, " "), nil
	}
	if len(tokens) == 0 {
		return "", nil
	}
	return strings.Join(t.dec.decodeChain(tokens), ""), nil
}
