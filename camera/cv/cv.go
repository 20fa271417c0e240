// Package cv implements camera.Spec with OpenCV (gocv). It is the only
// package that calls OpenCV for preprocessing.
package cv

import (
	"fmt"
	"image"

	"gocv.io/x/gocv"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/camera"
)

// Preprocessor applies a camera.Spec. It keeps its OpenCV matrices between
// calls: the output is written into a Mat that wraps a Go buffer allocated
// once, through a region header cached per source size, so a steady stream
// of same-sized frames costs one Mat header (wrapping the source) per frame.
// Not safe for concurrent use; Close frees the matrices.
type Preprocessor struct {
	spec    camera.Spec
	interp  gocv.InterpolationFlags
	buf     []byte   // H×W×3 output, wrapped by out
	out     gocv.Mat // wraps buf
	rotated gocv.Mat // reused rotation target
	// region is the part of out that receives the scaled image, for the
	// source size (regionH, regionW).
	region           gocv.Mat
	regionH, regionW int
	closed           bool
}

// New validates spec and allocates the output.
func New(spec camera.Spec) (*Preprocessor, error) {
	spec = spec.WithDefaults()
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	p := &Preprocessor{spec: spec, buf: make([]byte, spec.Height*spec.Width*3), rotated: gocv.NewMat()}
	switch spec.Interpolation {
	case "linear":
		p.interp = gocv.InterpolationLinear
	case "area":
		p.interp = gocv.InterpolationArea
	case "nearest":
		p.interp = gocv.InterpolationNearestNeighbor
	case "cubic":
		p.interp = gocv.InterpolationCubic
	}
	var err error
	if p.out, err = gocv.NewMatFromBytes(spec.Height, spec.Width, gocv.MatTypeCV8UC3, p.buf); err != nil {
		p.rotated.Close()
		return nil, fmt.Errorf("camera/cv: %w", err)
	}
	return p, nil
}

// Apply writes src, preprocessed, into dst (dst.Pix is reused when large
// enough). src must be 3-channel HWC.
func (p *Preprocessor) Apply(src efferent.Image, dst *efferent.Image) error {
	if p.closed {
		return fmt.Errorf("camera/cv: preprocessor is closed")
	}
	if err := src.Validate(); err != nil {
		return fmt.Errorf("camera/cv: %w", err)
	}
	if src.C != 3 {
		return fmt.Errorf("camera/cv: image has %d channels, want 3", src.C)
	}
	s := p.spec
	h, w := src.H, src.W
	if s.Rotate == 90 || s.Rotate == 270 {
		h, w = w, h
	}
	if s.Rotate == 0 && h == s.Height && w == s.Width {
		// Already right: copy (dst must not alias src's frame buffer).
		copyInto(dst, s.Height, s.Width, src.Pix)
		return nil
	}
	if s.Resize == camera.ResizeNone && (h != s.Height || w != s.Width) {
		return fmt.Errorf("camera/cv: image is %dx%d, model needs %dx%d and resizing is off", h, w, s.Height, s.Width)
	}
	in, err := gocv.NewMatFromBytes(src.H, src.W, gocv.MatTypeCV8UC3, src.Pix)
	if err != nil {
		return fmt.Errorf("camera/cv: %w", err)
	}
	defer in.Close()
	img := in
	if s.Rotate != 0 {
		code := map[int]gocv.RotateFlag{90: gocv.Rotate90Clockwise, 180: gocv.Rotate180Clockwise, 270: gocv.Rotate90CounterClockwise}[s.Rotate]
		gocv.Rotate(in, &p.rotated, code)
		img = p.rotated
	}
	if h == s.Height && w == s.Width {
		copyInto(dst, s.Height, s.Width, img.ToBytes())
		return nil
	}
	if p.region.Ptr() == nil || p.regionH != h || p.regionW != w {
		if p.region.Ptr() != nil {
			p.region.Close()
		}
		ch, cw, top, left := s.Height, s.Width, 0, 0
		if s.Resize == camera.ResizeWithPad {
			ch, cw, top, left = camera.PadGeometry(h, w, s.Height, s.Width)
		}
		if ch <= 0 || cw <= 0 {
			return fmt.Errorf("camera/cv: %dx%d image scales to nothing at %dx%d", h, w, s.Height, s.Width)
		}
		clear(p.buf) // the padding stays black from here on
		p.region = p.out.Region(image.Rect(left, top, left+cw, top+ch))
		p.regionH, p.regionW = h, w
	}
	gocv.Resize(img, &p.region, image.Pt(p.region.Cols(), p.region.Rows()), 0, 0, p.interp)
	copyInto(dst, s.Height, s.Width, p.buf)
	return nil
}

func copyInto(dst *efferent.Image, h, w int, pix []byte) {
	n := h * w * 3
	if cap(dst.Pix) < n {
		dst.Pix = make([]byte, n)
	}
	dst.Pix = dst.Pix[:n]
	copy(dst.Pix, pix)
	dst.H, dst.W, dst.C = h, w, 3
}

// Close frees the OpenCV matrices. The Preprocessor is unusable after.
func (p *Preprocessor) Close() {
	if p.closed {
		return
	}
	p.closed = true
	if p.region.Ptr() != nil {
		p.region.Close()
	}
	p.rotated.Close()
	p.out.Close()
}
