package sim

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestNPYRoundTrip(t *testing.T) {
	for _, c := range []struct {
		descr string
		shape []int
	}{
		{DescrUint8, []int{2, 3, 4, 3}},
		{DescrFloat32, []int{5, 8}},
		{DescrFloat32, []int{7}},
		{DescrUint8, []int{}},
		{DescrFloat32, []int{0, 7}},
	} {
		n, _ := npyBytes(c.descr, c.shape, math.MaxInt64)
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(i * 7)
		}
		var buf bytes.Buffer
		if err := WriteNPY(&buf, c.descr, c.shape, data); err != nil {
			t.Fatal(err)
		}
		raw := buf.Bytes()
		hlen := int(binary.LittleEndian.Uint16(raw[8:]))
		if (10+hlen)%64 != 0 || raw[10+hlen-1] != '\n' || raw[6] != 1 || raw[7] != 0 {
			t.Fatalf("%v: header of %d bytes, not 64-aligned v1.0", c.shape, hlen)
		}
		a, err := ReadNPY(bytes.NewReader(raw), 1<<20)
		if err != nil {
			t.Fatalf("%v: %v", c.shape, err)
		}
		if a.Descr != c.descr || !slices.Equal(a.Shape, c.shape) || !bytes.Equal(a.Data, data) {
			t.Fatalf("round trip: %s %v", a.Descr, a.Shape)
		}
	}
	// A header exactly as numpy 1.24 writes it for np.zeros((2, 3), np.float32).
	h := "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
	h += strings.Repeat(" ", 128-10-len(h)-1) + "\n"
	raw := append([]byte("\x93NUMPY\x01\x00"), byte(len(h)), 0)
	raw = append(append(raw, h...), make([]byte, 24)...)
	a, err := ReadNPY(bytes.NewReader(raw), 100)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := a.Float32()
	if len(f) != 6 || !slices.Equal(a.Shape, []int{2, 3}) {
		t.Fatalf("numpy header: %v %v", a.Shape, f)
	}
}

// npyWith builds an NPY file with the given header dictionary text.
func npyWith(version byte, dict string, data int) []byte {
	h := dict + "\n"
	raw := []byte("\x93NUMPY")
	raw = append(raw, version, 0)
	if version == 1 {
		raw = binary.LittleEndian.AppendUint16(raw, uint16(len(h)))
	} else {
		raw = binary.LittleEndian.AppendUint32(raw, uint32(len(h)))
	}
	return append(append(raw, h...), make([]byte, data)...)
}

func TestReadNPYRejects(t *testing.T) {
	good := "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2), }"
	cases := []struct {
		name string
		raw  []byte
		want string
	}{
		{"empty", nil, "preamble"},
		{"bad magic", []byte("\x93NUMPZ\x01\x00\x00\x00"), "magic"},
		{"version 4", npyWith(4, good, 4), "version"},
		{"huge v2 header", npyWith(2, good+strings.Repeat(" ", MaxNPYHeader), 4), "exceeds"},
		{"truncated header", npyWith(1, good, 4)[:30], "reading header"},
		{"wrong descr", npyWith(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", 16), "descr"},
		{"big-endian", npyWith(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 8), "descr"},
		{"fortran order", npyWith(1, "{'descr': '|u1', 'fortran_order': True, 'shape': (2, 2), }", 4), "fortran"},
		{"missing shape", npyWith(1, "{'descr': '|u1', 'fortran_order': False, }", 4), "lacks"},
		{"unknown key", npyWith(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (4,), 'x': 1}", 4), "unknown key"},
		{"repeated key", npyWith(1, "{'descr': '|u1', 'descr': '|u1', 'fortran_order': False, 'shape': (4,), }", 4), "repeats"},
		{"negative dim", npyWith(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (-4,), }", 4), "shape"},
		{"overflow", npyWith(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", 0), "overflows"},
		{"over the limit", npyWith(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (1000, 1000), }", 0), "limit"},
		{"too many dims", npyWith(1, "{'descr': '|u1', 'fortran_order': False, 'shape': ("+strings.Repeat("1,", 40)+"), }", 1), "dimensions"},
		{"short data", npyWith(1, good, 3), "data bytes"},
		{"trailing data", npyWith(1, good, 5), "trailing"},
		{"text after dict", npyWith(1, good+" x", 4), "after the dictionary"},
		{"not a dict", npyWith(1, "[1, 2]", 4), "dictionary"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadNPY(bytes.NewReader(c.raw), 1<<16)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

// FuzzReadNPY: the decoder never panics or over-allocates, and whatever it
// accepts re-encodes to an array it reads back identically.
func FuzzReadNPY(f *testing.F) {
	var buf bytes.Buffer
	WriteNPY(&buf, DescrFloat32, []int{2, 8}, make([]byte, 64))
	f.Add(buf.Bytes())
	buf.Reset()
	WriteNPY(&buf, DescrUint8, []int{1, 2, 2, 3}, []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	f.Add(buf.Bytes())
	f.Add(npyWith(2, "{\"descr\": \"|u1\", \"fortran_order\": False, \"shape\": (3,)}", 3))
	f.Add(npyWith(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 4))
	f.Fuzz(func(t *testing.T, raw []byte) {
		a, err := ReadNPY(bytes.NewReader(raw), 1<<16)
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := WriteNPY(&out, a.Descr, a.Shape, a.Data); err != nil {
			t.Fatalf("accepted %s %v but cannot write it: %v", a.Descr, a.Shape, err)
		}
		b, err := ReadNPY(&out, 1<<16)
		if err != nil || b.Descr != a.Descr || !slices.Equal(b.Shape, a.Shape) || !bytes.Equal(b.Data, a.Data) {
			t.Fatalf("re-encoded array differs: %v", err)
		}
	})
}
