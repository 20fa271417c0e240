package cv

import (
	"fmt"

	"gocv.io/x/gocv"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/api"
)

// DecodeImage decodes a PNG or JPEG camera frame into RGB HWC uint8 with
// OpenCV (libjpeg-turbo and libpng through imdecode), for api.ObsSpec's
// DecodeImage hook. The header is read first and an image with a side
// outside 1..maxSide is refused before OpenCV allocates anything: a small
// file must not expand into a huge image, and OpenCV's own limit (2^30
// pixels) is far above what a camera sends.
func DecodeImage(data []byte, maxSide int) (efferent.Image, error) {
	if err := api.CheckCompressedImage(data, maxSide); err != nil {
		return efferent.Image{}, err
	}
	bgr, err := gocv.IMDecode(data, gocv.IMReadColor)
	if err != nil {
		return efferent.Image{}, fmt.Errorf("%w: %v", api.ErrMalformed, err)
	}
	defer bgr.Close()
	if bgr.Empty() {
		return efferent.Image{}, fmt.Errorf("%w: OpenCV could not decode the image", api.ErrMalformed)
	}
	h, w := bgr.Rows(), bgr.Cols()
	if h < 1 || w < 1 || h > maxSide || w > maxSide || bgr.Channels() != 3 {
		return efferent.Image{}, fmt.Errorf("%w: decoded to %dx%dx%d", api.ErrBadShape, h, w, bgr.Channels())
	}
	// Convert straight into the Go buffer the Image keeps.
	pix := make([]byte, h*w*3)
	rgb, err := gocv.NewMatFromBytes(h, w, gocv.MatTypeCV8UC3, pix)
	if err != nil {
		return efferent.Image{}, fmt.Errorf("camera/cv: %w", err)
	}
	defer rgb.Close()
	gocv.CvtColor(bgr, &rgb, gocv.ColorBGRToRGB)
	if p, err := rgb.DataPtrUint8(); err != nil || len(p) == 0 || &p[0] != &pix[0] {
		// OpenCV reallocated the destination instead of writing into pix.
		return efferent.Image{}, fmt.Errorf("camera/cv: colour conversion did not write the output buffer")
	}
	return efferent.Image{H: h, W: w, C: 3, Pix: pix}, nil
}
