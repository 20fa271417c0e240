package main

// The cgo parts a run, a replay and an evaluation are injected with:
// ONNX Runtime, OpenCV (decoding, capture, the premise detector), the
// ONNX premise detector (--premise-detector) and the renderer. This file
// is where cmd/efferent imports packages below rig, to name the types of
// what it injects. The OpenCV parts themselves are in parts_cv.go, or,
// in a build with -tags nocv, their stand-ins in parts_nocv.go.

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/efferent/efferent/eval"
	"github.com/efferent/efferent/policy"
	"github.com/efferent/efferent/rig"
	"github.com/efferent/efferent/safety/premise"
	"github.com/efferent/efferent/safety/premise/onnxdet"
	"github.com/efferent/efferent/server"
	"github.com/efferent/efferent/sim"
)

// parts injects the cgo parts (ONNX Runtime, OpenCV, the renderer, the
// premise detector) and the server into a run.
func (c Config) parts(ctx context.Context) rig.Parts {
	log := c.Log.logger()
	return rig.Parts{
		Open:              c.openModel,
		DecodeImage:       decodeImage,
		OpenCamera:        openCamera,
		NewRenderer:       newRenderer,
		NewLeggedRenderer: newLeggedRenderer,
		Detector:          c.premiseDetector(log),
		WriteComparison:   eval.WriteComparison,
		NewServer: func(conf server.Conf, model string) (*server.Server, error) {
			cc := c
			cc.Server = conf
			if model != "" {
				cc.Model = model
			}
			return startServer(ctx, cc, log)
		},
		Log: log,
	}
}

// openModel is rig.OpenModel with the configured ONNX Runtime.
func (c Config) openModel(ref string) (policy.Policy, *policy.Manifest, error) {
	return openPolicy(ref, c.ORT)
}

// closeRenderer frees what a renderer holds (the OpenCV one, its
// buffers); renderers that hold nothing have no Close.
func closeRenderer(r any) {
	if c, ok := r.(interface{ Close() }); ok {
		c.Close()
	}
}

// premiseDetector is the premise checker's detector (rig.NewDetector):
// without premise_detector the OpenCV one for the simulator's objects;
// with it the ONNX open-vocabulary detector in that directory, with the
// objects of its vocabulary.yaml, else the simulator's catalogue, as the
// vocabulary (rig.ObjectNamer). The directory is opened when the checker
// is built; errors name the flag, the key and the file.
func (c Config) premiseDetector(log *slog.Logger) rig.NewDetector {
	dir, conf := c.PremiseDetector, c.ORT
	if dir == "" {
		return cvDetector
	}
	return func([]sim.PremiseObject) (premise.Detector, error) {
		d, err := onnxdet.Open(dir, conf)
		if err != nil {
			return nil, fmt.Errorf("--premise-detector %s (premise_detector): %w", dir, err)
		}
		vocab := "the simulator's catalogue (no " + onnxdet.VocabularyFile + ")"
		if objs := d.Objects(); len(objs) > 0 {
			vocab = fmt.Sprintf("%s (%d objects)", onnxdet.VocabularyFile, len(objs))
		}
		log.Info("premise check: open-vocabulary detector", "detector", d.Name(), "dir", dir, "vocabulary", vocab)
		return d, nil
	}
}
