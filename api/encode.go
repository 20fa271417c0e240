package api

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"
)

// The append helpers write msgpack in the shortest form, as Python's
// msgpack does.

func appendMapLen(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x80|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xde), uint16(n))
	default:
		return binary.BigEndian.AppendUint32(append(b, 0xdf), uint32(n))
	}
}

func appendArrayLen(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x90|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xdc), uint16(n))
	default:
		return binary.BigEndian.AppendUint32(append(b, 0xdd), uint32(n))
	}
}

func appendStr(b []byte, s string) []byte {
	n := len(s)
	switch {
	case n < 32:
		b = append(b, 0xa0|byte(n))
	case n <= math.MaxUint8:
		b = append(b, 0xd9, byte(n))
	case n <= math.MaxUint16:
		b = binary.BigEndian.AppendUint16(append(b, 0xda), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xdb), uint32(n))
	}
	return append(b, s...)
}

func appendBinHeader(b []byte, n int) []byte {
	switch {
	case n <= math.MaxUint8:
		return append(b, 0xc4, byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xc5), uint16(n))
	default:
		return binary.BigEndian.AppendUint32(append(b, 0xc6), uint32(n))
	}
}

func appendBinStr(b []byte, s string) []byte { return append(appendBinHeader(b, len(s)), s...) }

func appendFloat64(b []byte, f float64) []byte {
	return binary.BigEndian.AppendUint64(append(b, 0xcb), math.Float64bits(f))
}

func appendInt(b []byte, i int64) []byte {
	switch {
	case i >= 0 && i <= 0x7f:
		return append(b, byte(i))
	case i < 0 && i >= -32:
		return append(b, byte(i))
	case i >= 0 && i <= math.MaxUint8:
		return append(b, 0xcc, byte(i))
	case i >= 0 && i <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, 0xcd), uint16(i))
	case i >= 0 && i <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, 0xce), uint32(i))
	case i >= 0:
		return binary.BigEndian.AppendUint64(append(b, 0xcf), uint64(i))
	case i >= math.MinInt8:
		return append(b, 0xd0, byte(i))
	case i >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(b, 0xd1), uint16(i))
	case i >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(b, 0xd2), uint32(i))
	default:
		return binary.BigEndian.AppendUint64(append(b, 0xd3), uint64(i))
	}
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 0xc3)
	}
	return append(b, 0xc2)
}

// appendNDArrayHeader writes an ndarray map up to (not including) the n
// data bytes, which the caller appends before appendNDArrayTail.
func appendNDArrayHeader(b []byte, n int) []byte {
	b = appendMapLen(b, 4)
	b = appendBool(appendBinStr(b, "__ndarray__"), true)
	return appendBinHeader(appendBinStr(b, "data"), n)
}

// appendNDArrayTail writes the dtype and shape entries after the data.
func appendNDArrayTail(b []byte, dtype string, shape []int) []byte {
	b = appendStr(appendBinStr(b, "dtype"), dtype)
	b = appendArrayLen(appendBinStr(b, "shape"), len(shape))
	for _, s := range shape {
		b = appendInt(b, int64(s))
	}
	return b
}

// AppendFloat64Array appends a C-order float64 ndarray ("<f8").
func AppendFloat64Array(b []byte, shape []int, v []float64) []byte {
	b = appendNDArrayHeader(b, 8*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
	}
	return appendNDArrayTail(b, "<f8", shape)
}

// AppendUint8Array appends a C-order uint8 ndarray ("|u1").
func AppendUint8Array(b []byte, shape []int, v []byte) []byte {
	b = append(appendNDArrayHeader(b, len(v)), v...)
	return appendNDArrayTail(b, "|u1", shape)
}

// AppendAny appends a plain Go value: nil, bool, integers, floats, string,
// []byte (bin), []any, []float64, []int, []string, map[string]any (keys
// sorted, for a deterministic encoding).
func AppendAny(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, 0xc0), nil
	case bool:
		return appendBool(b, x), nil
	case int:
		return appendInt(b, int64(x)), nil
	case int64:
		return appendInt(b, x), nil
	case int32:
		return appendInt(b, int64(x)), nil
	case uint32:
		return appendInt(b, int64(x)), nil
	case float64:
		return appendFloat64(b, x), nil
	case float32:
		return appendFloat64(b, float64(x)), nil
	case string:
		return appendStr(b, x), nil
	case []byte:
		return append(appendBinHeader(b, len(x)), x...), nil
	case []float64:
		b = appendArrayLen(b, len(x))
		for _, f := range x {
			b = appendFloat64(b, f)
		}
		return b, nil
	case []int:
		b = appendArrayLen(b, len(x))
		for _, i := range x {
			b = appendInt(b, int64(i))
		}
		return b, nil
	case []string:
		b = appendArrayLen(b, len(x))
		for _, s := range x {
			b = appendStr(b, s)
		}
		return b, nil
	case []any:
		b = appendArrayLen(b, len(x))
		var err error
		for _, e := range x {
			if b, err = AppendAny(b, e); err != nil {
				return nil, err
			}
		}
		return b, nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b = appendMapLen(b, len(keys))
		var err error
		for _, k := range keys {
			if b, err = AppendAny(appendStr(b, k), x[k]); err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
		}
		return b, nil
	default:
		return nil, fmt.Errorf("cannot encode %T", v)
	}
}

// EncodeMetadata appends the metadata frame: the map, or the empty map
// (0x80) when md is nil, as openpi sends for LIBERO.
func EncodeMetadata(b []byte, md map[string]any) ([]byte, error) {
	if md == nil {
		return append(b, 0x80), nil
	}
	return AppendAny(b, md)
}
