// Package strictyaml decodes a YAML configuration file into a Go struct
// strictly, with errors a person can act on.
//
// [Decode] is gopkg.in/yaml.v3 with KnownFields(true), plus:
//
//   - Errors name the key. An unknown key anywhere in the tree (nested
//     structs; slices, arrays, maps and pointers of structs;
//     yaml:",inline" structs) is reported with its dotted path, its line
//     and the keys known at that level; so is a value of the wrong type,
//     a key given twice, or a null key (which yaml.v3 would drop
//     silently). See the example below.
//   - The input is bounded: a document over [MaxBytes], or with a mapping
//     of more than [MaxKeys] keys (yaml.v3 compares a mapping's keys
//     pairwise, so a 1 MiB flat mapping takes it a minute), is refused
//     with an error wrapping [ErrTooLarge]. Alias expansion ("billion
//     laughs") is refused by yaml.v3 itself ("document contains excessive
//     aliasing"); this package's own walk visits each aliased node once.
//   - Empty input, or input of only comments, decodes nothing and is not
//     an error; a second document after "---" is an error (yaml.v3's
//     Decoder would ignore it silently).
//
// A typo in a nested key reads
//
//	line 2: server.adr: unknown key; did you mean addr? (known: addr, allow_no_auth, …)
//
// and a value of the wrong type in a sequence of structs
//
//	line 5: ros.cameras[1].rate_hz: cannot unmarshal !!str `fast` into float64
//
// The error is an [*Error], whose Path, Line and Known fields are there
// for callers that want them; callers usually prefix it with the file's
// name.
//
// Keys are matched as yaml.v3 matches them: the yaml tag's name, or the
// lowercased field name for a field without one; yaml:"-" fields are not
// keys. Types that decode themselves — yaml.Unmarshaler,
// encoding.TextUnmarshaler, time.Duration, yaml.Node, interfaces — are
// leaves: their value is checked by decoding it, never walked key by key.
//
// The value is decoded by yaml.v3 itself once the checks pass: a
// document this package accepts decodes exactly as yaml.v3 with
// KnownFields(true) decodes it, and everything yaml.v3 refuses is refused
// here too.
package strictyaml
