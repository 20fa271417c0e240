package onnxfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
)

// pb writes protobuf: just enough to build ONNX models in tests.
type pb []byte

func (b pb) varint(v uint64) pb      { return binary.AppendUvarint(b, v) }
func (b pb) key(num, wire int) pb    { return b.varint(uint64(num<<3 | wire)) }
func (b pb) int(num int, v int64) pb { return b.key(num, wireVarint).varint(uint64(v)) }
func (b pb) bytes(num int, v []byte) pb {
	return append(b.key(num, wireBytes).varint(uint64(len(v))), v...)
}
func (b pb) str(num int, s string) pb { return b.bytes(num, []byte(s)) }
func (b pb) msg(num int, m pb) pb     { return b.bytes(num, m) }
func (b pb) fixed32(num int, v uint32) pb {
	return binary.LittleEndian.AppendUint32(b.key(num, wire32), v)
}
func (b pb) fixed64(num int, v uint64) pb {
	return binary.LittleEndian.AppendUint64(b.key(num, wire64), v)
}
func dims(b pb, ds ...int64) pb {
	for _, d := range ds {
		b = b.int(1, d)
	}
	return b
}
func entry(k, v string) pb { return pb{}.str(1, k).str(2, v) }

// valueInfo is a float tensor input or output; a string dim is symbolic.
func valueInfo(name string, elem int64, shape ...any) pb {
	var sh pb
	for _, d := range shape {
		switch d := d.(type) {
		case string:
			sh = sh.msg(1, pb{}.str(2, d))
		case int:
			sh = sh.msg(1, pb{}.int(1, int64(d)))
		}
	}
	tt := pb{}.int(1, elem).msg(2, sh)
	return pb{}.str(1, name).msg(2, pb{}.msg(1, tt))
}

// testModel: y = x·W + b, W external; a Constant node; an If node whose
// subgraph holds an int64 initializer with packed dims; fields ONNX does
// not define (fixed32/fixed64) that must be skipped.
func testModel() []byte {
	w := dims(pb{}, 4, 3).int(2, 1).str(8, "W").
		msg(13, entry("location", "model.onnx.data")).msg(13, entry("offset", "0")).msg(13, entry("length", "48")).
		int(14, 1)
	b := dims(pb{}, 3).int(2, 1).str(8, "b").bytes(9, make([]byte, 12))
	c := pb{}.bytes(1, pb{}.varint(2)).int(2, 7).str(8, "c").bytes(9, make([]byte, 16)) // packed dims [2]
	sub := pb{}.str(2, "then").msg(5, c)
	constant := pb{}.str(4, "Constant").msg(5, pb{}.str(1, "value").msg(5, dims(pb{}, 2).int(2, 1).bytes(9, make([]byte, 8))))
	ifNode := pb{}.str(4, "If").msg(5, pb{}.str(1, "then_branch").msg(6, sub))
	graph := pb{}.msg(1, constant).msg(1, ifNode).str(2, "g").msg(5, w).msg(5, b).
		msg(11, valueInfo("x", 1, "batch", 4)).
		msg(12, valueInfo("y", 10, "batch", 3)).
		fixed32(99, 7).fixed64(98, 7)
	return pb{}.int(1, 8).str(2, "pytorch").str(3, "2.5").msg(8, pb{}.str(1, "").int(2, 17)).
		msg(8, pb{}.str(1, "com.microsoft").int(2, 1)).msg(7, graph)
}

func TestRead(t *testing.T) {
	data := testModel()
	m, err := Read(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if m.IRVersion != 8 || m.Producer != "pytorch" || m.ProducerVersion != "2.5" || m.Opsets[""] != 17 || m.Opsets["com.microsoft"] != 1 {
		t.Fatalf("header %+v", m)
	}
	wantIn := []Value{{Name: "x", ElemType: 1, HasShape: true, Dims: []Dim{{Param: "batch"}, {Value: 4, Known: true}}}}
	wantOut := []Value{{Name: "y", ElemType: 10, HasShape: true, Dims: []Dim{{Param: "batch"}, {Value: 3, Known: true}}}}
	if !reflect.DeepEqual(m.Inputs, wantIn) || !reflect.DeepEqual(m.Outputs, wantOut) {
		t.Fatalf("inputs %+v outputs %+v", m.Inputs, m.Outputs)
	}
	// W 48 + b 12 + c (int64 [2], in the subgraph) 16 + the constant 8.
	if m.Tensors != 4 || m.Bytes != 84 {
		t.Fatalf("%d tensors, %d bytes; want 4, 84", m.Tensors, m.Bytes)
	}
	if want := []External{{Tensor: "W", Location: "model.onnx.data", Offset: 0, Length: 48, Bytes: 48}}; !reflect.DeepEqual(m.External, want) {
		t.Fatalf("external %+v, want %+v", m.External, want)
	}
	if TypeName(16) != "bfloat16" || TypeName(10) != "float16" || TypeName(7) != "int64" || TypeName(99) != "type99" {
		t.Fatal("TypeName")
	}
}

func TestReadRejects(t *testing.T) {
	for name, data := range map[string][]byte{
		"empty":             nil,
		"no graph":          pb{}.int(1, 8),
		"two graphs":        pb{}.msg(7, nil).msg(7, nil),
		"overrun":           pb{}.key(7, wireBytes).varint(100),
		"wire type 3":       pb{}.key(7, 3),
		"field 0":           pb{}.key(0, wireVarint).varint(1),
		"long varint":       bytes.Repeat([]byte{0xff}, 11),
		"external, nowhere": pb{}.msg(7, pb{}.msg(5, dims(pb{}, 1).int(2, 1).int(14, 1))),
		"bad offset":        pb{}.msg(7, pb{}.msg(5, pb{}.msg(13, entry("location", "d")).msg(13, entry("offset", "-4")).int(14, 1))),
	} {
		if _, err := Read(bytes.NewReader(data), int64(len(data))); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err %v, want ErrMalformed", name, err)
		}
	}
	deep := pb{}
	for range maxDepth + 2 {
		deep = pb{}.msg(1, pb{}.msg(5, pb{}.msg(6, deep))) // node → attribute → graph
	}
	data := pb{}.msg(7, deep)
	if _, err := Read(bytes.NewReader(data), int64(len(data))); !errors.Is(err, ErrMalformed) {
		t.Errorf("deep subgraphs: err %v", err)
	}
	// Any cut of a valid model parses (between fields) or is malformed.
	full := testModel()
	for n := range len(full) {
		if _, err := Read(bytes.NewReader(full[:n]), int64(n)); err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("cut at %d: %v", n, err)
		}
	}
}

func FuzzRead(f *testing.F) {
	f.Add(testModel())
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Read(bytes.NewReader(data), int64(len(data)))
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v is not ErrMalformed", err)
		}
		if err == nil && (m == nil || m.Bytes < 0 || m.Tensors < len(m.External)) {
			t.Fatalf("model %+v", m)
		}
	})
}
