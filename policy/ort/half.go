package ort

import (
	"encoding/binary"
	"math"
)

// IEEE 754 half precision (float16) and bfloat16 to and from float32,
// for graphs exported in half precision: efferent computes in float32 and
// converts at the graph's edge.

// f32ToF16 rounds to nearest even, with overflow to ±Inf, subnormals, and
// NaN kept a NaN.
func f32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	man := b & 0x7fffff
	switch {
	case exp == 0xff: // Inf or NaN
		if man != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	case exp-127+15 >= 0x1f: // overflow
		return sign | 0x7c00
	case exp-127+15 <= 0: // subnormal or zero in half
		e := exp - 127 + 15
		if e < -10 {
			return sign
		}
		man |= 0x800000
		shift := uint32(14 - e)
		h := man >> shift
		rem := man & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && h&1 == 1) {
			h++
		}
		return sign | uint16(h)
	}
	e := uint32(exp - 127 + 15)
	h := e<<10 | man>>13
	rem := man & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++ // may carry into the exponent: still correct, up to Inf
	}
	return sign | uint16(h)
}

func f16ToF32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	man := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	case exp == 0:
		if man == 0 {
			return math.Float32frombits(sign)
		}
		// subnormal: normalise
		e := uint32(127 - 15 + 1)
		for man&0x400 == 0 {
			man <<= 1
			e--
		}
		return math.Float32frombits(sign | e<<23 | (man&0x3ff)<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | man<<13)
}

// f32ToBF16 rounds to nearest even; NaN stays a NaN.
func f32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

func bf16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// putHalf writes src into dst (2 bytes each, little endian) as float16 or
// bfloat16.
func putHalf(dst []byte, src []float32, bf bool) {
	for i, f := range src {
		var h uint16
		if bf {
			h = f32ToBF16(f)
		} else {
			h = f32ToF16(f)
		}
		binary.LittleEndian.PutUint16(dst[2*i:], h)
	}
}

// getHalf reads float16 or bfloat16 values from src into dst.
func getHalf(dst []float32, src []byte, bf bool) {
	for i := range dst {
		h := binary.LittleEndian.Uint16(src[2*i:])
		if bf {
			dst[i] = bf16ToF32(h)
		} else {
			dst[i] = f16ToF32(h)
		}
	}
}
