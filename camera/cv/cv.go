// Package cv implements the camera package with OpenCV (gocv): the
// preprocessor of a camera.Spec (with undistortion folded into one remap),
// camera sources (V4L2 devices, video files, RTSP/HTTP streams, image
// directories), and the PNG/JPEG decoder the server uses for compressed
// camera frames. Importing it makes OpenCV run every call on its calling
// thread (SetThreads).
package cv

import (
	"fmt"
	"image"
	"image/color"
	"math"

	"gocv.io/x/gocv"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/calibration"
	"github.com/efferent/efferent/camera"
)

// Preprocessor applies a camera.Spec: undistort (when SetUndistort was
// called), rotate, centre-crop, resize (with padding), channel order. The
// result is written straight into the caller's buffer (dst.Pix, through a
// Mat header that wraps it for the call), so a resized frame is written
// once and never copied; a steady stream of same-sized frames allocates
// nothing in Go and creates a few Mat headers per frame (wrapping the
// source and the destination), closed before Apply returns. Not safe for
// concurrent use; Close frees the matrices.
type Preprocessor struct {
	spec    camera.Spec
	interp  gocv.InterpolationFlags
	rotated gocv.Mat // reused rotation target
	// The folded pipeline's maps (output pixel → raw frame) for frames of
	// (undistW, undistH); empty when undistortion is off.
	mapX, mapY       gocv.Mat
	undistW, undistH int
	closed           bool
}

// New validates spec and allocates the output.
func New(spec camera.Spec) (*Preprocessor, error) {
	spec = spec.WithDefaults()
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	p := &Preprocessor{spec: spec, rotated: gocv.NewMat(), mapX: gocv.NewMat(), mapY: gocv.NewMat()}
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
	return p, nil
}

// SetUndistort makes Apply undistort every frame (which must then have
// in's size). The whole pipeline — undistort, rotate, crop, resize with
// padding — is folded into one map from each output pixel to its place in
// the raw frame, computed here once, so a frame costs a single remap at the
// output's resolution (a 224x224 remap, not a 640x480 undistortion and a
// resize). Interpolation "area" has no remap equivalent and is refused.
func (p *Preprocessor) SetUndistort(in calibration.Intrinsics) error {
	if in.Width < 1 || in.Height < 1 || in.Fx <= 0 || in.Fy <= 0 {
		return fmt.Errorf("camera/cv: undistort: intrinsics %dx%d fx %g fy %g", in.Width, in.Height, in.Fx, in.Fy)
	}
	if p.interp == gocv.InterpolationArea {
		return fmt.Errorf("camera/cv: undistort: interpolation \"area\" cannot be folded into a remap; use linear or cubic")
	}
	s := p.spec
	W0, H0 := in.Width, in.Height
	h, w := H0, W0
	if s.Rotate == 90 || s.Rotate == 270 {
		h, w = w, h
	}
	ch, cw := h, w
	if s.CenterCrop < 1 {
		ch, cw = max(1, int(math.Round(float64(h)*s.CenterCrop))), max(1, int(math.Round(float64(w)*s.CenterCrop)))
	}
	y0, x0 := (h-ch)/2, (w-cw)/2
	oh, ow, top, left := s.Height, s.Width, 0, 0
	if s.Resize == camera.ResizeWithPad {
		oh, ow, top, left = camera.PadGeometry(ch, cw, s.Height, s.Width)
	}
	if oh <= 0 || ow <= 0 {
		return fmt.Errorf("camera/cv: undistort: %dx%d frames scale to nothing at %dx%d", W0, H0, s.Width, s.Height)
	}
	p.mapX.Close()
	p.mapY.Close()
	p.mapX, p.mapY = gocv.NewMatWithSize(s.Height, s.Width, gocv.MatTypeCV32F), gocv.NewMatWithSize(s.Height, s.Width, gocv.MatTypeCV32F)
	sx, sy := float64(cw)/float64(ow), float64(ch)/float64(oh)
	for i := range s.Height {
		for j := range s.Width {
			u, v := float32(-1), float32(-1) // padding: outside the frame, black
			if i >= top && i < top+oh && j >= left && j < left+ow {
				// Output pixel → cropped, rotated, undistorted image (OpenCV's
				// resize convention: pixel centres at integers).
				xr := (float64(j-left)+0.5)*sx - 0.5 + float64(x0)
				yr := (float64(i-top)+0.5)*sy - 0.5 + float64(y0)
				var xu, yu float64 // → undistorted frame, before rotation
				switch s.Rotate {
				case 0:
					xu, yu = xr, yr
				case 90:
					xu, yu = yr, float64(H0-1)-xr
				case 180:
					xu, yu = float64(W0-1)-xr, float64(H0-1)-yr
				case 270:
					xu, yu = float64(W0-1)-yr, xr
				}
				// → the raw (distorted) frame, through the camera's model.
				xd, yd := in.DistortNormalized((xu-in.Cx)/in.Fx, (yu-in.Cy)/in.Fy)
				u, v = float32(in.Fx*xd+in.Cx), float32(in.Fy*yd+in.Cy)
			}
			p.mapX.SetFloatAt(i, j, u)
			p.mapY.SetFloatAt(i, j, v)
		}
	}
	p.undistW, p.undistH = W0, H0
	return nil
}

// Apply writes src, preprocessed, into dst: straight into dst.Pix when it
// is large enough (it is allocated otherwise), which must not alias
// src.Pix. src must be 3-channel HWC RGB.
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
	if p.undistW != 0 && (src.W != p.undistW || src.H != p.undistH) {
		return fmt.Errorf("camera/cv: frame is %dx%d, the camera_info for undistortion is %dx%d", src.W, src.H, p.undistW, p.undistH)
	}
	h, w := src.H, src.W
	if s.Rotate == 90 || s.Rotate == 270 {
		h, w = w, h
	}
	plain := p.undistW == 0 && s.Rotate == 0 && s.CenterCrop == 1 && s.Color == "rgb"
	if plain && h == s.Height && w == s.Width {
		// Already right: copy (dst must not alias src's frame buffer).
		dst.CopyFrom(efferent.Image{H: h, W: w, C: 3, Pix: src.Pix[:h*w*3]})
		return nil
	}
	if s.Resize == camera.ResizeNone && (h != s.Height || w != s.Width) {
		return fmt.Errorf("camera/cv: image is %dx%d, model needs %dx%d and resizing is off", h, w, s.Height, s.Width)
	}
	in, err := gocv.NewMatFromBytes(src.H, src.W, gocv.MatTypeCV8UC3, src.Pix[:src.H*src.W*3])
	if err != nil {
		return fmt.Errorf("camera/cv: %w", err)
	}
	defer in.Close()
	n := s.Height * s.Width * 3
	if cap(dst.Pix) < n {
		dst.Pix = make([]byte, n)
	}
	dst.H, dst.W, dst.C, dst.Pix = s.Height, s.Width, 3, dst.Pix[:n]
	// out wraps dst.Pix: OpenCV writes the result there, once (a
	// destination Mat of the right size and type is never reallocated).
	out, err := gocv.NewMatFromBytes(s.Height, s.Width, gocv.MatTypeCV8UC3, dst.Pix)
	if err != nil {
		return fmt.Errorf("camera/cv: %w", err)
	}
	defer out.Close()
	if p.undistW != 0 {
		// The whole pipeline in one remap, straight into the output.
		gocv.Remap(in, &out, &p.mapX, &p.mapY, p.interp, gocv.BorderConstant, color.RGBA{})
		p.finish(dst)
		return nil
	}
	img := in
	if s.Rotate != 0 {
		code := map[int]gocv.RotateFlag{90: gocv.Rotate90Clockwise, 180: gocv.Rotate180Clockwise, 270: gocv.Rotate90CounterClockwise}[s.Rotate]
		gocv.Rotate(img, &p.rotated, code)
		img = p.rotated
	}
	if s.CenterCrop < 1 {
		ch, cw := max(1, int(math.Round(float64(h)*s.CenterCrop))), max(1, int(math.Round(float64(w)*s.CenterCrop)))
		roi := img.Region(image.Rect((w-cw)/2, (h-ch)/2, (w-cw)/2+cw, (h-ch)/2+ch))
		defer roi.Close()
		img, h, w = roi, ch, cw
	}
	ch, cw, top, left := s.Height, s.Width, 0, 0
	if s.Resize == camera.ResizeWithPad {
		ch, cw, top, left = camera.PadGeometry(h, w, s.Height, s.Width)
	}
	if ch <= 0 || cw <= 0 {
		return fmt.Errorf("camera/cv: %dx%d image scales to nothing at %dx%d", h, w, s.Height, s.Width)
	}
	clearOutside(dst, top, left, ch, cw) // the padding is black
	region := out.Region(image.Rect(left, top, left+cw, top+ch))
	defer region.Close()
	gocv.Resize(img, &region, image.Pt(cw, ch), 0, 0, p.interp)
	p.finish(dst)
	return nil
}

// clearOutside zeroes the pixels of dst outside the ch×cw rectangle at
// (top, left): the padding, which dst's previous contents must not show
// through.
func clearOutside(dst *efferent.Image, top, left, ch, cw int) {
	row := dst.W * 3
	clear(dst.Pix[:top*row])
	clear(dst.Pix[(top+ch)*row:])
	if left == 0 && cw == dst.W {
		return
	}
	for y := top; y < top+ch; y++ {
		r := dst.Pix[y*row : (y+1)*row]
		clear(r[:left*3])
		clear(r[(left+cw)*3:])
	}
}

// finish puts dst, written in RGB, into the model's channel order.
func (p *Preprocessor) finish(dst *efferent.Image) {
	if p.spec.Color == "bgr" {
		px := dst.Pix
		for i := 0; i+2 < len(px); i += 3 {
			px[i], px[i+2] = px[i+2], px[i]
		}
	}
}

// Close frees the OpenCV matrices. The Preprocessor is unusable after.
func (p *Preprocessor) Close() {
	if p.closed {
		return
	}
	p.closed = true
	p.rotated.Close()
	p.mapX.Close()
	p.mapY.Close()
}
