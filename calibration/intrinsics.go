package calibration

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"

	"gopkg.in/yaml.v3"
)

// Board is a chessboard target.
type Board struct {
	// Cols and Rows count the inner corners (a "9x6" board has 9×6).
	Cols, Rows int
	// Square is the side of one square in metres.
	Square float64
}

// Validate checks the board.
func (b Board) Validate() error {
	if b.Cols < 3 || b.Rows < 3 || b.Cols > 100 || b.Rows > 100 {
		return fmt.Errorf("calibration: board %dx%d inner corners, want 3..100 each", b.Cols, b.Rows)
	}
	if !(b.Square > 0 && b.Square < 1) {
		return fmt.Errorf("calibration: square %g m, want a positive size under 1 m", b.Square)
	}
	return nil
}

// Corners are the board's inner corners in its own frame (z = 0), row by
// row, as OpenCV's detector orders them.
func (b Board) Corners() [][3]float64 {
	pts := make([][3]float64, 0, b.Cols*b.Rows)
	for r := range b.Rows {
		for c := range b.Cols {
			pts = append(pts, [3]float64{float64(c) * b.Square, float64(r) * b.Square, 0})
		}
	}
	return pts
}

// Intrinsics is a pinhole camera with plumb-bob (radial-tangential)
// distortion, as ROS's camera_info describes it.
type Intrinsics struct {
	Width, Height int
	// Fx, Fy are the focal lengths and Cx, Cy the principal point, pixels.
	Fx, Fy, Cx, Cy float64
	// D is k1, k2, p1, p2, k3.
	D [5]float64
	// RMS is the calibration's reprojection error in pixels (0 if not
	// from a calibration).
	RMS float64
}

// Project maps a point in the camera frame to distorted pixel coordinates.
func (in Intrinsics) Project(p [3]float64) (u, v float64) {
	x, y := p[0]/p[2], p[1]/p[2]
	xd, yd := in.distort(x, y)
	return in.Fx*xd + in.Cx, in.Fy*yd + in.Cy
}

// DistortNormalized applies the distortion to normalised coordinates.
func (in Intrinsics) DistortNormalized(x, y float64) (float64, float64) { return in.distort(x, y) }

func (in Intrinsics) distort(x, y float64) (float64, float64) {
	k1, k2, p1, p2, k3 := in.D[0], in.D[1], in.D[2], in.D[3], in.D[4]
	r2 := x*x + y*y
	rad := 1 + k1*r2 + k2*r2*r2 + k3*r2*r2*r2
	return x*rad + 2*p1*x*y + p2*(r2+2*x*x), y*rad + p1*(r2+2*y*y) + 2*p2*x*y
}

// Undistort inverts the distortion of normalised coordinates (xd, yd) by
// fixed-point iteration (as OpenCV's undistortPoints does).
func (in Intrinsics) Undistort(xd, yd float64) (float64, float64) {
	x, y := xd, yd
	for range 20 {
		dx, dy := in.distort(x, y)
		x, y = x+(xd-dx), y+(yd-dy)
	}
	return x, y
}

// cameraInfo is ROS's camera_info YAML (camera_calibration_parsers).
type cameraInfo struct {
	ImageWidth           int       `yaml:"image_width"`
	ImageHeight          int       `yaml:"image_height"`
	CameraName           string    `yaml:"camera_name"`
	CameraMatrix         rosMatrix `yaml:"camera_matrix"`
	DistortionModel      string    `yaml:"distortion_model"`
	DistortionCoeffs     rosMatrix `yaml:"distortion_coefficients"`
	RectificationMatrix  rosMatrix `yaml:"rectification_matrix"`
	ProjectionMatrix     rosMatrix `yaml:"projection_matrix"`
	ReprojectionErrorRMS float64   `yaml:"reprojection_error_rms,omitempty"`
}

type rosMatrix struct {
	Rows int       `yaml:"rows"`
	Cols int       `yaml:"cols"`
	Data []float64 `yaml:"data,flow"`
}

// CameraInfoYAML writes in as ROS camera_info YAML (readable by
// camera_info_manager), with the calibration's RMS as an extra key.
func (in Intrinsics) CameraInfoYAML(name string) ([]byte, error) {
	ci := cameraInfo{
		ImageWidth: in.Width, ImageHeight: in.Height, CameraName: name,
		CameraMatrix:         rosMatrix{3, 3, []float64{in.Fx, 0, in.Cx, 0, in.Fy, in.Cy, 0, 0, 1}},
		DistortionModel:      "plumb_bob",
		DistortionCoeffs:     rosMatrix{1, 5, in.D[:]},
		RectificationMatrix:  rosMatrix{3, 3, []float64{1, 0, 0, 0, 1, 0, 0, 0, 1}},
		ProjectionMatrix:     rosMatrix{3, 4, []float64{in.Fx, 0, in.Cx, 0, 0, in.Fy, in.Cy, 0, 0, 0, 1, 0}},
		ReprojectionErrorRMS: in.RMS,
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(ci); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// ErrCameraInfo is wrapped when a camera_info file cannot be used.
var ErrCameraInfo = errors.New("calibration: bad camera_info")

// ReadCameraInfo reads a ROS camera_info YAML file (plumb_bob model).
func ReadCameraInfo(path string) (Intrinsics, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Intrinsics{}, err
	}
	if len(data) > 1<<20 {
		return Intrinsics{}, fmt.Errorf("%w: %s is %d bytes", ErrCameraInfo, path, len(data))
	}
	var ci cameraInfo
	if err := yaml.Unmarshal(data, &ci); err != nil {
		return Intrinsics{}, fmt.Errorf("%w: %s: %v", ErrCameraInfo, path, err)
	}
	k, d := ci.CameraMatrix.Data, ci.DistortionCoeffs.Data
	switch {
	case ci.ImageWidth < 1 || ci.ImageHeight < 1:
		return Intrinsics{}, fmt.Errorf("%w: %s: image size %dx%d", ErrCameraInfo, path, ci.ImageWidth, ci.ImageHeight)
	case len(k) != 9 || k[0] <= 0 || k[4] <= 0:
		return Intrinsics{}, fmt.Errorf("%w: %s: camera_matrix needs 9 values with positive focal lengths", ErrCameraInfo, path)
	case ci.DistortionModel != "plumb_bob" && ci.DistortionModel != "":
		return Intrinsics{}, fmt.Errorf("%w: %s: distortion_model %q, want plumb_bob", ErrCameraInfo, path, ci.DistortionModel)
	case len(d) > 5:
		return Intrinsics{}, fmt.Errorf("%w: %s: %d distortion coefficients, want at most 5", ErrCameraInfo, path, len(d))
	}
	in := Intrinsics{Width: ci.ImageWidth, Height: ci.ImageHeight, Fx: k[0], Fy: k[4], Cx: k[2], Cy: k[5], RMS: ci.ReprojectionErrorRMS}
	copy(in.D[:], d)
	for _, x := range append(k, d...) {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return Intrinsics{}, fmt.Errorf("%w: %s: non-finite value", ErrCameraInfo, path)
		}
	}
	return in, nil
}
