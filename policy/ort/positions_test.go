package ort

import (
	"slices"
	"testing"

	"github.com/efferent/efferent/policy"
)

// A step's position id counts the whole prefix, or (attended, Hugging
// Face's convention) only the prefix tokens the row attends to: prompt
// padding must not shift a RoPE model's positions.
func TestDecoderPositions(t *testing.T) {
	m := &policy.Manifest{}
	m.Encoder.PrefixLen = 4
	v := &VLA{m: m}
	mask := []int64{1, 1, 1, 1, 1, 1, 0, 0} // row 0 attends to 4, row 1 to 2
	pos := make([]int64, 2)
	v.positions(pos, mask, 2, 3)
	if !slices.Equal(pos, []int64{7, 7}) {
		t.Fatalf("prefix: %v, want [7 7]", pos)
	}
	m.Decoder.Positions = policy.PositionsAttended
	v.positions(pos, mask, 2, 3)
	if !slices.Equal(pos, []int64{7, 5}) {
		t.Fatalf("attended: %v, want [7 5]", pos)
	}
}
