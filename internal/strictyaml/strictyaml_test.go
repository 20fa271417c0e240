package strictyaml

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

type camera struct {
	Topic  string  `yaml:"topic"`
	RateHz float64 `yaml:"rate_hz"`
}

// level decodes itself from text: a leaf.
type level int

func (l *level) UnmarshalText(b []byte) error {
	switch string(b) {
	case "":
		*l = 0
	case "low":
		*l = 1
	case "high":
		*l = 2
	default:
		return fmt.Errorf("level %q: want low or high", b)
	}
	return nil
}

func (l level) MarshalText() ([]byte, error) {
	return []byte([]string{"", "low", "high"}[min(max(int(l), 0), 2)]), nil
}

// unit decodes itself from a node: a leaf.
type unit string

func (u *unit) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && (n.Value == "m" || n.Value == "mm" || n.Value == "") {
		*u = unit(n.Value)
		return nil
	}
	return fmt.Errorf("unit %q: want m or mm", n.Value)
}

// Base is inlined into conf.
type Base struct {
	Name  string `yaml:"name"`
	Debug bool   // no tag: "debug"
}

type conf struct {
	Base   `yaml:",inline"`
	Server struct {
		Addr      string        `yaml:"addr"`
		AuthToken string        `yaml:"auth_token"`
		Timeout   time.Duration `yaml:"timeout"`
	} `yaml:"server"`
	ROS struct {
		Cameras []camera `yaml:"cameras"`
	} `yaml:"ros"`
	Keys          map[string]camera `yaml:"keys"`
	Ptr           *camera           `yaml:"ptr"`
	Level         level             `yaml:"level"`
	Unit          unit              `yaml:"unit"`
	Meta          map[string]any    `yaml:"meta"`
	Skip          string            `yaml:"-"`
	MaxItems      int               `yaml:"max_items,omitempty"`
	Pair          [2]int            `yaml:"pair"`
	Height, Width int
	Small         uint8     `yaml:"small"`
	Tags          []string  `yaml:"tags"`
	Node          yaml.Node `yaml:"node"`
	unexported    int
}

const good = `# a complete document
name: lab
debug: true
server:
  addr: 127.0.0.1:8000
  auth_token: 0123456789abcdef
  timeout: 1.5s
ros:
  cameras:
    - &wrist {topic: /wrist, rate_hz: 30}
    - *wrist
    - topic: /front
keys:
  wrist:
    <<: *wrist
    topic: /other
  a.b: {topic: /dotted}
ptr: {topic: /p}
level: high
unit: mm
meta: {anything: [1, {goes: here}], x: ~}
max_items: 7
pair: [1, 2]
height: 480
width: 640
small: 255
tags: [a, b]
node: {free: form}
`

func TestDecodeAsYAMLv3(t *testing.T) {
	var got, want conf
	if err := Decode([]byte(good), &got); err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(strings.NewReader(good))
	dec.KnownFields(true)
	if err := dec.Decode(&want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if got.Name != "lab" || !got.Debug || got.Server.Timeout != 1500*time.Millisecond || len(got.ROS.Cameras) != 3 ||
		got.ROS.Cameras[1].RateHz != 30 || got.Keys["wrist"] != (camera{"/other", 30}) || got.Ptr.Topic != "/p" ||
		got.Level != 2 || got.Unit != "mm" || got.Height != 480 || got.Pair != [2]int{1, 2} {
		t.Fatalf("decoded %+v", got)
	}
}

// Decoding over a value keeps what the document does not set, as yaml.v3
// does (robot profiles are decoded over their base).
func TestDecodeOverBase(t *testing.T) {
	c := conf{MaxItems: 3}
	c.Server.Addr = "x:1"
	if err := Decode([]byte("server:\n  timeout: 2s\n"), &c); err != nil {
		t.Fatal(err)
	}
	if c.MaxItems != 3 || c.Server.Addr != "x:1" || c.Server.Timeout != 2*time.Second {
		t.Fatalf("%+v", c)
	}
}

func TestErrorsNameTheKey(t *testing.T) {
	cases := []struct {
		yaml, path string
		line       int
		want       string // in Error()
	}{
		{"server:\n  adr: x\n", "server.adr", 2, "unknown key; did you mean addr? (known: addr, auth_token, timeout)"},
		{"ros:\n  cameras:\n    - topic: a\n    - topik: b\n", "ros.cameras[1].topik", 4, "did you mean topic?"},
		{"keys:\n  wrist:\n    rate: 3\n", "keys.wrist.rate", 3, "(known: rate_hz, topic)"},
		{"keys:\n  a.b:\n    nope: 1\n", `keys["a.b"].nope`, 3, "unknown key"},
		{"ptr:\n  nope: 1\n", "ptr.nope", 2, "unknown key"},
		{"nme: x\n", "nme", 1, "did you mean name?"},
		{"skip: x\n", "skip", 1, "unknown key"},
		{"unexported: 1\n", "unexported", 1, "unknown key"},
		{"Height: 1\n", "Height", 1, "did you mean height?"},
		{"base:\n  name: x\n", "base", 1, "unknown key"}, // inline: no "base" key
		{"keys:\n  wrist:\n    <<: {topik: x}\n", "keys.wrist.topik", 3, "unknown key"},
		{"ros:\n  cameras: [&c {topic: a}, *c, {<<: *c, rate: 1}]\n", "ros.cameras[2].rate", 2, "unknown key"},
		// Type errors.
		{"server:\n  timeout: fast\n", "server.timeout", 2, "cannot unmarshal !!str `fast` into time.Duration"},
		{"max_items: abc\n", "max_items", 1, "cannot unmarshal !!str `abc` into int"},
		{"ros:\n  cameras:\n    - rate_hz: fast\n", "ros.cameras[0].rate_hz", 3, "into float64"},
		{"small: 256\n", "small", 1, "into uint8"},
		{"pair: [1]\n", "pair", 1, "1 values, want 2"},
		{"server: 5\n", "server", 1, "cannot unmarshal !!int `5`"},
		{"tags: {a: 1}\n", "tags", 1, "cannot unmarshal !!map"},
		{"level: loud\n", "level", 1, `level "loud": want low or high`},
		{"unit: km\n", "unit", 1, `unit "km": want m or mm`},
		{"keys:\n  w: [1]\n", "keys.w", 2, "cannot unmarshal !!seq"},
		{"meta: {a: 1, a: 2}\n", "meta.a", 1, "key set twice (first at line 1)"},
		{"name: a\nname: b\n", "name", 2, "key set twice (first at line 1)"},
		{"server:\n  ~: x\n", "server.~", 2, "null (empty) key"},
		{"keys:\n  ~: {topic: x}\n", "keys.~", 2, "null (empty) key"},
		{"server:\n  [a]: x\n", "server", 2, "a sequence as a key: keys here are names"},
		{"keys:\n  w:\n    <<: 5\n", "keys.w.<<", 3, "a merge key needs a mapping"},
		{"x: 1\n", "x", 1, "(known: debug, height, keys, level, max_items, meta, name, node, pair, ptr, ros, server, small, tags, unit, width)"},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			var c conf
			err := Decode([]byte(tc.yaml), &c)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("%q: err = %v (%T), want an *Error", tc.yaml, err, err)
			}
			if e.Path != tc.path || e.Line != tc.line || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%q: err = %q (path %q, line %d), want path %q, line %d, and %q", tc.yaml, err, e.Path, e.Line, tc.path, tc.line, tc.want)
			}
			if !strings.HasPrefix(err.Error(), fmt.Sprintf("line %d: %s: ", tc.line, tc.path)) {
				t.Fatalf("err = %q, want it to begin with the line and path", err)
			}
		})
	}
}

func TestKnownKeysAreSorted(t *testing.T) {
	var c conf
	var e *Error
	if err := Decode([]byte("server:\n  zz: 1\n"), &c); !errors.As(err, &e) {
		t.Fatal(err)
	}
	if want := []string{"addr", "auth_token", "timeout"}; !reflect.DeepEqual(e.Known, want) {
		t.Fatalf("known %v, want %v", e.Known, want)
	}
	var empty struct {
		X struct{} `yaml:"x"`
	}
	if err := Decode([]byte("x: {y: 1}\n"), &empty); err == nil || !strings.Contains(err.Error(), "x.y: unknown key (no keys are known here)") {
		t.Fatalf("err = %v", err)
	}
}

func TestEmptyIsNotAnError(t *testing.T) {
	for _, in := range []string{"", "\n\n", "# only\n# comments\n", "---\n", "~\n", "null\n", "---\n# c\n...\n"} {
		c := conf{MaxItems: 5}
		if err := Decode([]byte(in), &c); err != nil || c.MaxItems != 5 {
			t.Errorf("%q: err %v, max_items %d", in, err, c.MaxItems)
		}
	}
}

func TestOneDocument(t *testing.T) {
	var c conf
	err := Decode([]byte("name: a\n---\nname: b\n"), &c)
	var e *Error
	if !errors.As(err, &e) || e.Line != 3 || !strings.Contains(err.Error(), "second YAML document") {
		t.Fatalf("err = %v", err)
	}
	if err := Decode([]byte("name: a\n---\n"), &c); err != nil || c.Name != "a" {
		t.Fatalf("a trailing ---: %v, %+v", err, c)
	}
	if err := Decode([]byte("name: a\n---\n[\n"), &c); err == nil {
		t.Fatal("a syntax error in the second document went unnoticed")
	}
}

func TestSyntaxError(t *testing.T) {
	var c conf
	err := Decode([]byte("server:\n  addr: [\n"), &c)
	if err == nil || !strings.Contains(err.Error(), "line") {
		t.Fatalf("err = %v", err)
	}
}

func TestNotAPointer(t *testing.T) {
	for _, v := range []any{conf{}, (*conf)(nil), nil} {
		if err := Decode([]byte("name: a\n"), v); err == nil || !strings.Contains(err.Error(), "non-nil pointer") {
			t.Errorf("%T: err = %v", v, err)
		}
	}
}

// A struct yaml.v3 cannot use is an error, not a panic.
func TestBadStructTags(t *testing.T) {
	var bad struct {
		A int `yaml:"a,bogus"`
	}
	if err := Decode([]byte("a: 1\n"), &bad); err == nil || !strings.Contains(err.Error(), "unsupported flag") {
		t.Fatalf("err = %v", err)
	}
	var dup struct {
		A int `yaml:"a"`
		B int `yaml:"a"`
	}
	if err := Decode([]byte("a: 1\n"), &dup); err == nil || !strings.Contains(err.Error(), "duplicated key") {
		t.Fatalf("err = %v", err)
	}
}

// Decoding into other things than structs.
func TestNonStructTargets(t *testing.T) {
	var m map[string]camera
	if err := Decode([]byte("a: {topic: x}\nb: {rat_hz: 1}\n"), &m); err == nil || !strings.HasPrefix(err.Error(), "line 2: b.rat_hz: unknown key; did you mean rate_hz?") {
		t.Fatalf("err = %v", err)
	}
	var s []camera
	if err := Decode([]byte("- topic: x\n- {topic: y, x: 1}\n"), &s); err == nil || !strings.Contains(err.Error(), "[1].x: unknown key") {
		t.Fatalf("err = %v", err)
	}
	var a any
	if err := Decode([]byte("a: [1, 2]\n"), &a); err != nil || !reflect.DeepEqual(a, map[string]any{"a": []any{1, 2}}) {
		t.Fatalf("%v %#v", err, a)
	}
	pp := new(*camera)
	if err := Decode([]byte("topic: x\n"), pp); err != nil || (*pp).Topic != "x" {
		t.Fatalf("%v %+v", err, *pp)
	}
	var mk map[int]string
	if err := Decode([]byte("1: a\nx: b\n"), &mk); err == nil || !strings.Contains(err.Error(), "line 2: x: cannot unmarshal !!str `x` into int") {
		t.Fatalf("err = %v", err)
	}
	var ma map[any]string
	if err := Decode([]byte("~: a\n"), &ma); err != nil || ma[nil] != "a" {
		t.Fatalf("a null key of an interface-keyed map: %v %v", err, ma)
	}
}

// An inline map takes every key the struct does not know; its values
// are checked against its element type.
func TestInlineMap(t *testing.T) {
	var v struct {
		Name string            `yaml:"name"`
		Rest map[string]camera `yaml:",inline"`
	}
	if err := Decode([]byte("name: a\nwrist: {topic: x}\n"), &v); err != nil || v.Rest["wrist"].Topic != "x" {
		t.Fatalf("%v %+v", err, v)
	}
	if err := Decode([]byte("name: a\nwrist: {topik: x}\n"), &v); err == nil || !strings.Contains(err.Error(), "wrist.topik: unknown key") {
		t.Fatalf("err = %v", err)
	}
}

// An inline pointer to a struct is inlined as a struct is.
func TestInlinePointer(t *testing.T) {
	var v struct {
		*Base `yaml:",inline"`
		X     int `yaml:"x"`
	}
	if err := Decode([]byte("name: a\nx: 1\n"), &v); err != nil || v.Name != "a" || v.X != 1 {
		t.Fatalf("%v %+v", err, v)
	}
	if err := Decode([]byte("nam: a\n"), &v); err == nil || !strings.Contains(err.Error(), "(known: debug, name, x)") {
		t.Fatalf("err = %v", err)
	}
	// Without ,inline an embedded struct is a key of its own, named
	// after its type (yaml.v3 does not inline by itself).
	var e struct{ Base }
	if err := Decode([]byte("base: {name: a}\n"), &e); err != nil || e.Name != "a" {
		t.Fatalf("%v %+v", err, e)
	}
}

func TestTooLarge(t *testing.T) {
	var c conf
	big := append([]byte("name: "), bytes.Repeat([]byte("x"), MaxBytes)...)
	if err := Decode(big, &c); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v", err)
	}
	wide := func(n int) []byte {
		var b bytes.Buffer
		b.WriteString("meta:\n")
		for i := range n {
			fmt.Fprintf(&b, "  k%d: %d\n", i, i)
		}
		return b.Bytes()
	}
	if err := Decode(wide(MaxKeys), &c); err != nil || len(c.Meta) != MaxKeys {
		t.Fatalf("%d keys: %v", MaxKeys, err)
	}
	start := time.Now()
	err := Decode(wide(50_000), &c)
	var e *Error
	if !errors.Is(err, ErrTooLarge) || !errors.As(err, &e) || e.Line != 2 {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("refusing a wide mapping took %v", d)
	}
}

// The worst a document within the limits can do: a mapping of MaxKeys
// keys used many times over through aliases. yaml.v3 compares each
// use's keys pairwise until its alias limit stops it.
func TestWideAliases(t *testing.T) {
	if testing.Short() {
		t.Skip("timing")
	}
	var b bytes.Buffer
	b.WriteString("a: &a {")
	for i := range MaxKeys {
		fmt.Fprintf(&b, "k%d: 1, ", i)
	}
	b.WriteString("}\nb: [")
	for b.Len() < MaxBytes-10 {
		b.WriteString("*a, ")
	}
	b.WriteString("]\n")
	var v struct {
		A map[string]int   `yaml:"a"`
		B []map[string]int `yaml:"b"`
	}
	start := time.Now()
	err := Decode(b.Bytes(), &v)
	t.Logf("%d bytes: %v in %v", b.Len(), err, time.Since(start))
	if d := time.Since(start); d > 20*time.Second { // 1 s without -race
		t.Fatalf("took %v", d)
	}
}

const laughs = `a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
`

func TestAliasBomb(t *testing.T) {
	start := time.Now()
	var free struct {
		Meta any `yaml:"meta"`
	}
	err := Decode([]byte("meta:\n"+indent(laughs)), &free)
	if err == nil || !strings.Contains(err.Error(), "meta: document contains excessive aliasing") {
		t.Fatalf("into an interface: err = %v", err)
	}
	var typed struct {
		A, B, C, D, E, F, G, H any
		I                      [][][][][][][][][]string
	}
	if err := Decode([]byte(laughs), &typed); err == nil || !strings.Contains(err.Error(), "excessive aliasing") {
		t.Fatalf("into typed sequences: err = %v", err)
	}
	var self struct {
		A [][]string `yaml:"a"`
	}
	if err := Decode([]byte("a: &a [*a]\n"), &self); err == nil || !strings.Contains(err.Error(), "line 1: a[0]: alias *a is inside the value it names") {
		t.Fatalf("an alias inside itself: err = %v", err)
	}
	var tree struct {
		Kids []struct {
			Kids []any `yaml:"kids"`
		} `yaml:"kids"`
	}
	if err := Decode([]byte("kids: [&k {kids: [*k]}]\n"), &tree); err == nil || !strings.Contains(err.Error(), "alias *k is inside") {
		t.Fatalf("an alias inside itself: err = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %v", d)
	}
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n  ") + "\n"
}

func TestJoin(t *testing.T) {
	for _, tc := range [][3]string{
		{"", "a", "a"}, {"a", "b", "a.b"}, {"a", "b.c", `a["b.c"]`}, {"a", "", `a[""]`},
		{"a", "x y", `a["x y"]`}, {"", "/cam/image", "/cam/image"},
	} {
		if got := join(tc[0], tc[1]); got != tc[2] {
			t.Errorf("join(%q, %q) = %q, want %q", tc[0], tc[1], got, tc[2])
		}
	}
}

func TestSuggest(t *testing.T) {
	keys := []string{"addr", "auth_token", "key", "max_frame_bytes", "queue_size"}
	for name, want := range map[string]string{
		"adr": "addr", "kye": "key", "Addr": "addr", "auth_tokn": "auth_token", "max_frame_byte": "max_frame_bytes",
		"queuesize": "queue_size", "x": "", "port": "", "token": "", "frame_bytes": "",
	} {
		if got := suggest(name, keys); got != want {
			t.Errorf("suggest(%q) = %q, want %q", name, got, want)
		}
	}
}
