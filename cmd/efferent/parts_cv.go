//go:build !nocv

package main

// The OpenCV parts (gocv, through cgo): decoding and resizing camera
// frames, capture, the simulator's renderer, the colour/shape premise
// detector, the preprocessing benchmark and camera calibration. Every
// import of an OpenCV package in cmd/efferent is here, so that a build
// with -tags nocv (parts_nocv.go instead) links no OpenCV library and runs
// on hosts without one.

import (
	"errors"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/bench"
	"github.com/efferent/efferent/calibration"
	calcv "github.com/efferent/efferent/calibration/cv"
	"github.com/efferent/efferent/camera"
	camcv "github.com/efferent/efferent/camera/cv"
	"github.com/efferent/efferent/policy"
	"github.com/efferent/efferent/safety/premise"
	premisecv "github.com/efferent/efferent/safety/premise/cv"
	"github.com/efferent/efferent/sim"
	"github.com/efferent/efferent/sim/legged"
	"github.com/efferent/efferent/sim/render"
)

// needOpenCV is nil: this build has OpenCV.
func needOpenCV(string) error { return nil }

// decodeImage decodes a PNG/JPEG camera frame with OpenCV.
func decodeImage(data []byte, maxSide int) (efferent.Image, error) {
	return camcv.DecodeImage(data, maxSide)
}

// trimNativeMemory returns OpenCV's freed decode buffers to the system
// after a burst of large frames (server.Conf.TrimNative).
var trimNativeMemory = camcv.TrimMemory

// newResizer brings images to a camera's size with its preprocessing
// (the manifest's resize, crop and undistortion).
func newResizer(spec camera.Spec) (policy.Resizer, error) {
	p, err := camcv.New(spec)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return p, nil
}

// openCamera opens a camera that is not a ROS topic: a V4L2 device, a
// video file, a stream or dir:PATH.
func openCamera(uri string) (camera.Source, error) {
	src, err := camcv.OpenCapture(camcv.CaptureConf{URI: uri})
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return src, nil
}

// newRenderer is the simulator's OpenCV renderer.
func newRenderer() (sim.Renderer, error) { return render.New(), nil }

// newLeggedRenderer is the legged simulator's OpenCV renderer.
func newLeggedRenderer() (legged.Renderer, error) { return render.NewLegged(), nil }

// cvDetector is the OpenCV colour/shape detector for objects known by
// colour and shape (rig.NewDetector).
func cvDetector(objs []sim.PremiseObject) (premise.Detector, error) {
	known := make([]premisecv.Known, len(objs))
	for i, o := range objs {
		known[i] = premisecv.Known{Color: o.Color, Category: o.Category, RGB: o.RGB}
	}
	return premisecv.New(premisecv.Conf{Objects: known})
}

// newPreprocessor is bench preprocess's camera preprocessing.
func newPreprocessor(spec camera.Spec) (bench.Preprocessor, error) {
	return bench.Preprocessors(camcv.New)(spec)
}

// calibrateCamera finds the board in each image file and calibrates the
// camera from those it was found in; skipped is told of the others
// (unreadable: not an image at all).
func calibrateCamera(files []string, b calibration.Board, skipped func(name string, unreadable bool)) (cameraFit, error) {
	views, width, height, err := calcv.DetectFiles(files, b, func(name string, err error) {
		skipped(name, errors.Is(err, calcv.ErrUnreadable))
	})
	if err != nil {
		return cameraFit{}, err
	}
	cal, err := calcv.Calibrate(views, b, width, height)
	if err != nil {
		return cameraFit{}, err
	}
	fit := cameraFit{Width: width, Height: height, Intrinsics: cal.Intrinsics, Extrinsics: cal.Extrinsics, ViewRMS: cal.ViewRMS}
	for _, v := range views {
		fit.Views = append(fit.Views, v.Name)
	}
	return fit, nil
}
