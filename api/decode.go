package api

import (
	"encoding/binary"
	"fmt"
	"math"
	"unicode/utf8"
)

// Decode parses exactly one msgpack message (trailing bytes are an error)
// into a Value tree, turning numpy ndarray maps into Array values.
func Decode(data []byte, lim Limits) (Value, error) {
	d := decoder{data: data, lim: lim.orDefaults()}
	v, err := d.value(0)
	if err != nil {
		return Value{}, err
	}
	if d.pos != len(d.data) {
		return Value{}, fmt.Errorf("%w: %d trailing bytes after the message", ErrMalformed, len(d.data)-d.pos)
	}
	return v, nil
}

type decoder struct {
	data   []byte
	pos    int
	lim    Limits
	values int
}

func (d *decoder) remaining() int { return len(d.data) - d.pos }

func (d *decoder) take(n int) ([]byte, error) {
	if n < 0 || n > d.remaining() {
		return nil, fmt.Errorf("%w: need %d bytes at offset %d, %d left", ErrMalformed, n, d.pos, d.remaining())
	}
	b := d.data[d.pos : d.pos+n : d.pos+n]
	d.pos += n
	return b, nil
}

func (d *decoder) uint(n int) (uint64, error) {
	b, err := d.take(n)
	if err != nil {
		return 0, err
	}
	switch n {
	case 1:
		return uint64(b[0]), nil
	case 2:
		return uint64(binary.BigEndian.Uint16(b)), nil
	case 4:
		return uint64(binary.BigEndian.Uint32(b)), nil
	default:
		return binary.BigEndian.Uint64(b), nil
	}
}

func (d *decoder) value(depth int) (Value, error) {
	d.values++
	if d.values > d.lim.MaxValues {
		return Value{}, fmt.Errorf("%w: more than %d values", ErrTooLarge, d.lim.MaxValues)
	}
	at := d.pos
	b, err := d.take(1)
	if err != nil {
		return Value{}, err
	}
	c := b[0]
	switch {
	case c <= 0x7f:
		return Value{Kind: Int, Int: int64(c)}, nil
	case c >= 0xe0:
		return Value{Kind: Int, Int: int64(int8(c))}, nil
	case c >= 0x80 && c <= 0x8f:
		return d.mapBody(int(c&0x0f), depth)
	case c >= 0x90 && c <= 0x9f:
		return d.listBody(int(c&0x0f), depth)
	case c >= 0xa0 && c <= 0xbf:
		return d.str(int(c & 0x1f))
	}
	switch c {
	case 0xc0:
		return Value{Kind: Nil}, nil
	case 0xc2, 0xc3:
		return Value{Kind: Bool, Bool: c == 0xc3}, nil
	case 0xc4, 0xc5, 0xc6:
		n, err := d.uint(1 << (c - 0xc4))
		if err != nil {
			return Value{}, err
		}
		if n > uint64(d.remaining()) {
			return Value{}, fmt.Errorf("%w: bin of %d bytes at offset %d, %d left", ErrMalformed, n, at, d.remaining())
		}
		p, _ := d.take(int(n))
		return Value{Kind: Bin, Bin: p}, nil
	case 0xca:
		u, err := d.uint(4)
		return Value{Kind: Float, Float: float64(math.Float32frombits(uint32(u)))}, err
	case 0xcb:
		u, err := d.uint(8)
		return Value{Kind: Float, Float: math.Float64frombits(u)}, err
	case 0xcc, 0xcd, 0xce, 0xcf:
		u, err := d.uint(1 << (c - 0xcc))
		if err != nil {
			return Value{}, err
		}
		if u > math.MaxInt64 {
			return Value{}, fmt.Errorf("%w: uint64 %d at offset %d does not fit int64", ErrMalformed, u, at)
		}
		return Value{Kind: Int, Int: int64(u)}, nil
	case 0xd0, 0xd1, 0xd2, 0xd3:
		n := 1 << (c - 0xd0)
		u, err := d.uint(n)
		if err != nil {
			return Value{}, err
		}
		shift := 64 - 8*n
		return Value{Kind: Int, Int: int64(u<<shift) >> shift}, nil
	case 0xd9, 0xda, 0xdb:
		n, err := d.uint(1 << (c - 0xd9))
		if err != nil {
			return Value{}, err
		}
		if n > uint64(d.lim.MaxStringBytes) {
			return Value{}, fmt.Errorf("%w: str of %d bytes at offset %d (limit %d)", ErrTooLarge, n, at, d.lim.MaxStringBytes)
		}
		return d.str(int(n))
	case 0xdc, 0xdd:
		n, err := d.uint(2 << (c - 0xdc))
		if err != nil {
			return Value{}, err
		}
		return d.listBody(int(min(n, math.MaxInt32)), depth)
	case 0xde, 0xdf:
		n, err := d.uint(2 << (c - 0xde))
		if err != nil {
			return Value{}, err
		}
		return d.mapBody(int(min(n, math.MaxInt32)), depth)
	case 0xc7, 0xc8, 0xc9, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		return Value{}, fmt.Errorf("%w: msgpack ext type (0x%02x) at offset %d is not supported", ErrMalformed, c, at)
	default:
		return Value{}, fmt.Errorf("%w: invalid msgpack byte 0x%02x at offset %d", ErrMalformed, c, at)
	}
}

func (d *decoder) str(n int) (Value, error) {
	if n > d.lim.MaxStringBytes {
		return Value{}, fmt.Errorf("%w: str of %d bytes (limit %d)", ErrTooLarge, n, d.lim.MaxStringBytes)
	}
	b, err := d.take(n)
	if err != nil {
		return Value{}, err
	}
	if !utf8.Valid(b) {
		return Value{}, fmt.Errorf("%w: str at offset %d is not valid UTF-8", ErrMalformed, d.pos-n)
	}
	return Value{Kind: Str, Str: string(b)}, nil
}

func (d *decoder) listBody(n, depth int) (Value, error) {
	if depth+1 > d.lim.MaxDepth {
		return Value{}, fmt.Errorf("%w: nesting deeper than %d", ErrTooLarge, d.lim.MaxDepth)
	}
	if n > d.lim.MaxEntries {
		return Value{}, fmt.Errorf("%w: array of %d entries (limit %d)", ErrTooLarge, n, d.lim.MaxEntries)
	}
	if n > d.remaining() { // every value takes at least one byte
		return Value{}, fmt.Errorf("%w: array of %d entries in %d bytes", ErrMalformed, n, d.remaining())
	}
	l := make([]Value, n)
	for i := range l {
		v, err := d.value(depth + 1)
		if err != nil {
			return Value{}, err
		}
		l[i] = v
	}
	return Value{Kind: List, List: l}, nil
}

func (d *decoder) mapBody(n, depth int) (Value, error) {
	if depth+1 > d.lim.MaxDepth {
		return Value{}, fmt.Errorf("%w: nesting deeper than %d", ErrTooLarge, d.lim.MaxDepth)
	}
	if n > d.lim.MaxEntries {
		return Value{}, fmt.Errorf("%w: map of %d entries (limit %d)", ErrTooLarge, n, d.lim.MaxEntries)
	}
	if 2*n > d.remaining() {
		return Value{}, fmt.Errorf("%w: map of %d entries in %d bytes", ErrMalformed, n, d.remaining())
	}
	m := make([]Entry, n)
	var seen map[string]struct{} // the keys so far, once past scanKeys
	for i := range m {
		at := d.pos
		k, err := d.value(depth + 1)
		if err != nil {
			return Value{}, err
		}
		switch k.Kind {
		case Str:
			m[i].Key = k.Str
		case Bin:
			m[i].Key, m[i].BinKey = string(k.Bin), true
		default:
			// openpi unpacks with strict_map_key=True: only str/bin keys.
			return Value{}, fmt.Errorf("%w: map key at offset %d is %v, want str or bin", ErrMalformed, at, k.Kind)
		}
		if dupKey(m, i, &seen) {
			return Value{}, fmt.Errorf("%w: duplicate map key %q", ErrMalformed, m[i].Key)
		}
		if m[i].Val, err = d.value(depth + 1); err != nil {
			return Value{}, err
		}
	}
	v := Value{Kind: Map, Map: m}
	if nd, ok := v.Get("__ndarray__"); ok && nd.Kind == Bool && nd.Bool {
		return d.ndarray(&v)
	}
	if ng, ok := v.Get("__npgeneric__"); ok && ng.Kind == Bool && ng.Bool {
		return npgeneric(&v)
	}
	return v, nil
}

// scanKeys: up to this many entries, a new key is compared with the ones
// before it; past it they go in a set, so that a wide map costs linear
// time, not quadratic (BenchmarkDecodeWideMap).
const scanKeys = 16

// dupKey reports whether m[i].Key is one of m[:i]'s keys. From entry
// scanKeys on, *seen holds the keys (built then, sized for the map).
func dupKey(m []Entry, i int, seen *map[string]struct{}) bool {
	k := m[i].Key
	if i < scanKeys {
		for j := range i {
			if m[j].Key == k {
				return true
			}
		}
		return false
	}
	if *seen == nil {
		*seen = make(map[string]struct{}, len(m))
		for j := range i {
			(*seen)[m[j].Key] = struct{}{}
		}
	}
	if _, dup := (*seen)[k]; dup {
		return true
	}
	(*seen)[k] = struct{}{}
	return false
}

// ndarray converts a msgpack_numpy array map.
func (d *decoder) ndarray(v *Value) (Value, error) {
	data, ok1 := v.Get("data")
	dt, ok2 := v.Get("dtype")
	sh, ok3 := v.Get("shape")
	if !ok1 || !ok2 || !ok3 || len(v.Map) != 4 {
		return Value{}, fmt.Errorf("%w: ndarray needs exactly __ndarray__, data, dtype, shape", ErrMalformed)
	}
	if data.Kind != Bin || dt.Kind != Str || sh.Kind != List {
		return Value{}, fmt.Errorf("%w: ndarray data must be bin (is %v), dtype str (is %v), shape an array (is %v)", ErrMalformed, data.Kind, dt.Kind, sh.Kind)
	}
	if len(sh.List) > d.lim.MaxRank {
		return Value{}, fmt.Errorf("%w: ndarray of rank %d (limit %d)", ErrTooLarge, len(sh.List), d.lim.MaxRank)
	}
	shape := make([]int64, len(sh.List))
	for i, s := range sh.List {
		if s.Kind != Int {
			return Value{}, fmt.Errorf("%w: ndarray shape[%d] must be an int in [0, 2^31)", ErrBadShape, i)
		}
		shape[i] = s.Int
	}
	return newArray(dt.Str, shape, data.Bin, d.lim)
}

// newArray checks an ndarray's dtype, rank, shape and byte count against
// lim and each other, for every encoding that carries one (msgpack_numpy,
// json_numpy). data is aliased.
func newArray(dtypeStr string, shape64 []int64, data []byte, lim Limits) (Value, error) {
	dtype, err := ParseDType(dtypeStr)
	if err != nil {
		return Value{}, err
	}
	if len(shape64) > lim.MaxRank {
		return Value{}, fmt.Errorf("%w: ndarray of rank %d (limit %d)", ErrTooLarge, len(shape64), lim.MaxRank)
	}
	shape := make([]int, len(shape64))
	count := 1
	for i, s := range shape64 {
		if s < 0 || s > math.MaxInt32 {
			return Value{}, fmt.Errorf("%w: ndarray shape[%d] must be an int in [0, 2^31)", ErrBadShape, i)
		}
		shape[i] = int(s)
		if count > 0 && shape[i] > math.MaxInt64/8/count {
			return Value{}, fmt.Errorf("%w: ndarray shape %v overflows", ErrBadShape, shape)
		}
		count *= shape[i]
	}
	if count*dtype.Size != len(data) {
		return Value{}, fmt.Errorf("%w: ndarray shape %v of %s needs %d bytes, data has %d", ErrBadShape, shape, dtypeStr, count*dtype.Size, len(data))
	}
	return Value{Kind: Array, Array: &NDArray{DType: dtype, Shape: shape, Data: data}}, nil
}

// npgeneric converts a msgpack_numpy scalar map to its plain value.
func npgeneric(v *Value) (Value, error) {
	data, ok1 := v.Get("data")
	dt, ok2 := v.Get("dtype")
	if !ok1 || !ok2 || dt.Kind != Str {
		return Value{}, fmt.Errorf("%w: numpy scalar needs data and a str dtype", ErrMalformed)
	}
	if _, err := ParseDType(dt.Str); err != nil {
		return Value{}, err
	}
	switch data.Kind {
	case Int, Float, Bool:
		return *data, nil
	}
	return Value{}, fmt.Errorf("%w: numpy scalar data is %v", ErrBadDType, data.Kind)
}
