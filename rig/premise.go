package rig

import (
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/safety/premise"
	"github.com/efferent/efferent/sim"
)

// NewDetector makes the object detector of a premise checker for objects
// known by colour and shape: the OpenCV one (safety/premise/cv), which the
// caller injects because it is cgo; or an open-vocabulary detector
// (safety/premise/onnxdet, efferent's --premise-detector DIR), which may
// ignore objects and name its own (ObjectNamer).
type NewDetector func(objects []sim.PremiseObject) (premise.Detector, error)

// ObjectNamer is a detector that names the objects instructions may name:
// an open-vocabulary detector with a vocabulary of its own (onnxdet's
// vocabulary.yaml). When it names any, the premise checker parses
// instructions against them instead of the simulator's catalogue.
type ObjectNamer interface {
	Objects() []premise.Object
}

// SimPremiseChecker is the false-premise checker for the built-in
// simulator's objects: the task set's vocabulary and detect's detector,
// deciding over frames frame sets (0: premise.DefaultFrames). A detector
// that is an ObjectNamer naming objects brings the vocabulary instead.
func SimPremiseChecker(frames int, detect NewDetector) (*premise.Checker, error) {
	return premiseChecker(frames, detect, sim.PremiseObjects(), sim.PremiseVocabulary, "")
}

// premiseChecker is a false-premise checker for objects, with detect's
// detector and vocabulary's words, unless the detector names objects of
// its own (ObjectNamer); its questions say the objects are where
// (premise.Conf.Where).
func premiseChecker(frames int, detect NewDetector, objects []sim.PremiseObject,
	vocabulary func() (premise.Vocabulary, error), where string) (*premise.Checker, error) {
	if detect == nil {
		return nil, errors.New("rig: the premise check needs a detector (Parts.Detector)")
	}
	det, err := detect(objects)
	if err != nil {
		return nil, err
	}
	var voc premise.Vocabulary
	if n, ok := det.(ObjectNamer); ok && len(n.Objects()) > 0 {
		voc, err = premise.NewVocabulary(n.Objects())
	} else {
		voc, err = vocabulary()
	}
	var c *premise.Checker
	if err == nil {
		c, err = premise.New(premise.Conf{Vocabulary: voc, Detector: det, Frames: frames, Where: where})
	}
	if cl, ok := det.(io.Closer); ok && err != nil {
		cl.Close()
	}
	return c, err
}

// CheckPremise is the false-premise check before a run moves the robot:
// observe until the session decides (the robot holds still meanwhile), log
// the verdict, and report whether the policy may act. observe fills obs
// from the robot; keys are the model's cameras.
func CheckPremise(sess *premise.Session, instruction string, keys []string, observe func(*efferent.Observation) error,
	log *slog.Logger) (premise.Verdict, error) {
	var obs efferent.Observation
	for range premise.MaxFrames {
		if err := observe(&obs); err != nil {
			return premise.Verdict{}, err
		}
		v, err := sess.ObserveCameras(instruction, obs.Images, keys)
		if err != nil {
			return v, fmt.Errorf("premise check: %w", err)
		}
		if v.Decision == premise.Pending {
			continue
		}
		if v.Allows() {
			log.Info("instruction checked: every named object is in view", "instruction", instruction, "frames", v.Frames)
		} else {
			log.Warn("instruction refused: the robot will not move", "instruction", instruction, "premise", v.Decision, "reason", v.Reason())
		}
		return v, nil
	}
	return premise.Verdict{}, errors.New("premise check: no decision")
}

// PremiseFrames is how many consecutive frame sets the checker decides
// over by default.
const PremiseFrames = premise.DefaultFrames
