package premise

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Parse and Session.Observe return the first three
// (possibly wrapped); Verdict.Err wraps the last two, so a caller can tell
// a refusal from a question with errors.Is.
var (
	// ErrEmptyInstruction: the instruction has no words.
	ErrEmptyInstruction = errors.New("premise: empty instruction")
	// ErrInstructionTooLong: the instruction is over MaxInstructionBytes.
	ErrInstructionTooLong = fmt.Errorf("premise: instruction longer than %d bytes", MaxInstructionBytes)
	// ErrNoFrames: Observe was given no camera frames.
	ErrNoFrames = errors.New("premise: no camera frames")
	// ErrRefused: the instruction names an object that is not there.
	ErrRefused = errors.New("false premise")
	// ErrClarify: the checker cannot tell; it asks a question.
	ErrClarify = errors.New("instruction needs clarification")
)

// Decision is a verdict's outcome.
type Decision string

// Decisions.
const (
	// Pending: fewer than Conf.Frames frames seen; no motion yet.
	Pending Decision = "pending"
	// OK: every named object was seen; the policy may act.
	OK Decision = "ok"
	// Refuse: a named object is missing (Verdict.Missing); no motion.
	Refuse Decision = "refuse"
	// Clarify: an object could not be grounded or its evidence is in the
	// uncertain band; Verdict.Question asks about it; no motion.
	Clarify Decision = "clarify"
)

// Decisions lists every decision, for metrics that pre-create their series.
func Decisions() []Decision { return []Decision{Pending, OK, Refuse, Clarify} }

// Phrase states in a PhraseScore.
const (
	StatePresent   = "present"   // mean score ≥ Conf.Present
	StateMissing   = "missing"   // mean score ≤ Conf.Absent
	StateUncertain = "uncertain" // in between
	StateUnknown   = "unknown"   // no detector can ground it
	StatePending   = "pending"   // frames still coming
)

// PhraseScore is the evidence for one phrase.
type PhraseScore struct {
	Phrase string `json:"phrase"`
	// Score is the mean over Frames frames of the best detection score
	// in each frame (0 for a frame where it was not seen).
	Score float64 `json:"score"`
	// Seen counts the frames whose best score reached Conf.Present.
	Seen   int    `json:"seen"`
	Frames int    `json:"frames"`
	State  string `json:"state"`
}

// Verdict is the checker's answer for one instruction.
type Verdict struct {
	Decision    Decision `json:"decision"`
	Instruction string   `json:"instruction"`
	// Missing names the phrases judged absent (Refuse only).
	Missing []string `json:"missing,omitempty"`
	// Question is what to ask the user (Clarify only).
	Question string `json:"question,omitempty"`
	// Frames is how many frame sets the decision rests on.
	Frames  int           `json:"frames"`
	Phrases []PhraseScore `json:"phrases,omitempty"`
}

// Allows reports whether the policy may act on the instruction.
func (v Verdict) Allows() bool { return v.Decision == OK }

// Err returns nil for OK and Pending, and otherwise an error wrapping
// ErrRefused or ErrClarify whose text says what is missing or asks the
// question.
func (v Verdict) Err() error {
	switch v.Decision {
	case Refuse:
		return fmt.Errorf("%w: %s", ErrRefused, v.Reason())
	case Clarify:
		return fmt.Errorf("%w: %s", ErrClarify, v.Reason())
	}
	return nil
}

// Reason is one human-readable line: what is missing, or the question.
func (v Verdict) Reason() string {
	switch v.Decision {
	case Refuse:
		return fmt.Sprintf("not in view: %s (over %d frames)", strings.Join(v.Missing, ", "), v.Frames)
	case Clarify:
		return v.Question
	case Pending:
		return fmt.Sprintf("checking (%d frames so far)", v.Frames)
	}
	return "every named object is in view"
}

func (v Verdict) String() string { return string(v.Decision) + ": " + v.Reason() }
