package rig

import (
	"github.com/efferent/efferent/safety/premise"
	"github.com/efferent/efferent/sim/legged"
)

// LeggedPremiseChecker is the false-premise checker for the legged-base
// simulator's objects (legged.PremiseObjects: balls, boxes, cones, doors,
// walls, bars): the legged task set's vocabulary and detect's detector,
// deciding over frames frame sets (0: premise.DefaultFrames). It is
// SimPremiseChecker for the other simulator: a detector that is an
// ObjectNamer naming objects brings the vocabulary instead. It looks
// through the base's surround cameras, not the policy's egocentric one
// (a goal to the side or behind is still in view): check with
// CheckPremise(sess, instruction, legged.SurroundKeys, env.ObserveSurround, log).
func LeggedPremiseChecker(frames int, detect NewDetector) (*premise.Checker, error) {
	return premiseChecker(frames, detect, legged.PremiseObjects(), legged.PremiseVocabulary, LeggedWhere)
}

// LeggedWhere is where the legged base's checker says objects are when it
// asks ("which object around the robot do you mean?"): not on a table.
const LeggedWhere = "around the robot"
