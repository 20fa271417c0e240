// Package onnxfile reads what an ONNX model file declares, without ONNX
// Runtime: the graph's inputs and outputs with the names of their symbolic
// dimensions, the weights (initializers and constant tensors, with their
// external data references), the IR version, opsets and producer. ONNX
// Runtime's C API does not say the first two.
//
// It is a minimal reader of the ONNX protobuf (onnx/onnx.proto3): it reads
// through an io.ReaderAt with a small window and skips what it does not
// need, so a graph with gigabytes of embedded weights is never read into
// memory.
package onnxfile

import (
	"errors"
	"fmt"
	"io"
)

// Model is what an ONNX ModelProto declares.
type Model struct {
	IRVersion       int64
	Producer        string
	ProducerVersion string
	Opsets          map[string]int64 // domain ("" is ai.onnx) → version
	Inputs, Outputs []Value
	// Tensors counts the weights: initializers, sparse initializers' parts
	// and tensor attributes (Constant nodes), subgraphs included.
	Tensors int
	// Bytes is their size in memory (elements × element size), wherever
	// they are stored; External lists those stored in external data files.
	Bytes    int64
	External []External
}

// Value is a graph input or output as the file declares it.
type Value struct {
	Name     string
	ElemType int64 // ONNX TensorProto.DataType
	Dims     []Dim
	HasShape bool // false: the file declares no shape
}

// Dim is one dimension: a fixed Value, or a symbolic Param ("batch"),
// or neither (unknown).
type Dim struct {
	Value int64
	Param string
	Known bool // Value is set
}

// External is one tensor stored in an external data file.
type External struct {
	Tensor   string
	Location string
	Offset   int64
	Length   int64 // -1: not given (the rest of the file)
	Bytes    int64 // the tensor's size from its shape and type (-1: unknown)
}

// ErrMalformed is wrapped by every parse error.
var ErrMalformed = errors.New("malformed ONNX protobuf")

const (
	wireVarint = 0
	wire64     = 1
	wireBytes  = 2
	wire32     = 5

	window    = 64 << 10
	maxString = 1 << 20 // names, locations
	maxDepth  = 32      // nested subgraphs
)

type reader struct {
	r      io.ReaderAt
	size   int64
	buf    []byte
	bufOff int64
}

func (p *reader) byteAt(off int64) (byte, error) {
	if off < p.bufOff || off >= p.bufOff+int64(len(p.buf)) {
		if off < 0 || off >= p.size {
			return 0, fmt.Errorf("%w: truncated at byte %d", ErrMalformed, off)
		}
		n := min(int64(window), p.size-off)
		if cap(p.buf) < int(n) {
			p.buf = make([]byte, window)
		}
		p.buf = p.buf[:n]
		if _, err := p.r.ReadAt(p.buf, off); err != nil && !errors.Is(err, io.EOF) {
			p.buf = p.buf[:0]
			return 0, err
		}
		p.bufOff = off
	}
	return p.buf[off-p.bufOff], nil
}

func (p *reader) varint(off int64) (uint64, int64, error) {
	var v uint64
	for i := 0; i < 10; i++ {
		b, err := p.byteAt(off)
		if err != nil {
			return 0, off, err
		}
		off++
		v |= uint64(b&0x7f) << (7 * i)
		if b < 0x80 {
			return v, off, nil
		}
	}
	return 0, off, fmt.Errorf("%w: varint too long at byte %d", ErrMalformed, off)
}

func (p *reader) bytes(off, end int64, limit int64) ([]byte, error) {
	if end-off > limit {
		return nil, fmt.Errorf("%w: string of %d bytes at byte %d", ErrMalformed, end-off, off)
	}
	b := make([]byte, end-off)
	if _, err := p.r.ReadAt(b, off); err != nil && !(errors.Is(err, io.EOF) && len(b) == 0) {
		return nil, err
	}
	return b, nil
}

func (p *reader) str(f field) (string, error) {
	b, err := p.bytes(f.off, f.end, maxString)
	return string(b), err
}

// field is one field: its number, wire type, value (varint and fixed)
// and, for length-delimited fields, the byte range of its payload.
type field struct {
	num      int
	wire     int
	val      uint64
	off, end int64
}

// fields calls fn for every field of the message in [off, end).
func (p *reader) fields(off, end int64, fn func(field) error) error {
	for off < end {
		key, next, err := p.varint(off)
		if err != nil {
			return err
		}
		f := field{num: int(key >> 3), wire: int(key & 7)}
		off = next
		switch f.wire {
		case wireVarint:
			if f.val, off, err = p.varint(off); err != nil {
				return err
			}
		case wire64:
			off += 8
		case wire32:
			off += 4
		case wireBytes:
			n, next, err := p.varint(off)
			if err != nil {
				return err
			}
			// next may already be past end (a length varint that runs
			// over its message): end−next would then be negative, and as
			// a uint64 it would let any length through (the fuzzer found
			// one that wrapped the offset negative).
			if next > end || n > uint64(end-next) {
				return fmt.Errorf("%w: field %d of %d bytes at byte %d overruns its message", ErrMalformed, f.num, n, next)
			}
			f.off, f.end = next, next+int64(n)
			off = f.end
		default:
			return fmt.Errorf("%w: wire type %d at byte %d", ErrMalformed, f.wire, off)
		}
		if off > end {
			return fmt.Errorf("%w: field %d overruns its message at byte %d", ErrMalformed, f.num, off)
		}
		if f.num == 0 {
			return fmt.Errorf("%w: field number 0 at byte %d", ErrMalformed, off)
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

// Read parses the ModelProto in r (size bytes). A malformed file's error
// wraps ErrMalformed; an error reading r is returned as it is.
func Read(r io.ReaderAt, size int64) (*Model, error) {
	p := &reader{r: r, size: size}
	m := &Model{Opsets: map[string]int64{}}
	graphs := 0
	err := p.fields(0, size, func(f field) error {
		var err error
		switch {
		case f.num == 1 && f.wire == wireVarint: // ir_version
			m.IRVersion = int64(f.val)
		case f.num == 2 && f.wire == wireBytes: // producer_name
			m.Producer, err = p.str(f)
		case f.num == 3 && f.wire == wireBytes: // producer_version
			m.ProducerVersion, err = p.str(f)
		case f.num == 7 && f.wire == wireBytes: // graph
			graphs++
			err = p.graph(f.off, f.end, m, true, 0)
		case f.num == 8 && f.wire == wireBytes: // opset_import
			var domain string
			var version int64
			err = p.fields(f.off, f.end, func(g field) error {
				var err error
				switch {
				case g.num == 1 && g.wire == wireBytes:
					domain, err = p.str(g)
				case g.num == 2 && g.wire == wireVarint:
					version = int64(g.val)
				}
				return err
			})
			m.Opsets[domain] = version
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if graphs != 1 {
		return nil, fmt.Errorf("%w: %d graphs, want 1 (is this an ONNX model?)", ErrMalformed, graphs)
	}
	return m, nil
}

// graph parses a GraphProto: the main graph's inputs and outputs (main),
// and every graph's weights.
func (p *reader) graph(off, end int64, m *Model, main bool, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%w: subgraphs nested deeper than %d", ErrMalformed, maxDepth)
	}
	return p.fields(off, end, func(f field) error {
		if f.wire != wireBytes {
			return nil
		}
		switch f.num {
		case 1: // node
			return p.fields(f.off, f.end, func(g field) error {
				if g.num == 5 && g.wire == wireBytes { // attribute
					return p.attribute(g.off, g.end, m, depth)
				}
				return nil
			})
		case 5: // initializer
			return p.tensor(f.off, f.end, m)
		case 15: // sparse_initializer: values (1) and indices (2)
			return p.fields(f.off, f.end, func(g field) error {
				if (g.num == 1 || g.num == 2) && g.wire == wireBytes {
					return p.tensor(g.off, g.end, m)
				}
				return nil
			})
		case 11, 12: // input, output
			if !main {
				return nil
			}
			v, err := p.valueInfo(f.off, f.end)
			if err != nil {
				return err
			}
			if f.num == 11 {
				m.Inputs = append(m.Inputs, v)
			} else {
				m.Outputs = append(m.Outputs, v)
			}
		}
		return nil
	})
}

// attribute parses an AttributeProto for its tensors (t, tensors) and
// subgraphs (g, graphs).
func (p *reader) attribute(off, end int64, m *Model, depth int) error {
	return p.fields(off, end, func(f field) error {
		if f.wire != wireBytes {
			return nil
		}
		switch f.num {
		case 5, 10: // t, tensors
			return p.tensor(f.off, f.end, m)
		case 6, 11: // g, graphs
			return p.graph(f.off, f.end, m, false, depth+1)
		}
		return nil
	})
}

// tensor parses a TensorProto for its size and external data.
func (p *reader) tensor(off, end int64, m *Model) error {
	var (
		dims     []int64
		dtype    int64
		name     string
		external bool
		ext      = External{Length: -1}
	)
	err := p.fields(off, end, func(f field) error {
		var err error
		switch {
		case f.num == 1 && f.wire == wireVarint: // dims
			dims = append(dims, int64(f.val))
		case f.num == 1 && f.wire == wireBytes: // dims, packed
			for o := f.off; o < f.end && err == nil; {
				var v uint64
				v, o, err = p.varint(o)
				dims = append(dims, int64(v))
			}
		case f.num == 2 && f.wire == wireVarint: // data_type
			dtype = int64(f.val)
		case f.num == 8 && f.wire == wireBytes: // name
			name, err = p.str(f)
		case f.num == 13 && f.wire == wireBytes: // external_data: key (1), value (2)
			var k, v string
			err = p.fields(f.off, f.end, func(g field) error {
				var err error
				switch {
				case g.num == 1 && g.wire == wireBytes:
					k, err = p.str(g)
				case g.num == 2 && g.wire == wireBytes:
					v, err = p.str(g)
				}
				return err
			})
			if err == nil {
				err = ext.set(k, v)
			}
		case f.num == 14 && f.wire == wireVarint: // data_location: 1 = EXTERNAL
			external = f.val == 1
		}
		return err
	})
	if err != nil {
		return err
	}
	n := TensorBytes(dtype, dims)
	m.Tensors++
	if n > 0 {
		m.Bytes += n
	}
	if external {
		if ext.Location == "" {
			return fmt.Errorf("%w: tensor %q is external but names no location", ErrMalformed, name)
		}
		ext.Tensor, ext.Bytes = name, n
		m.External = append(m.External, ext)
	}
	return nil
}

func (e *External) set(key, value string) error {
	var err error
	switch key {
	case "location":
		e.Location = value
	case "offset":
		_, err = fmt.Sscan(value, &e.Offset)
	case "length":
		_, err = fmt.Sscan(value, &e.Length)
	}
	if err != nil || e.Offset < 0 || e.Length < -1 {
		return fmt.Errorf("%w: external data %s %q", ErrMalformed, key, value)
	}
	return nil
}

// valueInfo parses a ValueInfoProto: name and tensor type.
func (p *reader) valueInfo(off, end int64) (Value, error) {
	var v Value
	err := p.fields(off, end, func(f field) error {
		if f.wire != wireBytes {
			return nil
		}
		switch f.num {
		case 1:
			var err error
			v.Name, err = p.str(f)
			return err
		case 2: // TypeProto: tensor_type (1)
			return p.fields(f.off, f.end, func(t field) error {
				if t.num != 1 || t.wire != wireBytes {
					return nil
				}
				return p.fields(t.off, t.end, func(g field) error {
					switch {
					case g.num == 1 && g.wire == wireVarint:
						v.ElemType = int64(g.val)
					case g.num == 2 && g.wire == wireBytes: // shape: dim (1)
						v.HasShape = true
						return p.fields(g.off, g.end, func(d field) error {
							if d.num != 1 || d.wire != wireBytes {
								return nil
							}
							var dim Dim
							err := p.fields(d.off, d.end, func(x field) error {
								var err error
								switch {
								case x.num == 1 && x.wire == wireVarint:
									dim.Value, dim.Known = int64(x.val), true
								case x.num == 2 && x.wire == wireBytes:
									dim.Param, err = p.str(x)
								}
								return err
							})
							v.Dims = append(v.Dims, dim)
							return err
						})
					}
					return nil
				})
			})
		}
		return nil
	})
	return v, err
}

// elemBits is the size of each ONNX TensorProto.DataType in bits (absent:
// variable, e.g. strings, or unknown).
var elemBits = map[int64]int64{
	1: 32, 2: 8, 3: 8, 4: 16, 5: 16, 6: 32, 7: 64, 9: 8, 10: 16, 11: 64, 12: 32, 13: 64,
	14: 64, 15: 128, 16: 16, 17: 8, 18: 8, 19: 8, 20: 8, 21: 4, 22: 4, 23: 4,
}

// TensorBytes is a tensor's size in memory, -1 when unknown.
func TensorBytes(dtype int64, dims []int64) int64 {
	bits, ok := elemBits[dtype]
	if !ok || bits == 0 {
		return -1
	}
	n := int64(1)
	for _, d := range dims {
		if d < 0 || (d > 0 && n > (1<<62)/d) {
			return -1
		}
		n *= d
	}
	return (n*bits + 7) / 8
}

// TypeName names an ONNX element type (TensorProto.DataType, which ONNX
// Runtime's element type enum follows): float32, float16, bfloat16, int64,
// uint8, ...; "typeN" for a number it does not know.
func TypeName(dtype int64) string {
	if n, ok := typeNames[dtype]; ok {
		return n
	}
	return fmt.Sprintf("type%d", dtype)
}

var typeNames = map[int64]string{
	1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64", 8: "string",
	9: "bool", 10: "float16", 11: "float64", 12: "uint32", 13: "uint64", 14: "complex64", 15: "complex128",
	16: "bfloat16", 17: "float8e4m3fn", 18: "float8e4m3fnuz", 19: "float8e5m2", 20: "float8e5m2fnuz",
	21: "uint4", 22: "int4", 23: "float4e2m1",
}
