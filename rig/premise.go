package rig

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/safety/premise"
	"github.com/efferent/efferent/sim"
)

// NewDetector makes the object detector of a premise checker for objects
// known by colour and shape: the OpenCV one (safety/premise/cv), which the
// caller injects because it is cgo.
type NewDetector func(objects []sim.PremiseObject) (premise.Detector, error)

// SimPremiseChecker is the false-premise checker for the built-in
// simulator's objects: the task set's vocabulary and detect's detector,
// deciding over frames frame sets (0: premise.DefaultFrames).
func SimPremiseChecker(frames int, detect NewDetector) (*premise.Checker, error) {
	if detect == nil {
		return nil, errors.New("rig: the premise check needs a detector (Parts.Detector)")
	}
	voc, err := sim.PremiseVocabulary()
	if err != nil {
		return nil, err
	}
	det, err := detect(sim.PremiseObjects())
	if err != nil {
		return nil, err
	}
	return premise.New(premise.Conf{Vocabulary: voc, Detector: det, Frames: frames})
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
