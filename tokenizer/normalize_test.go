package tokenizer

import (
	"errors"
	"math"
	"testing"
)

func TestNormalizerRoundTrip(t *testing.T) {
	n, err := NewNormalizer([]float64{-1, 0, 2}, []float64{1, 4, 2}, []bool{true, true, false})
	if err != nil {
		t.Fatal(err)
	}
	x := []float64{-1, 1, 0.3, 0, 0, -0.7}
	n.Unnormalize(x)
	want := []float64{-1, 4, 0.3, 0, 2, -0.7} // dim 2 is unmasked: passes through
	for i := range want {
		if math.Abs(x[i]-want[i]) > 1e-12 {
			t.Fatalf("unnormalize[%d] = %v, want %v", i, x[i], want[i])
		}
	}
	n.Normalize(x)
	back := []float64{-1, 1, 0.3, 0, 0, -0.7}
	for i := range back {
		if math.Abs(x[i]-back[i]) > 1e-12 {
			t.Fatalf("normalize[%d] = %v, want %v", i, x[i], back[i])
		}
	}
	y := []float64{5, -3, 0}
	n.Normalize(y)
	if y[0] != 1 || y[1] != -1 {
		t.Fatalf("normalize does not clip: %v", y)
	}
}

func TestNormalizerInvalid(t *testing.T) {
	for _, tc := range []struct {
		name     string
		q01, q99 []float64
		mask     []bool
	}{
		{"lengths", []float64{0}, []float64{1, 2}, nil},
		{"empty", nil, nil, nil},
		{"mask length", []float64{0}, []float64{1}, []bool{true, false}},
		{"nan", []float64{math.NaN()}, []float64{1}, nil},
		{"inverted", []float64{2}, []float64{1}, nil},
	} {
		if _, err := NewNormalizer(tc.q01, tc.q99, tc.mask); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: err = %v, want ErrConfig", tc.name, err)
		}
	}
}
