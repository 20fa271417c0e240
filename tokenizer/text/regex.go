package text

import (
	"fmt"
	"strings"
)

// Unicode White_Space, which Oniguruma's \s matches: \t-\r, U+0085 and the
// Z categories. Go's \s is only [\t\n\f\r ].
const (
	onigSpace    = `\t-\r\x{85}\p{Z}`
	onigNotSpace = `[^` + onigSpace + `]`
)

// onigToGo rewrites a tokenizer.json regex, which the Rust library compiles
// with Oniguruma, into Go syntax with the same meaning:
//
//   - ^ and $ are line anchors in Oniguruma, text anchors in Go: (?m);
//   - inline (?m) is Oniguruma's dot-matches-newline, Go's (?s);
//   - \s and \d are Unicode in Oniguruma, ASCII in Go: spelled out;
//   - \w, \W, \b, \B, POSIX brackets and (?i) are Unicode-aware in
//     Oniguruma in ways Go's regexp cannot express, but agree on ASCII:
//     asciiOnly is set and the caller refuses non-ASCII text;
//   - nested classes, class intersection (&&) and \S inside a class would
//     silently mean something else in Go: ErrUnsupported.
//
// Anything else Go does not accept (look-around, possessive repeats, \h, \Z)
// fails to compile, which the caller reports as ErrUnsupported.
func onigToGo(p string) (src string, asciiOnly bool, err error) {
	unsupported := func(what string) (string, bool, error) {
		return "", false, fmt.Errorf("%w: regex %q uses %s", ErrUnsupported, p, what)
	}
	var b strings.Builder
	b.WriteString("(?m)")
	inClass := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p):
			i++
			switch e := p[i]; e {
			case 'd':
				b.WriteString(`\p{Nd}`)
			case 'D':
				b.WriteString(`\P{Nd}`)
			case 's':
				if inClass {
					b.WriteString(onigSpace)
				} else {
					b.WriteString("[" + onigSpace + "]")
				}
			case 'S':
				if inClass {
					return unsupported(`\S inside a class`)
				}
				b.WriteString(onigNotSpace)
			case 'w', 'W', 'b', 'B':
				asciiOnly = true
				b.WriteByte('\\')
				b.WriteByte(e)
			default:
				b.WriteByte('\\')
				b.WriteByte(e)
			}
		case inClass && c == '[':
			j := strings.Index(p[i:], ":]")
			if !strings.HasPrefix(p[i:], "[:") || j < 0 {
				return unsupported("a nested class")
			}
			asciiOnly = true // POSIX bracket: ASCII in Go, Unicode in Oniguruma
			b.WriteString(p[i : i+j+2])
			i += j + 1
		case inClass && strings.HasPrefix(p[i:], "&&"):
			return unsupported("class intersection")
		case inClass && c == ']':
			inClass = false
			b.WriteByte(c)
		case !inClass && c == '[':
			inClass = true
			b.WriteByte(c)
			// A leading ^, then a leading ], are not the class's end.
			if i+1 < len(p) && p[i+1] == '^' {
				i++
				b.WriteByte('^')
			}
			if i+1 < len(p) && p[i+1] == ']' {
				i++
				b.WriteByte(']')
			}
		case !inClass && strings.HasPrefix(p[i:], "(?"):
			b.WriteString("(?")
			i += 2
			for ; i < len(p) && strings.IndexByte("imx-", p[i]) >= 0; i++ {
				switch p[i] {
				case 'i':
					asciiOnly = true // Go folds case simply, Oniguruma fully (ß ~ ss)
					b.WriteByte('i')
				case 'm':
					b.WriteByte('s')
				default:
					b.WriteByte(p[i]) // x: Go rejects it
				}
			}
			i--
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), asciiOnly, nil
}
