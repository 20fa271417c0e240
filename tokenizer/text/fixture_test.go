package text

import (
	"slices"
	"testing"
)

// TestFixtureModelTokenizer checks the bundled model's Llama-style
// tokenizer against the ids its build script computed.
func TestFixtureModelTokenizer(t *testing.T) {
	tk, err := Load("../../models/efferent-fixture/tokenizer.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		text string
		want []int64
	}{
		{"put the red block in the blue bowl", []int64{1, 304, 284, 343, 302, 313, 284, 286, 269, 277, 263, 312}},
		{"push the plate to the left, café!", []int64{1, 351, 284, 314, 305, 284, 341, 47, 311, 259, 264, 198, 172, 36}},
	} {
		got, err := tk.Encode(tc.text, true)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%q: %v, want %v", tc.text, got, tc.want)
		}
		back, err := tk.Decode(got, true)
		if err != nil || back != tc.text {
			t.Errorf("decode: %q, %v", back, err)
		}
	}
}
