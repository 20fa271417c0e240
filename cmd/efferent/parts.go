package main

// The cgo parts a run, a replay and an evaluation are injected with:
// ONNX Runtime, OpenCV (decoding, capture, the premise detector) and the
// renderer. This file is where cmd/efferent imports packages below rig, to
// name the types of what it injects.

import (
	"context"

	"github.com/efferent/efferent/camera"
	camcv "github.com/efferent/efferent/camera/cv"
	"github.com/efferent/efferent/eval"
	"github.com/efferent/efferent/policy"
	"github.com/efferent/efferent/rig"
	"github.com/efferent/efferent/safety/premise"
	premisecv "github.com/efferent/efferent/safety/premise/cv"
	"github.com/efferent/efferent/server"
	"github.com/efferent/efferent/sim"
	"github.com/efferent/efferent/sim/render"
)

// parts injects the cgo parts (ONNX Runtime, OpenCV, the renderer, the
// premise detector) and the server into a run.
func (c Config) parts(ctx context.Context) rig.Parts {
	log := c.Log.logger()
	return rig.Parts{
		Open:            c.openModel,
		DecodeImage:     camcv.DecodeImage,
		OpenCamera:      func(uri string) (camera.Source, error) { return camcv.OpenCapture(camcv.CaptureConf{URI: uri}) },
		NewRenderer:     newRenderer,
		Detector:        premiseDetector,
		WriteComparison: eval.WriteComparison,
		NewServer: func(conf server.Conf) (*server.Server, error) {
			cc := c
			cc.Server = conf
			return startServer(ctx, cc, log)
		},
		Log: log,
	}
}

// openModel is rig.OpenModel with the configured ONNX Runtime.
func (c Config) openModel(ref string) (policy.Policy, *policy.Manifest, error) {
	return openPolicy(ref, c.ORT)
}

// newRenderer is the simulator's OpenCV renderer.
func newRenderer() (sim.Renderer, error) { return render.New(), nil }

// premiseDetector is the OpenCV colour/shape detector for objects known
// by colour and shape (rig.NewDetector).
func premiseDetector(objs []sim.PremiseObject) (premise.Detector, error) {
	known := make([]premisecv.Known, len(objs))
	for i, o := range objs {
		known[i] = premisecv.Known{Color: o.Color, Category: o.Category, RGB: o.RGB}
	}
	return premisecv.New(premisecv.Conf{Objects: known})
}
