package text

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// preTokenizer splits a normalised segment into words; first says whether
// the segment starts the whole input (Metaspace's prepend_scheme "first").
type preTokenizer interface {
	split(words []string, first bool) []string
}

type preSeq []preTokenizer

func (p preSeq) split(words []string, first bool) []string {
	for _, q := range p {
		words = q.split(words, first)
	}
	return words
}

// each applies f to every word and concatenates the results.
func each(words []string, f func(string) []string) []string {
	out := make([]string, 0, len(words))
	for _, w := range words {
		out = append(out, f(w)...)
	}
	return out
}

func parsePreTokenizer(raw json.RawMessage) (preTokenizer, error) {
	k, err := kind(raw)
	if err != nil {
		return nil, err
	}
	switch k {
	case "":
		return nil, nil
	case "Sequence":
		var s struct {
			PreTokenizers []json.RawMessage `json:"pretokenizers"`
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("%w: pre_tokenizer Sequence: %v", ErrInvalid, err)
		}
		var seq preSeq
		for _, r := range s.PreTokenizers {
			p, err := parsePreTokenizer(r)
			if err != nil {
				return nil, err
			}
			if m := findMetaspace(p); m != nil && m.PrependScheme == "first" && len(seq) > 0 {
				// "first" means the word at offset 0 of the input; after
				// another splitter that needs offsets this package lacks.
				return nil, fmt.Errorf("%w: Metaspace prepend_scheme \"first\" after another pre_tokenizer", ErrUnsupported)
			}
			if p != nil {
				seq = append(seq, p)
			}
		}
		return seq, nil
	case "Metaspace":
		m := &metaspace{Replacement: "▁", PrependScheme: "always", Split: true}
		if err := json.Unmarshal(raw, m); err != nil {
			return nil, fmt.Errorf("%w: pre_tokenizer Metaspace: %v", ErrInvalid, err)
		}
		if m.AddPrefixSpace != nil && !*m.AddPrefixSpace {
			m.PrependScheme = "never" // the pre-0.14 spelling
		}
		switch m.PrependScheme {
		case "always", "first", "never":
		default:
			return nil, fmt.Errorf("%w: Metaspace prepend_scheme %q", ErrUnsupported, m.PrependScheme)
		}
		// The Rust library's replacement is a char; an empty one would
		// also make split loop forever.
		if utf8.RuneCountInString(m.Replacement) != 1 {
			return nil, fmt.Errorf("%w: Metaspace replacement %q is not one character", ErrInvalid, m.Replacement)
		}
		return m, nil
	case "ByteLevel":
		b := &byteLevel{AddPrefixSpace: true, UseRegex: true}
		if err := json.Unmarshal(raw, b); err != nil {
			return nil, fmt.Errorf("%w: pre_tokenizer ByteLevel: %v", ErrInvalid, err)
		}
		return b, nil
	case "Split":
		return parseSplit(raw)
	case "Whitespace":
		return whitespace{}, nil
	case "WhitespaceSplit":
		return whitespaceSplit{}, nil
	case "BertPreTokenizer":
		return bertPre{}, nil
	default:
		return nil, fmt.Errorf("%w: pre_tokenizer type %q", ErrUnsupported, k)
	}
}

func findMetaspace(p preTokenizer) *metaspace {
	switch q := p.(type) {
	case *metaspace:
		return q
	case preSeq:
		for _, r := range q {
			if m := findMetaspace(r); m != nil {
				return m
			}
		}
	}
	return nil
}

// metaspace replaces spaces by the replacement character (▁), prepends one
// as its scheme says, and splits before each replacement.
type metaspace struct {
	Replacement    string `json:"replacement"`
	PrependScheme  string `json:"prepend_scheme"`
	Split          bool   `json:"split"`
	AddPrefixSpace *bool  `json:"add_prefix_space"`
}

func (m *metaspace) split(words []string, first bool) []string {
	return each(words, func(w string) []string {
		w = strings.ReplaceAll(w, " ", m.Replacement)
		if (m.PrependScheme == "always" || (m.PrependScheme == "first" && first)) && !strings.HasPrefix(w, m.Replacement) {
			w = m.Replacement + w
		}
		if !m.Split {
			return []string{w}
		}
		// Split before every replacement character (HF's MergedWithNext):
		// "▁a▁b" → "▁a", "▁b".
		var out []string
		start := 0
		for i := 0; i < len(w); {
			j := strings.Index(w[i:], m.Replacement)
			if j < 0 {
				break
			}
			if pos := i + j; pos > start {
				out, start = append(out, w[start:pos]), pos
			}
			i += j + len(m.Replacement)
		}
		if start < len(w) {
			out = append(out, w[start:])
		}
		return out
	})
}

// byteLevel is GPT-2's pre-tokenizer: optional leading space, the GPT-2
// split, then every byte mapped to a printable character.
type byteLevel struct {
	AddPrefixSpace bool `json:"add_prefix_space"`
	UseRegex       bool `json:"use_regex"`
	TrimOffsets    bool `json:"trim_offsets"`
}

func (b *byteLevel) split(words []string, first bool) []string {
	return each(words, func(w string) []string {
		if b.AddPrefixSpace && !strings.HasPrefix(w, " ") {
			w = " " + w
		}
		parts := []string{w}
		if b.UseRegex {
			parts = gpt2Split(w)
		}
		for i, p := range parts {
			parts[i] = bytesToChars(p)
		}
		return parts
	})
}

// gpt2Split implements the GPT-2 pattern
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// by hand, because Go's regexp has no look-ahead.
func gpt2Split(s string) []string {
	var out []string
	class := func(r rune) int {
		switch {
		case unicode.IsLetter(r):
			return 1
		case unicode.IsNumber(r):
			return 2
		case unicode.IsSpace(r):
			return 3
		default:
			return 4
		}
	}
	for i := 0; i < len(s); {
		if s[i] == '\'' {
			matched := false
			for _, c := range []string{"s", "t", "re", "ve", "m", "ll", "d"} {
				if strings.HasPrefix(s[i+1:], c) {
					out, i, matched = append(out, s[i:i+1+len(c)]), i+1+len(c), true
					break
				}
			}
			if matched {
				continue
			}
		}
		j := i
		if s[j] == ' ' && j+1 < len(s) {
			if r, _ := utf8.DecodeRuneInString(s[j+1:]); class(r) != 3 {
				j++
			}
		}
		r, n := utf8.DecodeRuneInString(s[j:])
		if c := class(r); c != 3 {
			k := j + n
			for k < len(s) {
				r2, n2 := utf8.DecodeRuneInString(s[k:])
				if class(r2) != c {
					break
				}
				k += n2
			}
			out, i = append(out, s[i:k]), k
			continue
		}
		// A run of whitespace: if something follows it, leave its last
		// character for the next token (\s+(?!\S)), unless the run is a
		// single character, which \s+ then takes alone.
		k, last := i, i
		for k < len(s) {
			r2, n2 := utf8.DecodeRuneInString(s[k:])
			if !unicode.IsSpace(r2) {
				break
			}
			last = k
			k += n2
		}
		if k < len(s) && last > i {
			k = last
		}
		out, i = append(out, s[i:k]), k
	}
	return out
}

var byteToChar, charToByte = func() ([256]rune, map[rune]byte) {
	var b2c [256]rune
	c2b := map[rune]byte{}
	n := 0
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			b2c[b] = rune(b)
		} else {
			b2c[b] = rune(256 + n)
			n++
		}
		c2b[b2c[b]] = byte(b)
	}
	return b2c, c2b
}()

func bytesToChars(s string) string {
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		sb.WriteRune(byteToChar[s[i]])
	}
	return sb.String()
}

// whitespace splits like \w+|[^\w\s]+.
type whitespace struct{}

// isWord is \w of Rust's regex crate, which the Rust library uses for
// Whitespace and for single_word added tokens: Alphabetic (letters, letter
// numbers, Other_Alphabetic), marks, decimal digits, connector punctuation
// and joiners. So "x²" splits before "²" and a ZWJ stays inside a word.
func isWord(r rune) bool {
	if r < 0x80 {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_'
	}
	return unicode.In(r, unicode.L, unicode.Nl, unicode.Other_Alphabetic, unicode.M, unicode.Nd, unicode.Pc, unicode.Join_Control)
}

func (whitespace) split(words []string, _ bool) []string {
	return each(words, func(w string) []string {
		var out []string
		start, cls := -1, 0
		for i, r := range w {
			c := 2
			if unicode.IsSpace(r) {
				c = 0
			} else if isWord(r) {
				c = 1
			}
			if c != cls {
				if cls != 0 {
					out = append(out, w[start:i])
				}
				start, cls = i, c
			}
		}
		if cls != 0 {
			out = append(out, w[start:])
		}
		return out
	})
}

type whitespaceSplit struct{}

func (whitespaceSplit) split(words []string, _ bool) []string {
	return each(words, strings.Fields)
}

// bertPre splits on whitespace and isolates every punctuation character.
type bertPre struct{}

func isBertPunct(r rune) bool {
	return (r >= 33 && r <= 47) || (r >= 58 && r <= 64) || (r >= 91 && r <= 96) || (r >= 123 && r <= 126) || unicode.IsPunct(r)
}

func (bertPre) split(words []string, _ bool) []string {
	return each(words, func(w string) []string {
		var out []string
		for _, f := range strings.Fields(w) {
			start := 0
			for i, r := range f {
				if isBertPunct(r) {
					if i > start {
						out = append(out, f[start:i])
					}
					out = append(out, string(r))
					start = i + utf8.RuneLen(r)
				}
			}
			if start < len(f) {
				out = append(out, f[start:])
			}
		}
		return out
	})
}
