package text

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// normalizer rewrites a text segment before pre-tokenization.
type normalizer func(string) (string, error)

func parseNormalizer(raw json.RawMessage) (normalizer, error) {
	k, err := kind(raw)
	if err != nil {
		return nil, err
	}
	switch k {
	case "":
		return nil, nil
	case "Sequence":
		var s struct {
			Normalizers []json.RawMessage `json:"normalizers"`
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("%w: normalizer Sequence: %v", ErrInvalid, err)
		}
		var seq []normalizer
		for _, r := range s.Normalizers {
			n, err := parseNormalizer(r)
			if err != nil {
				return nil, err
			}
			if n != nil {
				seq = append(seq, n)
			}
		}
		return func(s string) (string, error) {
			var err error
			for _, n := range seq {
				if s, err = n(s); err != nil {
					return "", err
				}
			}
			return s, nil
		}, nil
	case "Prepend":
		var p struct {
			Prepend string `json:"prepend"`
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, fmt.Errorf("%w: normalizer Prepend: %v", ErrInvalid, err)
		}
		// The Rust library prepends only to non-empty input.
		return func(s string) (string, error) {
			if s == "" {
				return s, nil
			}
			return p.Prepend + s, nil
		}, nil
	case "Replace":
		var r struct {
			Pattern pattern `json:"pattern"`
			Content string  `json:"content"`
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			return nil, fmt.Errorf("normalizer Replace: %w", wrapInvalid(err))
		}
		if r.Pattern.re != nil {
			re, content, pat := r.Pattern.re, r.Content, r.Pattern
			return func(s string) (string, error) {
				if pat.asciiOnly && !isASCII(s) {
					return "", fmt.Errorf("%w: normalizer Replace regex %q on non-ASCII text %q", ErrUnsupported, pat.str, s)
				}
				return re.ReplaceAllLiteralString(s, content), nil
			}, nil
		}
		old, content := r.Pattern.str, r.Content
		return func(s string) (string, error) { return strings.ReplaceAll(s, old, content), nil }, nil
	case "Lowercase":
		return func(s string) (string, error) { return lower(s), nil }, nil
	case "Strip":
		var st struct {
			Left  bool `json:"strip_left"`
			Right bool `json:"strip_right"`
		}
		if err := json.Unmarshal(raw, &st); err != nil {
			return nil, fmt.Errorf("%w: normalizer Strip: %v", ErrInvalid, err)
		}
		return func(s string) (string, error) {
			if st.Left {
				s = strings.TrimLeftFunc(s, unicode.IsSpace)
			}
			if st.Right {
				s = strings.TrimRightFunc(s, unicode.IsSpace)
			}
			return s, nil
		}, nil
	case "NFC", "NFD", "NFKC", "NFKD":
		f := map[string]norm.Form{"NFC": norm.NFC, "NFD": norm.NFD, "NFKC": norm.NFKC, "NFKD": norm.NFKD}[k]
		return func(s string) (string, error) { return f.String(s), nil }, nil
	case "StripAccents":
		// The Rust library drops every combining mark (M), without
		// decomposing first: files put an NFD before it.
		return func(s string) (string, error) { return dropRunes(s, isMark), nil }, nil
	case "Nmt":
		return func(s string) (string, error) { return nmt(s), nil }, nil
	case "Precompiled":
		return parsePrecompiled(raw)
	case "BertNormalizer":
		var b struct {
			CleanText    bool  `json:"clean_text"`
			ChineseChars bool  `json:"handle_chinese_chars"`
			StripAccents *bool `json:"strip_accents"`
			Lowercase    bool  `json:"lowercase"`
		}
		if err := json.Unmarshal(raw, &b); err != nil {
			return nil, fmt.Errorf("%w: normalizer BertNormalizer: %v", ErrInvalid, err)
		}
		strip := b.Lowercase
		if b.StripAccents != nil {
			strip = *b.StripAccents
		}
		return func(s string) (string, error) {
			var sb strings.Builder
			for _, r := range s {
				switch {
				case b.CleanText && (r == 0 || r == 0xfffd || isOther(r)):
					continue
				case b.CleanText && unicode.IsSpace(r):
					sb.WriteByte(' ')
				case b.ChineseChars && isCJK(r):
					sb.WriteByte(' ')
					sb.WriteRune(r)
					sb.WriteByte(' ')
				default:
					sb.WriteRune(r)
				}
			}
			out := sb.String()
			if strip {
				// As the Rust library: NFD, then drop nonspacing marks (Mn).
				out = dropRunes(norm.NFD.String(out), func(r rune) bool { return unicode.Is(unicode.Mn, r) })
			}
			if b.Lowercase {
				out = lower(out)
			}
			return out, nil
		}, nil
	default:
		return nil, fmt.Errorf("%w: normalizer type %q", ErrUnsupported, k)
	}
}

// dropRunes removes the runes for which drop is true.
func dropRunes(s string, drop func(rune) bool) string {
	if strings.IndexFunc(s, drop) < 0 {
		return s
	}
	var sb strings.Builder
	for _, r := range s {
		if !drop(r) {
			sb.WriteRune(r)
		}
	}
	return sb.String()
}

func isMark(r rune) bool { return unicode.In(r, unicode.M) }

// nmt is the Rust library's Nmt normalizer (SentencePiece's nmt_nfkc
// clean-up without the NFKC): some control characters dropped, some
// spaces and separators made plain spaces.
func nmt(s string) string {
	var sb strings.Builder
	for _, r := range s {
		switch {
		case r >= 1 && r <= 8, r == 0x0B, r >= 0x0E && r <= 0x1F, r == 0x7F, r == 0x8F, r == 0x9F:
			continue
		case r == 0x09, r == 0x0A, r == 0x0C, r == 0x0D, r == 0x1680, r >= 0x200B && r <= 0x200F,
			r == 0x2028, r == 0x2029, r == 0x2581, r == 0xFEFF, r == 0xFFFD:
			sb.WriteByte(' ')
		default:
			sb.WriteRune(r)
		}
	}
	return sb.String()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// lower is the Rust library's Lowercase: char::to_lowercase on each
// character. That is Go's simple mapping except for U+0130 (İ), whose full
// lowercase is two characters, i and U+0307.
func lower(s string) string {
	if strings.ContainsRune(s, '\u0130') {
		s = strings.ReplaceAll(s, "\u0130", "i\u0307")
	}
	return strings.ToLower(s)
}

// isOther is BertNormalizer's control test (Rust's is_control): any
// category C character but tab, newline and carriage return. Cn
// (unassigned) is judged by Go's Unicode tables; the Rust crate's are older,
// so characters assigned since then still differ.
func isOther(r rune) bool {
	if r == '\t' || r == '\n' || r == '\r' {
		return false
	}
	return unicode.In(r, unicode.C) || !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z)
}

// isCJK is the Rust library's is_chinese_char, ranges as it spells them
// (its fifth range starts at U+2B920, not at Unicode's U+2B820).
func isCJK(r rune) bool {
	return (r >= 0x4E00 && r <= 0x9FFF) || (r >= 0x3400 && r <= 0x4DBF) || (r >= 0x20000 && r <= 0x2A6DF) ||
		(r >= 0x2A700 && r <= 0x2B73F) || (r >= 0x2B740 && r <= 0x2B81F) || (r >= 0x2B920 && r <= 0x2CEAF) ||
		(r >= 0xF900 && r <= 0xFAFF) || (r >= 0x2F800 && r <= 0x2FA1F)
}

// pattern is {"String": s} or {"Regex": r} (then str is r as written);
// asciiOnly marks a regex whose meaning on non-ASCII text Go cannot
// reproduce (see onigToGo).
type pattern struct {
	str       string
	re        *regexp.Regexp
	asciiOnly bool
}

func (p *pattern) UnmarshalJSON(b []byte) error {
	var m struct {
		String *string `json:"String"`
		Regex  *string `json:"Regex"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	switch {
	case m.String != nil:
		p.str = *m.String
	case m.Regex != nil:
		src, ascii, err := onigToGo(*m.Regex)
		if err != nil {
			return err
		}
		re, err := regexp.Compile(src)
		if err != nil {
			return fmt.Errorf("%w: regex %q: %v", ErrUnsupported, *m.Regex, err)
		}
		p.str, p.re, p.asciiOnly = *m.Regex, re, ascii
	default:
		return fmt.Errorf("%w: pattern needs String or Regex", ErrInvalid)
	}
	return nil
}

// wrapInvalid marks a JSON error as ErrInvalid unless it already carries a
// sentinel of this package.
func wrapInvalid(err error) error {
	if errors.Is(err, ErrUnsupported) || errors.Is(err, ErrInvalid) {
		return err
	}
	return fmt.Errorf("%w: %v", ErrInvalid, err)
}
