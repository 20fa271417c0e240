//go:build nocv

package main

// The stand-ins for the OpenCV parts (parts_cv.go) in a build with -tags
// nocv, for hosts without OpenCV's shared libraries (a GPU server that
// only serves): each fails with errNoOpenCV, naming what needed OpenCV,
// rather than doing it some other way. What serving needs without OpenCV
// works: raw-array camera frames at the model's size.

import (
	"errors"
	"fmt"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/bench"
	"github.com/efferent/efferent/calibration"
	"github.com/efferent/efferent/camera"
	"github.com/efferent/efferent/policy"
	"github.com/efferent/efferent/safety/premise"
	"github.com/efferent/efferent/sim"
	"github.com/efferent/efferent/sim/legged"
)

// errNoOpenCV is what every OpenCV part of this build returns.
var errNoOpenCV = errors.New("efferent was built without OpenCV (-tags nocv)")

// needOpenCV is errNoOpenCV for feature, what a command that cannot work
// without OpenCV returns before it starts.
func needOpenCV(feature string) error {
	return fmt.Errorf("%w: %s needs it; build without the tag", errNoOpenCV, feature)
}

// decodeImage refuses PNG/JPEG frames: Go's decoders would give other
// pixels than OpenCV's, and so other actions than the normal build.
func decodeImage([]byte, int) (efferent.Image, error) {
	return efferent.Image{}, needOpenCV("decoding PNG/JPEG camera frames (send raw uint8 arrays)")
}

// trimNativeMemory is nil: without OpenCV there are no decode buffers
// to return.
var trimNativeMemory func()

// newResizer refuses: only images already at the model's size are
// served (those never reach a resizer).
func newResizer(spec camera.Spec) (policy.Resizer, error) {
	return nil, needOpenCV(fmt.Sprintf("resizing camera frames to the model's %dx%d (send them at that size)", spec.Height, spec.Width))
}

func openCamera(string) (camera.Source, error) {
	return nil, needOpenCV("camera capture (V4L2 devices, video files, streams, dir:)")
}

func newRenderer() (sim.Renderer, error) {
	return nil, needOpenCV("the simulator's renderer")
}

func newLeggedRenderer() (legged.Renderer, error) {
	return nil, needOpenCV("the legged simulator's renderer")
}

func cvDetector([]sim.PremiseObject) (premise.Detector, error) {
	return nil, needOpenCV("the colour/shape premise detector")
}

func newPreprocessor(camera.Spec) (bench.Preprocessor, error) {
	return nil, needOpenCV("camera preprocessing")
}

func calibrateCamera([]string, calibration.Board, func(string, bool)) (cameraFit, error) {
	return cameraFit{}, needOpenCV("camera calibration")
}
