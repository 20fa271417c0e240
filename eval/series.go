package eval

import (
	"encoding/json"
	"math"
	"strconv"
)

// Series is a row of numbers whose JSON form writes NaN and ±Inf as null:
// a policy that emits them is exactly what a trace should show, but JSON
// has no such numbers and encoding/json would refuse the whole report.
type Series []float64

// MarshalJSON writes the numbers, non-finite ones as null.
func (s Series) MarshalJSON() ([]byte, error) {
	if s == nil {
		return []byte("null"), nil
	}
	b := make([]byte, 0, 2+len(s)*8)
	b = append(b, '[')
	for i, v := range s {
		if i > 0 {
			b = append(b, ',')
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			b = append(b, "null"...)
			continue
		}
		// The same shortest form encoding/json writes, so values round-trip.
		b = strconv.AppendFloat(b, v, 'g', -1, 64)
	}
	return append(b, ']'), nil
}

// UnmarshalJSON reads numbers, null as NaN.
func (s *Series) UnmarshalJSON(b []byte) error {
	var raw []*float64
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if raw == nil {
		*s = nil
		return nil
	}
	out := make(Series, len(raw))
	for i, p := range raw {
		if p == nil {
			out[i] = math.NaN()
		} else {
			out[i] = *p
		}
	}
	*s = out
	return nil
}
