package server

import (
	"log/slog"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/api"
	"github.com/efferent/efferent/safety/premise"
)

// premiseGate is one client's false-premise check: a session of the
// server's checker, decided on each new instruction's first request and
// kept once ok, re-checked on every request while refused (a
// client waits for each reply, so it cannot supply the later frames a
// multi-frame decision would need: efferent serve builds the checker with
// Frames 1).
type premiseGate struct {
	sess *premise.Session
}

func newPremiseGate(c *premise.Checker) *premiseGate {
	if c == nil {
		return nil
	}
	return &premiseGate{sess: c.NewSession()}
}

// checkPremise returns the verdict on obs's instruction and frames, as
// sent to clients, and, when the policy may not act, the error to send
// instead of actions. A new decision is counted and logged.
func (s *Server) checkPremise(g *premiseGate, obs *efferent.Observation, log *slog.Logger) (api.Premise, string, error) {
	before := g.sess.Verdict()
	v, err := g.sess.ObserveCameras(obs.Prompt, obs.Images, s.meta.ImageKeys)
	if err != nil {
		return api.Premise{}, "", err
	}
	out := api.Premise{Decision: string(v.Decision), Missing: v.Missing, Question: v.Question, Frames: v.Frames}
	if v.Decision != before.Decision || v.Instruction != before.Instruction || v.Frames != before.Frames {
		s.metrics.premise.WithLabelValues(string(v.Decision)).Inc()
		if v.Allows() {
			log.Info("instruction checked", "instruction", v.Instruction, "premise", v.Decision)
		} else if v.Decision != premise.Pending {
			log.Warn("instruction refused: no motion", "instruction", v.Instruction, "premise", v.Decision, "reason", v.Reason())
		}
	}
	switch {
	case v.Allows():
		// An accepted instruction stays accepted: once the robot moves,
		// its own gripper may hide the object.
		return out, "", nil
	case v.Decision == premise.Pending:
		return out, "checking the instruction: " + v.Reason(), nil
	}
	// A refusal is not final: the next request is checked afresh (someone
	// may have put the object there).
	g.sess.Reset()
	return out, v.Err().Error(), nil
}
