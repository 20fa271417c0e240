package api

import (
	"encoding/binary"
	"fmt"
	"math"
)

// DType is a numpy dtype: kind 'b' (bool), 'i', 'u' or 'f', item size in
// bytes, and byte order.
type DType struct {
	Kind      byte
	Size      int
	BigEndian bool
}

// ParseDType reads numpy's dtype.str, e.g. "|u1", "<f4", ">i8". Only
// numeric and bool types are supported; float16 is refused.
func ParseDType(s string) (DType, error) {
	if len(s) < 3 {
		return DType{}, fmt.Errorf("%w: %q", ErrBadDType, s)
	}
	var d DType
	switch s[0] {
	case '<', '|', '=':
	case '>':
		d.BigEndian = true
	default:
		return DType{}, fmt.Errorf("%w: %q has byte order %q", ErrBadDType, s, s[0])
	}
	d.Kind = s[1]
	switch s[2:] {
	case "1":
		d.Size = 1
	case "2":
		d.Size = 2
	case "4":
		d.Size = 4
	case "8":
		d.Size = 8
	default:
		return DType{}, fmt.Errorf("%w: %q", ErrBadDType, s)
	}
	switch {
	case d.Kind == 'b' && d.Size == 1, d.Kind == 'i', d.Kind == 'u', d.Kind == 'f' && d.Size >= 4:
		return d, nil
	}
	return DType{}, fmt.Errorf("%w: %q is not supported (want bool, int, uint, float32 or float64)", ErrBadDType, s)
}

// String is numpy's dtype.str.
func (d DType) String() string {
	o := byte('<')
	if d.Size == 1 {
		o = '|'
	} else if d.BigEndian {
		o = '>'
	}
	return fmt.Sprintf("%c%c%d", o, d.Kind, d.Size)
}

// NDArray is a numpy array; Data aliases the message it came from.
type NDArray struct {
	DType DType
	Shape []int
	Data  []byte
}

// Len is the number of elements.
func (a *NDArray) Len() int { return len(a.Data) / a.DType.Size }

// Float64 returns element i (C order) as float64.
func (a *NDArray) Float64(i int) float64 {
	sz := a.DType.Size
	b := a.Data[i*sz : (i+1)*sz]
	var u uint64
	switch sz {
	case 1:
		u = uint64(b[0])
	case 2:
		if a.DType.BigEndian {
			u = uint64(binary.BigEndian.Uint16(b))
		} else {
			u = uint64(binary.LittleEndian.Uint16(b))
		}
	case 4:
		if a.DType.BigEndian {
			u = uint64(binary.BigEndian.Uint32(b))
		} else {
			u = uint64(binary.LittleEndian.Uint32(b))
		}
	case 8:
		if a.DType.BigEndian {
			u = binary.BigEndian.Uint64(b)
		} else {
			u = binary.LittleEndian.Uint64(b)
		}
	}
	switch a.DType.Kind {
	case 'f':
		if sz == 4 {
			return float64(math.Float32frombits(uint32(u)))
		}
		return math.Float64frombits(u)
	case 'i':
		shift := 64 - 8*sz
		return float64(int64(u<<shift) >> shift)
	default: // 'u', 'b'
		return float64(u)
	}
}
