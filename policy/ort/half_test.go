package ort

import (
	"math"
	"testing"
)

// Every half value survives the trip through float32 and back, and
// float32 values round to the nearest half (ties to even).
func TestHalfConversions(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		f := f16ToF32(uint16(h))
		if math.IsNaN(float64(f)) {
			if got := f32ToF16(f); got&0x7c00 != 0x7c00 || got&0x3ff == 0 {
				t.Fatalf("NaN %#04x came back as %#04x", h, got)
			}
			continue
		}
		if got := f32ToF16(f); got != uint16(h) {
			t.Fatalf("float16 %#04x → %v → %#04x", h, f, got)
		}
		if got := f32ToBF16(bf16ToF32(uint16(h))); got != uint16(h) && !math.IsNaN(float64(bf16ToF32(uint16(h)))) {
			t.Fatalf("bfloat16 %#04x → %#04x", h, got)
		}
	}
	for _, c := range []struct {
		f float32
		h uint16
	}{{1, 0x3c00}, {-2, 0xc000}, {65504, 0x7bff}, {65520, 0x7c00}, {1e-8, 0}, {5.960464477539063e-08, 1},
		{1.0009765625, 0x3c01}, {1.00048828125, 0x3c00} /* tie: to even */, {1.00146484375, 0x3c02} /* tie: to even */} {
		if got := f32ToF16(c.f); got != c.h {
			t.Errorf("%v → %#04x, want %#04x", c.f, got, c.h)
		}
	}
	if got := f32ToBF16(1.00390625); got != 0x3f80 { // tie to even
		t.Errorf("bf16 tie: %#04x", got)
	}
}
