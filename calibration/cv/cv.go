// Package cv calibrates cameras with OpenCV (gocv): chessboard corners to
// sub-pixel accuracy (in an image, or in a list of image files), intrinsics and per-view extrinsics by
// cv::calibrateCamera, and a renderer of synthetic chessboard views from
// known intrinsics and poses, with which the tests state how well known
// values are recovered. The geometry itself (poses, hand-eye, camera_info)
// is the pure-Go package calibration.
package cv

import (
	"errors"
	"fmt"
	"image"
	"math"

	"gocv.io/x/gocv"

	"github.com/efferent/efferent/calibration"
)

// ErrNoBoard is wrapped when a view's chessboard cannot be found.
var ErrNoBoard = errors.New("calibration: chessboard not found")

// View is one image's detected corners (pixels, in Board.Corners order).
type View struct {
	Name    string
	Corners [][2]float64
}

// DetectCorners finds the board's inner corners in a grayscale or BGR
// image, refined to sub-pixel accuracy.
func DetectCorners(img gocv.Mat, b calibration.Board) ([][2]float64, error) {
	gray := img
	if img.Channels() != 1 {
		gray = gocv.NewMat()
		defer gray.Close()
		gocv.CvtColor(img, &gray, gocv.ColorBGRToGray)
	}
	corners := gocv.NewMat()
	defer corners.Close()
	size := image.Pt(b.Cols, b.Rows)
	if !gocv.FindChessboardCorners(gray, size, &corners, gocv.CalibCBAdaptiveThresh|gocv.CalibCBNormalizeImage) {
		return nil, fmt.Errorf("%w: no %dx%d inner-corner pattern", ErrNoBoard, b.Cols, b.Rows)
	}
	crit := gocv.NewTermCriteria(gocv.Count|gocv.EPS, 50, 1e-4)
	gocv.CornerSubPix(gray, &corners, image.Pt(5, 5), image.Pt(-1, -1), crit)
	pts := gocv.NewPoint2fVectorFromMat(corners)
	defer pts.Close()
	out := make([][2]float64, 0, pts.Size())
	for _, p := range pts.ToPoints() {
		out = append(out, [2]float64{float64(p.X), float64(p.Y)})
	}
	if len(out) != b.Cols*b.Rows {
		return nil, fmt.Errorf("%w: %d corners, want %d", ErrNoBoard, len(out), b.Cols*b.Rows)
	}
	return out, nil
}

// Calibration is the result of Calibrate.
type Calibration struct {
	Intrinsics calibration.Intrinsics
	// Extrinsics[i] is the board's pose in the camera frame for views[i]
	// (camera ← board), the input of a hand-eye calibration.
	Extrinsics []calibration.Pose
	// ViewRMS is each view's reprojection error (pixels).
	ViewRMS []float64
}

// Calibrate estimates intrinsics (fx, fy, cx, cy, k1, k2, p1, p2, k3) and
// each view's board pose from at least three views of the board.
func Calibrate(views []View, b calibration.Board, width, height int) (Calibration, error) {
	if err := b.Validate(); err != nil {
		return Calibration{}, err
	}
	if len(views) < 3 {
		return Calibration{}, fmt.Errorf("calibration: %d views with the board found, want at least 3 (better 15+ at varied angles)", len(views))
	}
	obj := b.Corners()
	objPts := gocv.NewPoints3fVector()
	defer objPts.Close()
	imgPts := gocv.NewPoints2fVector()
	defer imgPts.Close()
	for _, v := range views {
		if len(v.Corners) != len(obj) {
			return Calibration{}, fmt.Errorf("calibration: view %s has %d corners, the board %d", v.Name, len(v.Corners), len(obj))
		}
		o := make([]gocv.Point3f, len(obj))
		p := make([]gocv.Point2f, len(obj))
		for i := range obj {
			o[i] = gocv.Point3f{X: float32(obj[i][0]), Y: float32(obj[i][1]), Z: 0}
			p[i] = gocv.Point2f{X: float32(v.Corners[i][0]), Y: float32(v.Corners[i][1])}
		}
		ov, pv := gocv.NewPoint3fVectorFromPoints(o), gocv.NewPoint2fVectorFromPoints(p)
		objPts.Append(ov)
		imgPts.Append(pv)
		ov.Close()
		pv.Close()
	}
	K, D := gocv.NewMat(), gocv.NewMat()
	defer K.Close()
	defer D.Close()
	rvecs, tvecs := gocv.NewMat(), gocv.NewMat()
	defer rvecs.Close()
	defer tvecs.Close()
	rms := gocv.CalibrateCamera(objPts, imgPts, image.Pt(width, height), &K, &D, &rvecs, &tvecs, 0)
	if K.Rows() != 3 || K.Cols() != 3 || D.Total() < 5 {
		return Calibration{}, fmt.Errorf("calibration: OpenCV returned K %dx%d and %d distortion values", K.Rows(), K.Cols(), D.Total())
	}
	in := calibration.Intrinsics{Width: width, Height: height, Fx: K.GetDoubleAt(0, 0), Fy: K.GetDoubleAt(1, 1),
		Cx: K.GetDoubleAt(0, 2), Cy: K.GetDoubleAt(1, 2), RMS: rms}
	for i := range 5 {
		in.D[i] = D.GetDoubleAt(0, i)
		if D.Rows() > 1 {
			in.D[i] = D.GetDoubleAt(i, 0)
		}
	}
	out := Calibration{Intrinsics: in}
	for i := range views {
		rv, tv := vec3(rvecs, i), vec3(tvecs, i)
		pose := calibration.PoseFromVectors(rv, tv)
		out.Extrinsics = append(out.Extrinsics, pose)
		var se float64
		for k, p := range obj {
			u, v := in.Project(pose.Apply(p))
			du, dv := u-views[i].Corners[k][0], v-views[i].Corners[k][1]
			se += du*du + dv*dv
		}
		out.ViewRMS = append(out.ViewRMS, math.Sqrt(se/float64(len(obj))))
	}
	return out, nil
}

// vec3 reads the i-th 3-vector of OpenCV's rvecs/tvecs output (N×1
// 3-channel doubles, or one 3×1 Mat per view flattened).
func vec3(m gocv.Mat, i int) [3]float64 {
	v := m.GetVecdAt(i, 0)
	if len(v) >= 3 {
		return [3]float64{v[0], v[1], v[2]}
	}
	return [3]float64{m.GetDoubleAt(3*i, 0), m.GetDoubleAt(3*i+1, 0), m.GetDoubleAt(3*i+2, 0)}
}
