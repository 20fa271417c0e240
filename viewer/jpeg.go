package viewer

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"

	"github.com/efferent/efferent"
)

// EncodeJPEG encodes an RGB (C 3), RGBA (C 4) or grey (C 1) frame with Go's
// image/jpeg: the default Conf.EncodeJPEG, which keeps this package free of
// cgo. It runs on the hub goroutine, never on the control loop's.
func EncodeJPEG(im efferent.Image, quality int) ([]byte, error) {
	if err := im.Validate(); err != nil {
		return nil, err
	}
	var img image.Image
	switch im.C {
	case 1:
		img = &image.Gray{Pix: im.Pix, Stride: im.W, Rect: image.Rect(0, 0, im.W, im.H)}
	case 3:
		rgba := image.NewRGBA(image.Rect(0, 0, im.W, im.H))
		for i, j := 0, 0; i < len(im.Pix); i, j = i+3, j+4 {
			rgba.Pix[j], rgba.Pix[j+1], rgba.Pix[j+2], rgba.Pix[j+3] = im.Pix[i], im.Pix[i+1], im.Pix[i+2], 255
		}
		img = rgba
	case 4:
		img = &image.RGBA{Pix: im.Pix, Stride: 4 * im.W, Rect: image.Rect(0, 0, im.W, im.H)}
	default:
		return nil, fmt.Errorf("viewer: %d channels: want 1, 3 or 4", im.C)
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: quality}); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
