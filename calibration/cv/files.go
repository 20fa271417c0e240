package cv

import (
	"errors"
	"fmt"
	"path/filepath"

	"gocv.io/x/gocv"

	"github.com/efferent/efferent/calibration"
)

// ErrUnreadable is wrapped when an image file cannot be decoded.
var ErrUnreadable = errors.New("calibration: image unreadable")

// DetectFiles reads each image file as grayscale and detects b's corners
// in it, for Calibrate. A file that cannot be decoded, or in which the
// board is not found, is skipped: skip (if not nil) is called with its
// base name and an error wrapping ErrUnreadable or ErrNoBoard. Views are
// named by base name. Every image must have the first one's size (one
// camera, one resolution), which is returned; it is 0×0 when none could be
// read.
func DetectFiles(files []string, b calibration.Board, skip func(name string, err error)) (views []View, width, height int, err error) {
	if skip == nil {
		skip = func(string, error) {}
	}
	for _, file := range files {
		name := filepath.Base(file)
		img := gocv.IMRead(file, gocv.IMReadGrayScale)
		if img.Empty() {
			img.Close()
			skip(name, fmt.Errorf("%w: %s", ErrUnreadable, file))
			continue
		}
		if width == 0 {
			width, height = img.Cols(), img.Rows()
		} else if img.Cols() != width || img.Rows() != height {
			img.Close()
			return nil, 0, 0, fmt.Errorf("%s is %dx%d, the first image %dx%d: one camera, one resolution", file, img.Cols(), img.Rows(), width, height)
		}
		corners, err := DetectCorners(img, b)
		img.Close()
		if err != nil {
			skip(name, err)
			continue
		}
		views = append(views, View{Name: name, Corners: corners})
	}
	return views, width, height, nil
}
