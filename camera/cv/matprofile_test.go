//go:build matprofile

package cv

import (
	"testing"

	"gocv.io/x/gocv"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/camera"
)

// TestMatLeaks (run with -tags matprofile, as `make test` does): gocv
// counts every live Mat; preprocessing many frames (every pipeline shape),
// decoding images and closing must leave none behind.
func TestMatLeaks(t *testing.T) {
	base := gocv.MatProfile.Count()
	for _, spec := range []camera.Spec{
		{Height: 224, Width: 224},
		{Height: 224, Width: 224, Rotate: 90, CenterCrop: 0.9, Color: "bgr"},
		{Height: 224, Width: 224, Resize: camera.ResizeStretch},
	} {
		for _, undistort := range []bool{false, true} {
			p, err := New(spec)
			if err != nil {
				t.Fatal(err)
			}
			if undistort {
				if err := p.SetUndistort(labCamera); err != nil {
					t.Fatal(err)
				}
			}
			var out efferent.Image
			for i := range 50 {
				src := gradient(480, 640)
				if i%10 == 9 {
					src = gradient(224, 224) // another size: new region headers
				}
				_ = p.Apply(src, &out)
			}
			if n := gocv.MatProfile.Count(); n <= base {
				t.Fatalf("no Mats alive while a preprocessor is open: the profile is not counting")
			}
			p.Close()
		}
	}
	for range 20 {
		if _, err := DecodeImage(encode(t, gradient(48, 64), "jpeg"), 4096); err != nil {
			t.Fatal(err)
		}
		_, _ = DecodeImage([]byte("garbage"), 4096)
	}
	if n := gocv.MatProfile.Count(); n != base {
		t.Fatalf("%d Mats leaked (%d before, %d after)", n-base, base, n)
	}
}
