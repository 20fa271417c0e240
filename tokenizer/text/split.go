package text

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// splitPre is the Split pre-tokenizer: a pattern's matches, and the text
// between them, become pieces as its behavior says (the Rust library's
// NormalizedString::split); invert swaps which spans count as matches.
type splitPre struct {
	find     func(s string, dst [][2]int) [][2]int // non-overlapping matches, in order
	behavior string
	invert   bool
}

// Hand-written matchers for Split regexes Go's regexp cannot compile
// (look-ahead), keyed by the pattern exactly as tokenizer.json spells it.
var handSplits = map[string]func(string, [][2]int) [][2]int{
	// Qwen2, Qwen2.5, Qwen3: cl100k's pattern with single digits.
	`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`: func(s string, dst [][2]int) [][2]int {
		return cl100kMatches(s, 1, dst)
	},
	// cl100k_base (GPT-4) and Llama 3: digits in groups of up to three.
	`(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`: func(s string, dst [][2]int) [][2]int {
		return cl100kMatches(s, 3, dst)
	},
	// GPT-2's, as some files spell ByteLevel's split out as a Split.
	`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`: gpt2Matches,
}

func parseSplit(raw json.RawMessage) (*splitPre, error) {
	var sp struct {
		Pattern  json.RawMessage `json:"pattern"`
		Behavior string          `json:"behavior"`
		Invert   bool            `json:"invert"`
	}
	if err := json.Unmarshal(raw, &sp); err != nil {
		return nil, fmt.Errorf("%w: pre_tokenizer Split: %v", ErrInvalid, err)
	}
	switch sp.Behavior {
	case "Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous":
	default:
		return nil, fmt.Errorf("%w: Split behavior %q", ErrUnsupported, sp.Behavior)
	}
	var p struct {
		String *string `json:"String"`
		Regex  *string `json:"Regex"`
	}
	if err := json.Unmarshal(sp.Pattern, &p); err != nil {
		return nil, fmt.Errorf("%w: pre_tokenizer Split pattern: %v", ErrInvalid, err)
	}
	s := &splitPre{behavior: sp.Behavior, invert: sp.Invert}
	switch {
	case p.String != nil:
		lit := *p.String
		if lit == "" {
			return nil, fmt.Errorf("%w: Split on an empty string", ErrUnsupported)
		}
		s.find = func(text string, dst [][2]int) [][2]int {
			for off := 0; ; {
				j := strings.Index(text[off:], lit)
				if j < 0 {
					return dst
				}
				dst = append(dst, [2]int{off + j, off + j + len(lit)})
				off += j + len(lit)
			}
		}
	case p.Regex != nil:
		if h, ok := handSplits[*p.Regex]; ok {
			s.find = h
			break
		}
		src, ascii, err := onigToGo(*p.Regex)
		if err != nil {
			return nil, err
		}
		if ascii {
			// A pre-tokenizer cannot refuse one input; refuse the file.
			return nil, fmt.Errorf("%w: Split regex %q is Unicode-aware in ways Go's regexp is not", ErrUnsupported, *p.Regex)
		}
		re, err := regexp.Compile(src)
		if err != nil {
			return nil, fmt.Errorf("%w: Split regex %q: %v", ErrUnsupported, *p.Regex, err)
		}
		if re.MatchString("") {
			return nil, fmt.Errorf("%w: Split regex %q matches the empty string", ErrUnsupported, *p.Regex)
		}
		s.find = func(text string, dst [][2]int) [][2]int {
			for _, m := range re.FindAllStringIndex(text, -1) {
				dst = append(dst, [2]int{m[0], m[1]})
			}
			return dst
		}
	default:
		return nil, fmt.Errorf("%w: Split pattern needs String or Regex", ErrInvalid)
	}
	return s, nil
}

func (p *splitPre) split(words []string, _ bool) []string {
	out := make([]string, 0, len(words))
	var matches [][2]int
	type span struct {
		a, b  int
		match bool
	}
	var spans []span
	for _, w := range words {
		if w == "" {
			continue
		}
		matches = p.find(w, matches[:0])
		// The Rust library's find_matches: every byte in one span, each
		// flagged as a match or not.
		spans = spans[:0]
		prev := 0
		for _, m := range matches {
			if prev != m[0] {
				spans = append(spans, span{prev, m[0], p.invert})
			}
			spans = append(spans, span{m[0], m[1], !p.invert})
			prev = m[1]
		}
		if prev != len(w) {
			spans = append(spans, span{prev, len(w), p.invert})
		}
		switch p.behavior {
		case "Removed":
			for _, s := range spans {
				if !s.match {
					out = append(out, w[s.a:s.b])
				}
			}
		case "Isolated":
			for _, s := range spans {
				out = append(out, w[s.a:s.b])
			}
		case "Contiguous":
			start, prevMatch := -1, false
			for _, s := range spans {
				if s.match == prevMatch && start >= 0 {
					out[len(out)-1] = w[start:s.b]
				} else {
					out, start = append(out, w[s.a:s.b]), s.a
				}
				prevMatch = s.match
			}
		case "MergedWithPrevious":
			start, prevMatch := -1, false
			for _, s := range spans {
				if s.match && !prevMatch && start >= 0 {
					out[len(out)-1] = w[start:s.b]
				} else {
					out, start = append(out, w[s.a:s.b]), s.a
				}
				prevMatch = s.match
			}
		case "MergedWithNext":
			// Walk backwards: a match joins the span after it.
			n := len(out)
			end, prevMatch := -1, false
			for i := len(spans) - 1; i >= 0; i-- {
				s := spans[i]
				if s.match && !prevMatch && end >= 0 {
					out[len(out)-1] = w[s.a:end]
				} else {
					out, end = append(out, w[s.a:s.b]), s.b
				}
				prevMatch = s.match
			}
			for i, j := n, len(out)-1; i < j; i, j = i+1, j-1 {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	// As the Rust library, no empty pieces (a regex's empty matches).
	k := 0
	for _, w := range out {
		if w != "" {
			out[k] = w
			k++
		}
	}
	return out[:k]
}

// cl100kMatches implements, for maxDigits 1 (Qwen) or 3 (cl100k, Llama 3),
//
//	(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,maxDigits}|
//	 ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//
// with Oniguruma's semantics (leftmost, first alternative that matches,
// greedy with backtracking; \s is Unicode White_Space). Every position
// starts a match, so the matches tile the text.
func cl100kMatches(s string, maxDigits int, dst [][2]int) [][2]int {
	for i := 0; i < len(s); {
		j := cl100kAt(s, i, maxDigits)
		dst = append(dst, [2]int{i, j})
		i = j
	}
	return dst
}

func cl100kAt(s string, i, maxDigits int) int {
	r, n := utf8.DecodeRuneInString(s[i:])
	// (?i:'s|'t|'re|'ve|'m|'ll|'d); ſ (U+017F) case-folds to s.
	if r == '\'' {
		if j := contractionAt(s, i+1); j > 0 {
			return j
		}
	}
	// [^\r\n\p{L}\p{N}]?\p{L}+
	if r != '\r' && r != '\n' && !unicode.IsLetter(r) && !unicode.IsNumber(r) && i+n < len(s) {
		if r2, _ := utf8.DecodeRuneInString(s[i+n:]); unicode.IsLetter(r2) {
			return runOf(s, i+n, unicode.IsLetter)
		}
	}
	if unicode.IsLetter(r) {
		return runOf(s, i, unicode.IsLetter)
	}
	// \p{N}{1,maxDigits}
	if unicode.IsNumber(r) {
		j := i
		for k := 0; k < maxDigits && j < len(s); k++ {
			r2, n2 := utf8.DecodeRuneInString(s[j:])
			if !unicode.IsNumber(r2) {
				break
			}
			j += n2
		}
		return j
	}
	//  ?[^\s\p{L}\p{N}]+[\r\n]*
	j := i
	if r == ' ' && i+1 < len(s) {
		j = i + 1
	}
	if r2, _ := utf8.DecodeRuneInString(s[j:]); isPunctClass(r2) {
		k := runOf(s, j, isPunctClass)
		for k < len(s) && (s[k] == '\r' || s[k] == '\n') {
			k++
		}
		return k
	}
	// r is white space here. \s*[\r\n]+: up to the run's last CR or LF.
	end, lastNL := i, -1
	for end < len(s) {
		r2, n2 := utf8.DecodeRuneInString(s[end:])
		if !unicode.IsSpace(r2) {
			break
		}
		if r2 == '\r' || r2 == '\n' {
			lastNL = end
		}
		end += n2
	}
	if lastNL >= 0 {
		return lastNL + 1
	}
	// \s+(?!\S), else \s+: a run followed by text leaves its last
	// character to the text, unless it is the only one.
	if end < len(s) {
		_, nl := utf8.DecodeLastRuneInString(s[:end])
		if end-nl > i {
			return end - nl
		}
	}
	return end
}

// contractionAt matches (?i:s|t|re|ve|m|ll|d) at s[i:] and returns its end,
// or 0.
func contractionAt(s string, i int) int {
	fold := func(j int) (rune, int) {
		if j >= len(s) {
			return 0, 0
		}
		r, n := utf8.DecodeRuneInString(s[j:])
		if r == 'ſ' {
			return 's', n
		}
		if r < 0x80 {
			return unicode.ToLower(r), n
		}
		return r, n
	}
	r1, n1 := fold(i)
	switch r1 {
	case 's', 't', 'm', 'd':
		return i + n1
	case 'r', 'v', 'l':
		r2, n2 := fold(i + n1)
		if r1 == 'l' && r2 == 'l' || r1 != 'l' && r2 == 'e' {
			return i + n1 + n2
		}
	}
	return 0
}

// isPunctClass is [^\s\p{L}\p{N}].
func isPunctClass(r rune) bool {
	return !unicode.IsSpace(r) && !unicode.IsLetter(r) && !unicode.IsNumber(r)
}

// runOf returns the end of the run of runes from i for which f is true.
func runOf(s string, i int, f func(rune) bool) int {
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !f(r) {
			break
		}
		i += n
	}
	return i
}

// gpt2Matches is gpt2Split as match spans.
func gpt2Matches(s string, dst [][2]int) [][2]int {
	off := 0
	for _, p := range gpt2Split(s) {
		dst = append(dst, [2]int{off, off + len(p)})
		off += len(p)
	}
	return dst
}
