package cv

import (
	"bytes"
	"strings"
	"testing"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/camera"
)

// gradient: R = x·255/(w−1), G = y·255/(h−1), B = 100.
func gradient(h, w int) efferent.Image {
	im := efferent.Image{H: h, W: w, C: 3, Pix: make([]byte, h*w*3)}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			o := (y*w + x) * 3
			im.Pix[o] = byte(x * 255 / (w - 1))
			im.Pix[o+1] = byte(y * 255 / (h - 1))
			im.Pix[o+2] = 100
		}
	}
	return im
}

func px(im efferent.Image, y, x int) [3]int {
	o := (y*im.W + x) * 3
	return [3]int{int(im.Pix[o]), int(im.Pix[o+1]), int(im.Pix[o+2])}
}

func near(a, b [3]int, tol int) bool {
	for i := range a {
		if d := a[i] - b[i]; d > tol || d < -tol {
			return false
		}
	}
	return true
}

func newP(t testing.TB, s camera.Spec) *Preprocessor {
	p, err := New(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func TestSquareDownscale(t *testing.T) {
	p := newP(t, camera.Spec{Height: 224, Width: 224})
	var out efferent.Image
	if err := p.Apply(gradient(256, 256), &out); err != nil {
		t.Fatal(err)
	}
	if out.H != 224 || out.W != 224 || out.C != 3 {
		t.Fatalf("%dx%dx%d", out.H, out.W, out.C)
	}
	// No padding for a square source; corners keep the gradient's ends.
	if !near(px(out, 0, 0), [3]int{0, 0, 100}, 2) || !near(px(out, 223, 223), [3]int{255, 255, 100}, 2) {
		t.Fatalf("corners %v %v", px(out, 0, 0), px(out, 223, 223))
	}
	if !near(px(out, 112, 112), [3]int{128, 128, 100}, 3) {
		t.Fatalf("centre %v", px(out, 112, 112))
	}
}

func TestPadLandscape(t *testing.T) {
	p := newP(t, camera.Spec{Height: 224, Width: 224})
	var out efferent.Image
	src := gradient(480, 640)
	if err := p.Apply(src, &out); err != nil {
		t.Fatal(err)
	}
	// Content is 168 rows at offset 28; the rest is exactly black.
	for _, y := range []int{0, 27, 196, 223} {
		for x := 0; x < 224; x++ {
			if px(out, y, x) != [3]int{0, 0, 0} {
				t.Fatalf("pad pixel (%d,%d) = %v", y, x, px(out, y, x))
			}
		}
	}
	if got := px(out, 28, 0); got[2] != 100 {
		t.Fatalf("first content row %v", got)
	}
	if got := px(out, 28+84, 112); !near(got, [3]int{128, 128, 100}, 3) {
		t.Fatalf("middle %v", got)
	}
	// A second, same-sized frame reuses the region and stays correct.
	src2 := gradient(480, 640)
	for i := range src2.Pix {
		src2.Pix[i] = 255 - src2.Pix[i]
	}
	if err := p.Apply(src2, &out); err != nil {
		t.Fatal(err)
	}
	if px(out, 0, 0) != [3]int{0, 0, 0} || px(out, 28+84, 112)[2] != 155 {
		t.Fatalf("second frame: pad %v middle %v", px(out, 0, 0), px(out, 28+84, 112))
	}
}

func TestPassthroughAndRotate(t *testing.T) {
	src := gradient(224, 224)
	p := newP(t, camera.Spec{Height: 224, Width: 224})
	var out efferent.Image
	if err := p.Apply(src, &out); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Pix, src.Pix) {
		t.Fatal("right-sized image changed")
	}
	r := newP(t, camera.Spec{Height: 224, Width: 224, Rotate: 180})
	if err := r.Apply(gradient(256, 256), &out); err != nil {
		t.Fatal(err)
	}
	// After 180°, the source's bottom-right (255, 255) is at the top-left.
	if !near(px(out, 0, 0), [3]int{255, 255, 100}, 2) {
		t.Fatalf("rotated corner %v", px(out, 0, 0))
	}
}

func TestStretchAndNone(t *testing.T) {
	var out efferent.Image
	s := newP(t, camera.Spec{Height: 100, Width: 100, Resize: camera.ResizeStretch, Interpolation: "area"})
	if err := s.Apply(gradient(480, 640), &out); err != nil {
		t.Fatal(err)
	}
	if px(out, 0, 0)[2] != 100 || px(out, 99, 99)[2] != 100 { // no padding anywhere
		t.Fatalf("stretch padded: %v %v", px(out, 0, 0), px(out, 99, 99))
	}
	n := newP(t, camera.Spec{Height: 224, Width: 224, Resize: camera.ResizeNone})
	if err := n.Apply(gradient(256, 256), &out); err == nil || !strings.Contains(err.Error(), "resizing is off") {
		t.Fatalf("err = %v", err)
	}
}

func TestBadInput(t *testing.T) {
	p := newP(t, camera.Spec{Height: 224, Width: 224})
	var out efferent.Image
	for _, tc := range []struct {
		im   efferent.Image
		want string
	}{
		{efferent.Image{H: 4, W: 4, C: 1, Pix: make([]byte, 16)}, "1 channels"},
		{efferent.Image{H: 4, W: 4, C: 3, Pix: make([]byte, 10)}, "needs 48 bytes"},
		{efferent.Image{H: 0, W: 4, C: 3}, "must be positive"},
	} {
		if err := p.Apply(tc.im, &out); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err = %v, want %q", err, tc.want)
		}
	}
	if _, err := New(camera.Spec{Height: 224, Width: 224, Rotate: 45}); err == nil {
		t.Error("rotate 45 accepted")
	}
}

// TestSteadyStateAllocs: after warm-up, a same-sized frame costs a bounded,
// small number of Go allocations (the gocv header wrapping the source).
func TestSteadyStateAllocs(t *testing.T) {
	p := newP(t, camera.Spec{Height: 224, Width: 224})
	src := gradient(480, 640)
	var out efferent.Image
	_ = p.Apply(src, &out)
	a := testing.AllocsPerRun(50, func() { _ = p.Apply(src, &out) })
	if a > 1 {
		t.Fatalf("%v allocations per frame", a)
	}
	t.Logf("%v Go allocations per 640x480 frame", a)
}

func BenchmarkPreprocess640x480(b *testing.B) {
	p := newP(b, camera.Spec{Height: 224, Width: 224})
	src := gradient(480, 640)
	var out efferent.Image
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Apply(src, &out); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPreprocess224Passthrough(b *testing.B) {
	p := newP(b, camera.Spec{Height: 224, Width: 224})
	src := gradient(224, 224)
	var out efferent.Image
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Apply(src, &out); err != nil {
			b.Fatal(err)
		}
	}
}

// TestPadExtremeAspect: a 1×4096 strip (and a 4096×1 column) scales to one
// pixel row (column) in the middle of the padding instead of to nothing.
func TestPadExtremeAspect(t *testing.T) {
	p := newP(t, camera.Spec{Height: 224, Width: 224})
	for _, sz := range [][2]int{{1, 4096}, {4096, 1}} {
		src := efferent.Image{H: sz[0], W: sz[1], C: 3, Pix: bytes.Repeat([]byte{200, 150, 100}, sz[0]*sz[1])}
		var out efferent.Image
		if err := p.Apply(src, &out); err != nil {
			t.Fatalf("%dx%d: %v", sz[0], sz[1], err)
		}
		if out.H != 224 || out.W != 224 {
			t.Fatalf("%dx%d: out %dx%d", sz[0], sz[1], out.H, out.W)
		}
		if got := px(out, 111, 111); got != [3]int{200, 150, 100} {
			t.Errorf("%dx%d: centre %v, want the strip's colour", sz[0], sz[1], got)
		}
		if got := px(out, 0, 0); got != [3]int{0, 0, 0} {
			t.Errorf("%dx%d: corner %v, want padding", sz[0], sz[1], got)
		}
	}
}

// TestSequential: efferent runs OpenCV on the calling thread only (its
// own pool would spin on the cores the model needs).
func TestSequential(t *testing.T) {
	if n := Threads(); n != 1 {
		t.Fatalf("OpenCV uses %d threads per call, want 1 (sequential)", n)
	}
}

// TestWritesIntoDst: the result is written straight into dst.Pix when it
// is large enough (no buffer of the preprocessor's own, no copy), and a
// dst that held something else comes out exactly as a fresh one: the
// padding is cleared, for letterboxed (landscape) and pillarboxed
// (portrait) frames, in RGB and BGR.
func TestWritesIntoDst(t *testing.T) {
	for _, spec := range []camera.Spec{{Height: 224, Width: 224}, {Height: 224, Width: 224, Color: "bgr"}} {
		p := newP(t, spec)
		for _, sz := range [][2]int{{480, 640}, {640, 480}} {
			src := gradient(sz[0], sz[1])
			var fresh efferent.Image
			if err := p.Apply(src, &fresh); err != nil {
				t.Fatal(err)
			}
			dirty := efferent.Image{Pix: bytes.Repeat([]byte{0xAB}, 224*224*3+17)}
			buf := &dirty.Pix[0]
			if err := p.Apply(src, &dirty); err != nil {
				t.Fatal(err)
			}
			if &dirty.Pix[0] != buf {
				t.Fatalf("%v %v: dst.Pix was replaced, not written into", spec.Color, sz)
			}
			if dirty.H != 224 || dirty.W != 224 || dirty.C != 3 || !bytes.Equal(dirty.Pix, fresh.Pix) {
				t.Fatalf("%v %v: into a used buffer %dx%dx%d, differs from a fresh one", spec.Color, sz, dirty.H, dirty.W, dirty.C)
			}
		}
	}
}
