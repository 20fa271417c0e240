package camera

import (
	"fmt"
	"image"
	"image/png"
	"os"

	"github.com/efferent/efferent"
)

// WritePNG writes im, 3-channel RGB, to path as an opaque PNG.
func WritePNG(path string, im efferent.Image) error {
	if err := im.Validate(); err != nil || im.C != 3 {
		return fmt.Errorf("camera: writing %s: want an RGB image, have %dx%dx%d (%d bytes)", path, im.H, im.W, im.C, len(im.Pix))
	}
	rgba := image.NewRGBA(image.Rect(0, 0, im.W, im.H))
	for i := range im.W * im.H {
		copy(rgba.Pix[4*i:4*i+3], im.Pix[3*i:3*i+3])
		rgba.Pix[4*i+3] = 255
	}
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(out, rgba); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
