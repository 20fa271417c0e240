package cv

import (
	"slices"
	"testing"
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/calibration"
	"github.com/efferent/efferent/camera"
)

// labCamera is a 640x480 camera with a clear barrel distortion.
var labCamera = calibration.Intrinsics{Width: 640, Height: 480, Fx: 600, Fy: 600, Cx: 320, Cy: 240, D: [5]float64{-0.2, 0.05}}

// TestCenterCropAndColor: a 0.5 centre crop of a 200x200 gradient resized
// to 100x100 keeps the middle (the gradient's values at 25 % and 75 %), and
// "bgr" swaps the channels of the output.
func TestCenterCropAndColor(t *testing.T) {
	src := gradient(200, 200) // R = x·255/199, G = y·255/199, B = 100
	p := newP(t, camera.Spec{Height: 100, Width: 100, Resize: camera.ResizeStretch, CenterCrop: 0.5, Color: "bgr"})
	var out efferent.Image
	if err := p.Apply(src, &out); err != nil {
		t.Fatal(err)
	}
	left, right := px(out, 50, 0), px(out, 50, 99)
	// BGR: index 0 is blue (100), index 2 the red gradient.
	if !near(left, [3]int{100, 128, 64}, 4) || !near(right, [3]int{100, 128, 191}, 4) {
		t.Fatalf("crop+bgr: left %v right %v, want B=100, G≈128, R≈64..191", left, right)
	}
}

// TestUndistort: a straight line imaged through the distortion is bent;
// after SetUndistort the preprocessed line is straight again.
func TestUndistort(t *testing.T) {
	// Render a vertical line at x = 80 px of the ideal image, as the
	// distorted camera sees it.
	src := efferent.Image{H: 480, W: 640, C: 3, Pix: make([]byte, 480*640*3)}
	for v := range 480 {
		for u := range 640 {
			x, y := labCamera.Undistort((float64(u)-labCamera.Cx)/labCamera.Fx, (float64(v)-labCamera.Cy)/labCamera.Fy)
			if ui := labCamera.Fx*x + labCamera.Cx; ui > 78 && ui < 82 {
				_ = y
				o := (v*640 + u) * 3
				src.Pix[o], src.Pix[o+1], src.Pix[o+2] = 255, 255, 255
			}
		}
	}
	spread := func(im efferent.Image) int { // horizontal extent of the line over the rows
		lo, hi := im.W, 0
		for v := 40; v < im.H-40; v++ {
			for u := 0; u < im.W/2; u++ {
				if im.Pix[(v*im.W+u)*3] > 128 {
					lo, hi = min(lo, u), max(hi, u)
					break
				}
			}
		}
		return hi - lo
	}
	raw := newP(t, camera.Spec{Height: 480, Width: 640, Resize: camera.ResizeStretch, Interpolation: "linear"})
	und := newP(t, camera.Spec{Height: 480, Width: 640, Resize: camera.ResizeStretch, Interpolation: "linear"})
	if err := und.SetUndistort(labCamera); err != nil {
		t.Fatal(err)
	}
	var a, b efferent.Image
	if err := raw.Apply(src, &a); err != nil {
		t.Fatal(err)
	}
	if err := und.Apply(src, &b); err != nil {
		t.Fatal(err)
	}
	if sa, sb := spread(a), spread(b); sa < 4 || sb > 1 {
		t.Fatalf("line spread: %d px distorted, %d px undistorted; want bent then straight", sa, sb)
	}
	if err := und.Apply(gradient(100, 100), &b); err == nil {
		t.Fatal("a frame of another size than the camera_info was undistorted")
	}
}

// BenchmarkPreprocessFull640x480 is the whole pipeline a lab camera frame
// takes to the model: undistort (precomputed maps), 0.9 centre crop,
// resize with padding to 224x224, channel order; p50/p99 per frame.
func BenchmarkPreprocessFull640x480(b *testing.B) {
	p := newP(b, camera.Spec{Height: 224, Width: 224, CenterCrop: 0.9, Color: "bgr"})
	if err := p.SetUndistort(labCamera); err != nil {
		b.Fatal(err)
	}
	src := gradient(480, 640)
	var out efferent.Image
	_ = p.Apply(src, &out)
	lat := make([]time.Duration, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		if err := p.Apply(src, &out); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds()), "p99-µs")
}

// TestFoldedPipelineMatches: with a distortion-free camera, the folded
// single-remap pipeline gives what the step-by-step one (rotate, crop,
// resize with padding) gives, for every rotation.
func TestFoldedPipelineMatches(t *testing.T) {
	src := gradient(480, 640)
	for i := range src.Pix { // texture, so that a misplaced pixel shows
		src.Pix[i] ^= byte((i / 3 % 640) * 7 & 0x3f)
	}
	pinhole := calibration.Intrinsics{Width: 640, Height: 480, Fx: 500, Fy: 500, Cx: 320, Cy: 240}
	for _, rot := range []int{0, 90, 180, 270} {
		spec := camera.Spec{Height: 224, Width: 224, Rotate: rot, CenterCrop: 0.8}
		steps, folded := newP(t, spec), newP(t, spec)
		if err := folded.SetUndistort(pinhole); err != nil {
			t.Fatal(err)
		}
		var a, b efferent.Image
		if err := steps.Apply(src, &a); err != nil {
			t.Fatal(err)
		}
		if err := folded.Apply(src, &b); err != nil {
			t.Fatal(err)
		}
		var sum float64
		for i := range a.Pix {
			d := float64(a.Pix[i]) - float64(b.Pix[i])
			sum += max(d, -d)
		}
		if mean := sum / float64(len(a.Pix)); mean > 3 {
			t.Fatalf("rotate %d: folded and step-by-step differ by %.2f grey levels on average", rot, mean)
		}
	}
}
