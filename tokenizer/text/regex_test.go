package text

import (
	"errors"
	"regexp"
	"testing"
)

// TestOnigToGo checks translated patterns by what they match, against
// Oniguruma's documented semantics (UTF-8, default syntax, no options).
func TestOnigToGo(t *testing.T) {
	for _, tc := range []struct {
		onig      string
		in, want  string // ReplaceAll(in, "_")
		asciiOnly bool
	}{
		{`\s+`, "a\u00a0b\vc\u2003\u2028d e", "a_b_c_d_e", false},
		{`\S+`, "ab\u00a0cd", "_\u00a0_", false},
		{`[\s,]+`, "a, \u3000b", "a_b", false},
		{`\d+`, "x12٣४y", "x_y", false},
		{`[^\d]+`, "ab12٣cd", "_12٣_", false},
		{`\D`, "a1", "_1", false},
		{`^-\s*`, "- a\n-  b", "_a\n_b", false}, // ^ is a line anchor
		{`a$`, "ba\nca", "b_\nc_", false},       // so is $
		{`(?m:a.b)`, "a\nb", "_", false},        // Oniguruma's m is Go's s
		{`a.b`, "a\nb", "a\nb", false},          // . stops at \n
		{`[]x]`, "]x", "__", false},             // a leading ] is literal
		{`[^]x]`, "]xy", "]x_", false},
		{`(?<id>b)`, "abc", "a_c", false},   // a named group is no flag
		{`\bup\b`, "up cup", "_ cup", true}, // \b: Unicode in Oniguruma
		{`\w+`, "ab c", "_ _", true},
		{`[[:alpha:]]+`, "ab1", "_1", true},
		{`(?i)up`, "UP", "_", true}, // full case folding
		{`\.`, "a.b", "a_b", false}, // other escapes pass
		{`[\t\-]`, "a\t-", "a__", false},
		{`\x{2581}`, "a\u2581", "a_", false},
		{`\p{L}+`, "ab1", "_1", false},
		{`\p{^L}+`, "ab12", "ab_", false}, // negation means the same in both
		{`x{2,}`, "xxx x", "_ x", false},
		{`(?:ab)+`, "ababa", "_a", false},
		{`\\s`, `\s`, "_", false}, // an escaped backslash
		{`[\\]s`, `\s`, "_", false},
		{`a\sb`, "a\u0085b", "_", false},  // NEL is White_Space
		{`\s`, "\ufeff", "\ufeff", false}, // BOM is not
		{`[^\s]`, "\u00a0", "\u00a0", false},
		{`[\d\s]+`, "1 ٣\u00a0x", "_x", false},
		{`\S`, "\u2003", "\u2003", false},
		{`(?-m:a.b)`, "a\nb", "a\nb", false},
		{`(?i:x)`, "X", "_", true},
		{`(?m)x.`, "x\n", "_", false},
		{`x\z`, "x\nx", "x\n_", false},
		{`\Ax`, "x\nx", "_\nx", false},
		{`[-*]\s`, "- * ", "__", false},
		{`[[:space:]]`, "\u00a0", "\u00a0", true}, // ASCII in Go; refused beyond
		{`\W`, "a-", "a_", true},
		{`\B`, "ab", "a_b", true},
		{`\w`, "é", "é", true},
		{`[\w]`, "a", "_", true},
	} {
		src, ascii, err := onigToGo(tc.onig)
		if err != nil {
			t.Errorf("%q: %v", tc.onig, err)
			continue
		}
		re, err := regexp.Compile(src)
		if err != nil {
			t.Errorf("%q → %q: %v", tc.onig, src, err)
			continue
		}
		if got := re.ReplaceAllString(tc.in, "_"); got != tc.want || ascii != tc.asciiOnly {
			t.Errorf("%q (Go %q) on %q: %q asciiOnly=%v, want %q %v", tc.onig, src, tc.in, got, ascii, tc.want, tc.asciiOnly)
		}
	}
}

func TestOnigToGoRefused(t *testing.T) {
	for _, p := range []string{`[a[b]]`, `[a-c&&b]`, `[\S]`} {
		if src, _, err := onigToGo(p); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%q → %q, %v; want ErrUnsupported", p, src, err)
		}
	}
	// Constructs Go's regexp rejects are refused at Parse.
	for _, p := range []string{`(?x)a b`, `a(?=b)`, `a++`, `\h`, `a\Z`, `[[:alpha:]`, `a\`} {
		src, _, err := onigToGo(p)
		if err == nil {
			_, err = regexp.Compile(src)
		}
		if err == nil {
			t.Errorf("%q → %q compiles", p, src)
		}
	}
}

// TestReplaceRefusesBeyondASCII: a Replace whose regex Go cannot match
// like Oniguruma beyond ASCII refuses such text instead of guessing.
func TestReplaceRefusesBeyondASCII(t *testing.T) {
	n, err := parseNormalizer(rawJSON(`{"type":"Replace","pattern":{"Regex":"\\w+"},"content":"w"}`))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := n("pick up"); err != nil || got != "w w" {
		t.Errorf("ASCII: %q, %v", got, err)
	}
	if _, err := n("café"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("non-ASCII: %v, want ErrUnsupported", err)
	}
}
