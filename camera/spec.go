package camera

import (
	"fmt"

	"github.com/efferent/efferent"
)

// Resize is how an image is brought to the model's size.
type Resize string

const (
	// ResizeWithPad scales to fit inside the target, keeping the aspect
	// ratio, and centres the result on black: openpi's
	// image_tools.resize_with_pad (after tf.image.resize_with_pad). New
	// sizes are truncated, offsets are floor((H−h′)/2), floor((W−w′)/2).
	ResizeWithPad Resize = "resize_with_pad"
	// ResizeStretch scales each axis to the target, ignoring aspect ratio.
	ResizeStretch Resize = "stretch"
	// ResizeNone refuses images of any other size.
	ResizeNone Resize = "none"
)

// Spec describes preprocessing to a model's input. Zero values mean the
// documented defaults.
type Spec struct {
	// Height and Width are the output size (required).
	Height, Width int
	// Resize is the mode. Default ResizeWithPad.
	Resize Resize
	// Interpolation is "linear" (default), "area", "nearest" or "cubic".
	// openpi uses PIL's bilinear filter, which low-pass filters when
	// shrinking; OpenCV's "linear" does not, so shrinking by much more than
	// 2× aliases: "area" is closer to PIL there.
	Interpolation string
	// Rotate turns the image clockwise by 0, 90, 180 or 270 degrees before
	// resizing (LIBERO clients turn their renders by 180).
	Rotate int
	// CenterCrop keeps this fraction of each side, centred, after rotating
	// and before resizing (e.g. 0.9, as some VLAs train with). Default 1:
	// no crop.
	CenterCrop float64
	// Color is the channel order the model was trained on: "rgb"
	// (default; frames are RGB) or "bgr" (the output is swapped).
	Color string
}

// WithDefaults fills zero fields.
func (s Spec) WithDefaults() Spec {
	if s.Resize == "" {
		s.Resize = ResizeWithPad
	}
	if s.Interpolation == "" {
		s.Interpolation = "linear"
	}
	if s.CenterCrop == 0 {
		s.CenterCrop = 1
	}
	if s.Color == "" {
		s.Color = "rgb"
	}
	return s
}

// Validate checks the spec; the error names the field.
func (s Spec) Validate() error {
	if s.Height <= 0 || s.Width <= 0 || s.Height > 8192 || s.Width > 8192 {
		return fmt.Errorf("camera spec: size %dx%d, want 1..8192 each", s.Height, s.Width)
	}
	switch s.Resize {
	case ResizeWithPad, ResizeStretch, ResizeNone:
	default:
		return fmt.Errorf("camera spec: resize %q, want resize_with_pad, stretch or none", s.Resize)
	}
	switch s.Interpolation {
	case "linear", "area", "nearest", "cubic":
	default:
		return fmt.Errorf("camera spec: interpolation %q, want linear, area, nearest or cubic", s.Interpolation)
	}
	switch s.Rotate {
	case 0, 90, 180, 270:
	default:
		return fmt.Errorf("camera spec: rotate %d, want 0, 90, 180 or 270", s.Rotate)
	}
	if !(s.CenterCrop > 0 && s.CenterCrop <= 1) {
		return fmt.Errorf("camera spec: center_crop %g, want a fraction in (0, 1]", s.CenterCrop)
	}
	if s.Color != "rgb" && s.Color != "bgr" {
		return fmt.Errorf("camera spec: color %q, want rgb or bgr", s.Color)
	}
	return nil
}

// PadGeometry returns the size and offset of the scaled content inside the
// target for ResizeWithPad, exactly as openpi computes them, except that a
// side never rounds down to nothing.
func PadGeometry(srcH, srcW, h, w int) (ch, cw, top, left int) {
	ratio := max(float64(srcW)/float64(w), float64(srcH)/float64(h))
	// At least one pixel: an extreme aspect (a 1×4096 strip) would
	// otherwise round to an empty image (openpi's int() does).
	ch, cw = max(1, int(float64(srcH)/ratio)), max(1, int(float64(srcW)/ratio))
	return ch, cw, (h - ch) / 2, (w - cw) / 2
}

// Rotate180InPlace turns an image by 180 degrees (numpy img[::-1, ::-1]).
func Rotate180InPlace(im efferent.Image) {
	n, c := im.H*im.W, im.C
	for i, j := 0, n-1; i < j; i, j = i+1, j-1 {
		for k := 0; k < c; k++ {
			im.Pix[i*c+k], im.Pix[j*c+k] = im.Pix[j*c+k], im.Pix[i*c+k]
		}
	}
}
