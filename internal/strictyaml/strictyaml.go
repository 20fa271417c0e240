package strictyaml

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"gopkg.in/yaml.v3"
)

// MaxBytes is the largest document Decode reads (1 MiB).
const MaxBytes = 1 << 20

// MaxKeys is the most keys one mapping may have.
const MaxKeys = 1000

// ErrTooLarge is wrapped by the error for input over MaxBytes or with a
// mapping over MaxKeys keys.
var ErrTooLarge = errors.New("YAML input too large")

// errStricter is wrapped by the errors for what yaml.v3 would accept but
// this package refuses: a second document, a null key (which yaml.v3
// drops silently), input over the limits.
var errStricter = errors.New("refused by strictyaml")

// Error is a problem at one place in the document.
type Error struct {
	// Path is the dotted key path ("server.adr", "ros.cameras[1].topic");
	// "" for the whole document.
	Path string
	// Line and Column are 1-based; 0 when not known.
	Line, Column int
	// Msg says what is wrong ("unknown key", "cannot unmarshal …").
	Msg string
	// Known are the keys accepted where an unknown key was found, sorted;
	// nil for other errors.
	Known []string
	// Err is the underlying error (a *yaml.TypeError, …), if any.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Known != nil {
		if len(e.Known) == 0 {
			b.WriteString(" (no keys are known here)")
		} else {
			fmt.Fprintf(&b, " (known: %s)", strings.Join(e.Known, ", "))
		}
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Decode decodes the YAML document data into v, a non-nil pointer
// (usually to a struct), strictly: see the package documentation. Empty
// data, or data of only comments, leaves v as it is and returns nil. On
// an error v may have been partly decoded only if the error comes from
// yaml.v3's own decoding (the checks run first and change nothing). A
// panic in yaml.v3 (it has a few, on contrived input) is returned as an
// error.
func Decode(data []byte, v any) (err error) {
	if len(data) > MaxBytes {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(data), MaxBytes)
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("strictyaml: Decode needs a non-nil pointer, got %T", v)
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("yaml: cannot decode this document (the decoder panicked: %v)", p)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return err
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return &Error{Err: errStricter,
			Msg: "a second YAML document (after ---), which does not parse: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	case !isEmptyDocument(&extra):
		at := &extra
		if len(extra.Content) > 0 {
			at = extra.Content[0]
		}
		return &Error{Line: at.Line, Column: at.Column, Err: errStricter,
			Msg: "a second YAML document (after ---): only one is read; remove the --- or the document after it"}
	}
	if err := checkSize(&doc); err != nil {
		return err
	}
	c := &checker{done: make(map[visit]bool), active: make(map[*yaml.Node]bool)}
	if err := c.walk(&doc, rv.Type().Elem(), ""); err != nil {
		return err
	}
	// The checks passed: let yaml.v3 decode, strictly, as before.
	dec = yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// isEmptyDocument reports whether d is a document with nothing in it, as
// a trailing "---" makes.
func isEmptyDocument(d *yaml.Node) bool {
	if d.Kind != yaml.DocumentNode || len(d.Content) != 1 {
		return false
	}
	n := d.Content[0]
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null" && n.Value == "" && n.Anchor == ""
}

// checkSize refuses a mapping of more than MaxKeys keys anywhere in the
// tree (aliases are not followed: what they point at is in the tree too).
func checkSize(n *yaml.Node) error {
	stack := []*yaml.Node{n}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if n.Kind == yaml.MappingNode && len(n.Content)/2 > MaxKeys {
			return &Error{Line: n.Line, Column: n.Column, Err: ErrTooLarge,
				Msg: fmt.Sprintf("%v: a mapping of %d keys, at most %d", ErrTooLarge, len(n.Content)/2, MaxKeys)}
		}
		stack = append(stack, n.Content...)
	}
	return nil
}

// visit is a node checked against a type: an aliased node is checked
// once per type however often it is used.
type visit struct {
	n *yaml.Node
	t reflect.Type
}

type checker struct {
	done map[visit]bool
	// active are the anchored nodes being walked: an alias to one of
	// them is inside the value it names.
	active map[*yaml.Node]bool
}

var (
	nodeType         = reflect.TypeFor[yaml.Node]()
	durationType     = reflect.TypeFor[time.Duration]()
	unmarshalerType  = reflect.TypeFor[yaml.Unmarshaler]()
	obsoleteType     = reflect.TypeFor[interface{ UnmarshalYAML(func(any) error) error }]()
	textUnmarshaller = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// isLeaf reports whether values of t decode themselves.
func isLeaf(t reflect.Type) bool {
	if t == durationType || t == nodeType || t.Kind() == reflect.Interface {
		return true
	}
	p := reflect.PointerTo(t)
	return p.Implements(unmarshalerType) || p.Implements(obsoleteType) || p.Implements(textUnmarshaller)
}

// walk checks n against t, the type it will decode into; path names n.
func (c *checker) walk(n *yaml.Node, t reflect.Type, path string) error {
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) != 1 {
			return nil
		}
		n = n.Content[0]
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return nil // yaml.v3 reports it
		}
		if c.active[n.Alias] {
			return &Error{Path: path, Line: n.Line, Column: n.Column,
				Msg: fmt.Sprintf("alias *%s is inside the value it names", n.Value)}
		}
		n = n.Alias
	}
	if n.Anchor != "" {
		c.active[n] = true
		defer delete(c.active, n)
		// An aliased node, or one that an alias may name: check it once
		// for each type (this also ends an alias that contains itself,
		// which yaml.v3 then reports).
		k := visit{n, t}
		if c.done[k] {
			return nil
		}
		c.done[k] = true
	}
	if isNull(n) {
		return nil // null decodes to the zero value, or leaves the value as it is
	}
	if t == nodeType {
		return nil
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem() // yaml.v3 allocates what is nil
	}
	if isLeaf(t) {
		return c.leaf(n, t, path)
	}
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		return c.structMapping(n, t, path)
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		return c.mapMapping(n, t, path)
	case (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && n.Kind == yaml.SequenceNode:
		if t.Kind() == reflect.Array && len(n.Content) != t.Len() {
			return &Error{Path: path, Line: n.Line, Column: n.Column,
				Msg: fmt.Sprintf("%d values, want %d", len(n.Content), t.Len())}
		}
		for i, e := range n.Content {
			if err := c.walk(e, t.Elem(), path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
		return nil
	}
	return c.leaf(n, t, path)
}

// leaf checks n by decoding it into a new value of type t.
func (c *checker) leaf(n *yaml.Node, t reflect.Type, path string) error {
	if err := n.Decode(reflect.New(t).Interface()); err != nil {
		return nodeError(n, path, err)
	}
	return nil
}

// nodeError makes err, from decoding n, an *Error naming path.
func nodeError(n *yaml.Node, path string, err error) *Error {
	e := &Error{Path: path, Line: n.Line, Column: n.Column, Err: err}
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg := te.Errors[0]
		// "line 3: cannot unmarshal …": the line is the most precise
		// there is (it may be inside n).
		if rest, ok := strings.CutPrefix(msg, "line "); ok {
			if num, after, ok := strings.Cut(rest, ": "); ok {
				if line, err := strconv.Atoi(num); err == nil {
					e.Line, e.Column, msg = line, 0, after
				}
			}
		}
		if len(te.Errors) > 1 {
			msg += fmt.Sprintf(" (and %d more)", len(te.Errors)-1)
		}
		e.Msg = msg
		return e
	}
	e.Msg = strings.TrimPrefix(err.Error(), "yaml: ")
	return e
}

// resolve returns what alias n names, or n if it is not an alias.
func resolve(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

// isNull reports whether n (an alias: what it names) is null.
func isNull(n *yaml.Node) bool {
	n = resolve(n)
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// nullKey is the error for null key k in the mapping at path: yaml.v3
// would drop the key and its value silently.
func nullKey(k *yaml.Node, path string) error {
	return &Error{Path: join(path, "~"), Line: k.Line, Column: k.Column, Err: errStricter,
		Msg: "a null (empty) key: quote it if it is meant as text"}
}

// isMerge is yaml.v3's test for a "<<" merge key.
func isMerge(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Value == "<<" &&
		(n.Tag == "" || n.Tag == "!" || n.Tag == "!!merge" || n.Tag == "tag:yaml.org,2002:merge")
}

// merged checks the value of a "<<" key in a mapping of type t at path:
// a mapping, or a sequence of mappings, merged into it.
func (c *checker) merged(v *yaml.Node, t reflect.Type, path string) error {
	bad := &Error{Path: join(path, "<<"), Line: v.Line, Column: v.Column,
		Msg: "a merge key needs a mapping or a sequence of mappings"}
	isMapping := func(n *yaml.Node) bool {
		if n.Kind == yaml.AliasNode {
			return n.Alias == nil || n.Alias.Kind == yaml.MappingNode
		}
		return n.Kind == yaml.MappingNode
	}
	switch {
	case isMapping(v):
		return c.walk(v, t, path)
	case v.Kind == yaml.SequenceNode:
		for _, e := range v.Content {
			if !isMapping(e) {
				return bad
			}
			if err := c.walk(e, t, path); err != nil {
				return err
			}
		}
		return nil
	}
	return bad
}

// keyOf decodes mapping key k, at a mapping whose path is path, into a
// string, as yaml.v3 would for a struct field's name.
func keyOf(k *yaml.Node, path string) (string, error) {
	var s string
	if err := k.Decode(&s); err != nil {
		return "", nodeError(k, path, err)
	}
	return s, nil
}

type dupKey struct {
	kind  yaml.Kind
	value string
}

// checkDuplicates refuses a key that occurs twice in mapping n.
func checkDuplicates(n *yaml.Node, path string) error {
	seen := make(map[dupKey]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		dk := dupKey{k.Kind, k.Value}
		if line, ok := seen[dk]; ok {
			name := k.Value
			if k.Kind != yaml.ScalarNode {
				name = "(" + kindName(k.Kind) + ")"
			}
			return &Error{Path: join(path, name), Line: k.Line, Column: k.Column,
				Msg: fmt.Sprintf("key set twice (first at line %d)", line)}
		}
		seen[dk] = k.Line
	}
	return nil
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "sequence"
	case yaml.AliasNode:
		return "alias"
	}
	return "node"
}

func (c *checker) structMapping(n *yaml.Node, t reflect.Type, path string) error {
	info, err := structInfoOf(t)
	if err != nil {
		return &Error{Path: path, Line: n.Line, Column: n.Column, Msg: err.Error(), Err: err}
	}
	if err := checkDuplicates(n, path); err != nil {
		return err
	}
	for _, u := range info.inlineLeaves {
		if err := c.leaf(n, u, path); err != nil {
			return err
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if isMerge(k) {
			if err := c.merged(v, t, path); err != nil {
				return err
			}
			continue
		}
		if isNull(k) {
			return nullKey(k, path)
		}
		if r := resolve(k); r.Kind != yaml.ScalarNode {
			return &Error{Path: path, Line: k.Line, Column: k.Column,
				Msg: "a " + kindName(r.Kind) + " as a key: keys here are names"}
		}
		name, err := keyOf(k, path)
		if err != nil {
			return err
		}
		sub := join(path, name)
		if ft, ok := info.fields[name]; ok {
			if err := c.walk(v, ft, sub); err != nil {
				return err
			}
			continue
		}
		if info.inlineMap != nil {
			if err := c.walk(v, info.inlineMap.Elem(), sub); err != nil {
				return err
			}
			continue
		}
		msg := "unknown key"
		if s := suggest(name, info.keys); s != "" {
			msg += "; did you mean " + s + "?"
		}
		known := append([]string{}, info.keys...) // the caller's to keep
		return &Error{Path: sub, Line: k.Line, Column: k.Column, Msg: msg, Known: known}
	}
	return nil
}

func (c *checker) mapMapping(n *yaml.Node, t reflect.Type, path string) error {
	if err := checkDuplicates(n, path); err != nil {
		return err
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if isMerge(k) {
			if err := c.merged(v, t, path); err != nil {
				return err
			}
			continue
		}
		if isNull(k) && t.Key().Kind() != reflect.Interface {
			return nullKey(k, path)
		}
		sub := join(path, keyText(k))
		if err := c.walk(k, t.Key(), sub); err != nil {
			return err
		}
		if err := c.walk(v, t.Elem(), sub); err != nil {
			return err
		}
	}
	return nil
}

// keyText is how a map's key appears in a path.
func keyText(k *yaml.Node) string {
	k = resolve(k)
	if k.Kind == yaml.ScalarNode {
		return k.Value
	}
	return "(" + kindName(k.Kind) + ")"
}

// join appends key to path: path.key, or path["key"] for a key that
// would not read as one name.
func join(path, key string) string {
	plain := key != ""
	for _, r := range key {
		if r == '.' || r == '[' || r == ']' || r == '"' || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			plain = false
			break
		}
	}
	switch {
	case !plain:
		return path + "[" + strconv.Quote(key) + "]"
	case path == "":
		return key
	}
	return path + "." + key
}

// suggest returns the known key closest to name, if it is close enough
// to be a typo of it.
func suggest(name string, keys []string) string {
	best, bestD := "", 3
	limit := max(1, min(2, len(name)/3))
	for _, k := range keys {
		if d := distance(strings.ToLower(name), k); d <= limit && d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// distance is the edit distance between a and b counting a swap of two
// neighbouring letters as one edit (optimal string alignment; by byte:
// keys are ASCII), or a large number for long strings.
func distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30
	}
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// structInfo is what yaml.v3 matches a struct's keys against.
type structInfo struct {
	fields map[string]reflect.Type
	keys   []string // sorted
	// inlineMap is the type of a yaml:",inline" map, which takes every
	// other key; nil if none.
	inlineMap reflect.Type
	// inlineLeaves are yaml:",inline" structs that decode themselves
	// (from the whole mapping).
	inlineLeaves []reflect.Type
}

var structInfos sync.Map // reflect.Type → *structInfo

// structInfoOf mirrors yaml.v3's getStructInfo.
func structInfoOf(t reflect.Type) (*structInfo, error) {
	if v, ok := structInfos.Load(t); ok {
		return v.(*structInfo), nil
	}
	info := &structInfo{fields: make(map[string]reflect.Type)}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.PkgPath != "" && !f.Anonymous {
			continue // unexported
		}
		tag := f.Tag.Get("yaml")
		if tag == "" && !strings.Contains(string(f.Tag), ":") {
			tag = string(f.Tag)
		}
		if tag == "-" {
			continue
		}
		name, flags, _ := strings.Cut(tag, ",")
		inline := false
		if flags != "" {
			for _, flag := range strings.Split(flags, ",") {
				switch flag {
				case "omitempty", "flow":
				case "inline":
					inline = true
				default:
					return nil, fmt.Errorf("unsupported flag %q in tag %q of type %s", flag, tag, t)
				}
			}
		}
		if inline {
			ft := f.Type
			switch ft.Kind() {
			case reflect.Map:
				if info.inlineMap != nil {
					return nil, fmt.Errorf("multiple ,inline maps in struct %s", t)
				}
				if ft.Key() != reflect.TypeFor[string]() {
					return nil, fmt.Errorf("option ,inline needs a map with string keys in struct %s", t)
				}
				info.inlineMap = ft
			case reflect.Struct, reflect.Pointer:
				for ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() != reflect.Struct {
					return nil, errors.New("option ,inline may only be used on a struct or map field")
				}
				if reflect.PointerTo(ft).Implements(unmarshalerType) {
					info.inlineLeaves = append(info.inlineLeaves, ft)
					continue
				}
				sub, err := structInfoOf(ft)
				if err != nil {
					return nil, err
				}
				info.inlineLeaves = append(info.inlineLeaves, sub.inlineLeaves...)
				for k, kt := range sub.fields {
					if _, dup := info.fields[k]; dup {
						return nil, fmt.Errorf("duplicated key '%s' in struct %s", k, t)
					}
					info.fields[k] = kt
				}
			default:
				return nil, errors.New("option ,inline may only be used on a struct or map field")
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		if _, dup := info.fields[name]; dup {
			return nil, fmt.Errorf("duplicated key '%s' in struct %s", name, t)
		}
		info.fields[name] = f.Type
	}
	for k := range info.fields {
		info.keys = append(info.keys, k)
	}
	sort.Strings(info.keys)
	structInfos.Store(t, info)
	return info, nil
}
