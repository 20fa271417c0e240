package sim

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"strconv"
	"strings"
)

// NPY element types this package reads and writes.
const (
	DescrUint8   = "|u1"
	DescrFloat32 = "<f4"
)

// NPY limits: a header is at most MaxNPYHeader bytes and an array has at
// most MaxNPYDims dimensions. Readers also take a byte budget for the data.
const (
	MaxNPYHeader = 64 << 10
	MaxNPYDims   = 32
)

var npyMagic = []byte("\x93NUMPY")

// NPY is a decoded .npy array: little-endian data in C order.
type NPY struct {
	Descr string
	Shape []int
	Data  []byte
}

func itemSize(descr string) (int, error) {
	switch descr {
	case DescrUint8:
		return 1, nil
	case DescrFloat32:
		return 4, nil
	}
	return 0, fmt.Errorf("npy: unsupported descr %q (want %q or %q)", descr, DescrUint8, DescrFloat32)
}

// npyBytes returns the data size of an array, or an error when the shape
// is invalid or the size exceeds limit.
func npyBytes(descr string, shape []int, limit int64) (int64, error) {
	size, err := itemSize(descr)
	if err != nil {
		return 0, err
	}
	if len(shape) > MaxNPYDims {
		return 0, fmt.Errorf("npy: %d dimensions, at most %d", len(shape), MaxNPYDims)
	}
	n := uint64(size)
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("npy: negative dimension %d", d)
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt64 {
			return 0, fmt.Errorf("npy: shape %v overflows", shape)
		}
		n = lo
	}
	if int64(n) > limit {
		return 0, fmt.Errorf("npy: shape %v needs %d bytes, limit %d", shape, n, limit)
	}
	return int64(n), nil
}

// npyHeader returns the version 1.0 preamble and header dictionary for an
// array, padded with spaces to a total length that is a multiple of 64 and
// at least minLen (so a streamed file can rewrite it in place).
func npyHeader(descr string, shape []int, minLen int) ([]byte, error) {
	var sb strings.Builder
	sb.WriteString("{'descr': '")
	sb.WriteString(descr)
	sb.WriteString("', 'fortran_order': False, 'shape': (")
	for i, d := range shape {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(strconv.Itoa(d))
	}
	if len(shape) == 1 {
		sb.WriteString(",")
	}
	sb.WriteString("), }")
	total := len(npyMagic) + 4 + sb.Len() + 1 // preamble, dict, '\n'
	total = max(total, minLen)
	total = (total + 63) / 64 * 64
	hlen := total - len(npyMagic) - 4
	if hlen > math.MaxUint16 {
		return nil, errors.New("npy: header too long for format 1.0")
	}
	out := make([]byte, 0, total)
	out = append(out, npyMagic...)
	out = append(out, 1, 0)
	out = binary.LittleEndian.AppendUint16(out, uint16(hlen))
	out = append(out, sb.String()...)
	for len(out) < total-1 {
		out = append(out, ' ')
	}
	return append(out, '\n'), nil
}

// WriteNPY writes an array in NPY format 1.0. data must hold exactly the
// shape's bytes.
func WriteNPY(w io.Writer, descr string, shape []int, data []byte) error {
	n, err := npyBytes(descr, shape, math.MaxInt64)
	if err != nil {
		return err
	}
	if int64(len(data)) != n {
		return fmt.Errorf("npy: shape %v of %s needs %d bytes, have %d", shape, descr, n, len(data))
	}
	h, err := npyHeader(descr, shape, 0)
	if err != nil {
		return err
	}
	if _, err := w.Write(h); err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

// ReadNPY decodes one array (format 1.0, 2.0 or 3.0; descr DescrUint8 or
// DescrFloat32; C order). It is a decoder for untrusted input: the header
// is at most MaxNPYHeader bytes, the data at most maxBytes, the shape's
// size must not overflow, and the input must end right after the data.
func ReadNPY(r io.Reader, maxBytes int64) (*NPY, error) {
	var pre [10]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return nil, fmt.Errorf("npy: reading preamble: %w", err)
	}
	if !bytes.Equal(pre[:6], npyMagic) {
		return nil, errors.New("npy: not an NPY file (bad magic)")
	}
	var hlen int
	switch pre[6] {
	case 1:
		hlen = int(binary.LittleEndian.Uint16(pre[8:]))
	case 2, 3:
		var ext [2]byte
		if _, err := io.ReadFull(r, ext[:]); err != nil {
			return nil, fmt.Errorf("npy: reading header length: %w", err)
		}
		n := binary.LittleEndian.Uint32(append(pre[8:10:10], ext[:]...))
		if n > MaxNPYHeader {
			return nil, fmt.Errorf("npy: header of %d bytes exceeds %d", n, MaxNPYHeader)
		}
		hlen = int(n)
	default:
		return nil, fmt.Errorf("npy: unsupported format version %d.%d", pre[6], pre[7])
	}
	if hlen > MaxNPYHeader {
		return nil, fmt.Errorf("npy: header of %d bytes exceeds %d", hlen, MaxNPYHeader)
	}
	hdr := make([]byte, hlen)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, fmt.Errorf("npy: reading header: %w", err)
	}
	a, err := parseNPYHeader(string(hdr))
	if err != nil {
		return nil, err
	}
	n, err := npyBytes(a.Descr, a.Shape, maxBytes)
	if err != nil {
		return nil, err
	}
	a.Data = make([]byte, n)
	if _, err := io.ReadFull(r, a.Data); err != nil {
		return nil, fmt.Errorf("npy: reading %d data bytes: %w", n, err)
	}
	var extra [1]byte
	if k, _ := io.ReadFull(r, extra[:]); k != 0 {
		return nil, errors.New("npy: trailing bytes after the data")
	}
	return a, nil
}

// parseNPYHeader parses the header dictionary, a Python literal such as
// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 8), }.
func parseNPYHeader(h string) (*NPY, error) {
	p := &pyLit{s: h}
	if !p.eat('{') {
		return nil, errors.New("npy: header is not a dictionary")
	}
	a := &NPY{}
	seen := map[string]bool{}
	for {
		if p.eat('}') {
			break
		}
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		if seen[key] {
			return nil, fmt.Errorf("npy: header repeats key %q", key)
		}
		seen[key] = true
		if !p.eat(':') {
			return nil, fmt.Errorf("npy: header: missing ':' after %q", key)
		}
		switch key {
		case "descr":
			if a.Descr, err = p.str(); err != nil {
				return nil, err
			}
		case "fortran_order":
			f, err := p.boolean()
			if err != nil {
				return nil, err
			}
			if f {
				return nil, errors.New("npy: fortran_order arrays are not supported")
			}
		case "shape":
			if a.Shape, err = p.tuple(); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("npy: header has unknown key %q", key)
		}
		if !p.eat(',') {
			if !p.eat('}') {
				return nil, errors.New("npy: header: expected ',' or '}'")
			}
			break
		}
	}
	if strings.TrimRight(h[p.i:], " \t\r\n\x00") != "" {
		return nil, errors.New("npy: header: text after the dictionary")
	}
	for _, k := range []string{"descr", "fortran_order", "shape"} {
		if !seen[k] {
			return nil, fmt.Errorf("npy: header lacks %q", k)
		}
	}
	if _, err := itemSize(a.Descr); err != nil {
		return nil, err
	}
	return a, nil
}

// pyLit scans the small subset of Python literals NPY headers use.
type pyLit struct {
	s string
	i int
}

func (p *pyLit) skip() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

func (p *pyLit) eat(c byte) bool {
	p.skip()
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *pyLit) str() (string, error) {
	p.skip()
	if p.i >= len(p.s) || (p.s[p.i] != '\'' && p.s[p.i] != '"') {
		return "", errors.New("npy: header: expected a string")
	}
	q := p.s[p.i]
	end := strings.IndexByte(p.s[p.i+1:], q)
	if end < 0 {
		return "", errors.New("npy: header: unterminated string")
	}
	v := p.s[p.i+1 : p.i+1+end]
	if strings.ContainsRune(v, '\\') {
		return "", errors.New("npy: header: escapes in strings are not supported")
	}
	p.i += end + 2
	return v, nil
}

func (p *pyLit) boolean() (bool, error) {
	p.skip()
	for _, c := range []struct {
		lit string
		v   bool
	}{{"True", true}, {"False", false}} {
		if strings.HasPrefix(p.s[p.i:], c.lit) {
			p.i += len(c.lit)
			return c.v, nil
		}
	}
	return false, errors.New("npy: header: expected True or False")
}

func (p *pyLit) tuple() ([]int, error) {
	if !p.eat('(') {
		return nil, errors.New("npy: header: shape is not a tuple")
	}
	shape := []int{}
	for {
		if p.eat(')') {
			return shape, nil
		}
		p.skip()
		j := p.i
		for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
			j++
		}
		if j == p.i || j-p.i > 19 {
			return nil, errors.New("npy: header: bad shape dimension")
		}
		d, err := strconv.Atoi(p.s[p.i:j])
		if err != nil {
			return nil, fmt.Errorf("npy: header: shape dimension: %w", err)
		}
		p.i = j
		if len(shape) == MaxNPYDims {
			return nil, fmt.Errorf("npy: more than %d dimensions", MaxNPYDims)
		}
		shape = append(shape, d)
		if !p.eat(',') {
			if !p.eat(')') {
				return nil, errors.New("npy: header: expected ',' or ')' in shape")
			}
			return shape, nil
		}
	}
}

// Float32 decodes a DescrFloat32 array's data.
func (a *NPY) Float32() ([]float32, error) {
	if a.Descr != DescrFloat32 {
		return nil, fmt.Errorf("npy: array is %s, not %s", a.Descr, DescrFloat32)
	}
	out := make([]float32, len(a.Data)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(a.Data[4*i:]))
	}
	return out, nil
}
