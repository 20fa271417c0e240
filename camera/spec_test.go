package camera

import (
	"testing"

	"github.com/efferent/efferent"
)

func TestPadGeometry(t *testing.T) {
	for _, tc := range []struct{ sh, sw, h, w, ch, cw, top, left int }{
		{256, 256, 224, 224, 224, 224, 0, 0},
		{480, 640, 224, 224, 168, 224, 28, 0},
		{640, 480, 224, 224, 224, 168, 0, 28},
		{100, 300, 50, 50, 16, 50, 17, 0},
		{1, 4096, 224, 224, 1, 224, 111, 0}, // a strip keeps one pixel row
		{4096, 1, 224, 224, 224, 1, 0, 111},
	} {
		ch, cw, top, left := PadGeometry(tc.sh, tc.sw, tc.h, tc.w)
		if ch != tc.ch || cw != tc.cw || top != tc.top || left != tc.left {
			t.Errorf("%dx%d→%dx%d: %d %d %d %d, want %d %d %d %d", tc.sh, tc.sw, tc.h, tc.w, ch, cw, top, left, tc.ch, tc.cw, tc.top, tc.left)
		}
	}
}

func TestRotate180(t *testing.T) {
	im := efferent.Image{H: 2, W: 3, C: 1, Pix: []byte{1, 2, 3, 4, 5, 6}}
	Rotate180InPlace(im)
	want := []byte{6, 5, 4, 3, 2, 1}
	for i := range want {
		if im.Pix[i] != want[i] {
			t.Fatalf("%v, want %v", im.Pix, want)
		}
	}
}

func TestSpecValidate(t *testing.T) {
	good := Spec{Height: 224, Width: 224}.WithDefaults()
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []Spec{
		{Height: 0, Width: 224, Resize: ResizeWithPad, Interpolation: "linear"},
		{Height: 224, Width: 224, Resize: "crop", Interpolation: "linear"},
		{Height: 224, Width: 224, Resize: ResizeWithPad, Interpolation: "lanczos"},
		{Height: 224, Width: 224, Resize: ResizeWithPad, Interpolation: "linear", Rotate: 45},
	} {
		if bad.Validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
