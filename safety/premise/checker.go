package premise

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/efferent/efferent"
)

// Conf configures a Checker. Zero values mean the documented defaults.
type Conf struct {
	// Vocabulary is what instructions are parsed against (required:
	// NewVocabulary from the task set's objects).
	Vocabulary Vocabulary
	// Detector grounds phrases (required).
	Detector Detector
	// Frames is how many consecutive frame sets a decision averages over.
	// Default 3: one frame can hide an object (the arm passes in front of
	// it) or show a spurious blob; three at 20 Hz cost 150 ms.
	Frames int
	// Present is the mean score at or above which a phrase counts as in
	// view. Default 0.5.
	Present float64
	// Absent is the mean score at or below which a phrase counts as
	// missing. Default 0.2. Scores strictly between Absent and Present are
	// the uncertain band: the checker asks rather than guesses.
	Absent float64
	// Where says where the objects are, in the checker's questions
	// ("which object on the table do you mean?"). Default "on the table";
	// a mobile base's is "around the robot".
	Where string
}

// Defaults for zero Conf fields.
const (
	DefaultFrames  = 3
	DefaultPresent = 0.5
	DefaultAbsent  = 0.2
	DefaultWhere   = "on the table"
	// MaxFrames bounds Conf.Frames.
	MaxFrames = 1000
)

// WithDefaults returns c with zero fields set to their defaults.
func (c Conf) WithDefaults() Conf {
	if c.Frames == 0 {
		c.Frames = DefaultFrames
	}
	if c.Present == 0 {
		c.Present = DefaultPresent
	}
	if c.Absent == 0 {
		c.Absent = DefaultAbsent
	}
	if c.Where == "" {
		c.Where = DefaultWhere
	}
	return c
}

// Validate checks c after WithDefaults; an error names the field.
func (c Conf) Validate() error {
	if c.Detector == nil {
		return errors.New("premise: Conf.Detector is required")
	}
	if len(c.Vocabulary.Categories) == 0 {
		return errors.New("premise: Conf.Vocabulary has no categories (build it with NewVocabulary)")
	}
	if c.Frames < 1 || c.Frames > MaxFrames {
		return fmt.Errorf("premise: Conf.Frames = %d, want 1..%d", c.Frames, MaxFrames)
	}
	if !(c.Absent >= 0 && c.Absent < c.Present && c.Present <= 1) {
		return fmt.Errorf("premise: Conf.Absent = %v and Conf.Present = %v: want 0 ≤ Absent < Present ≤ 1", c.Absent, c.Present)
	}
	return nil
}

// Checker parses instructions and hands out Sessions. It is safe for
// concurrent use when its Detector is.
type Checker struct{ conf Conf }

// New validates conf and returns a Checker.
func New(conf Conf) (*Checker, error) {
	conf = conf.WithDefaults()
	if err := conf.Validate(); err != nil {
		return nil, err
	}
	return &Checker{conf: conf}, nil
}

// Conf returns the configuration with defaults applied.
func (c *Checker) Conf() Conf { return c.conf }

// Parse parses an instruction against the checker's vocabulary.
func (c *Checker) Parse(instruction string) (Instruction, error) {
	return c.conf.Vocabulary.Parse(instruction)
}

// NewSession returns a Session: the evidence of one robot (connection,
// episode) for its current instruction.
func (c *Checker) NewSession() *Session { return &Session{c: c} }

// Check runs a fresh Session over the frame sets in order and returns its
// last verdict: Pending when fewer than Conf.Frames sets were given (and
// the instruction needs frames at all).
func (c *Checker) Check(instruction string, sets ...[]Frame) (Verdict, error) {
	s := c.NewSession()
	if len(sets) == 0 {
		return s.Observe(instruction, nil)
	}
	var v Verdict
	for _, f := range sets {
		var err error
		if v, err = s.Observe(instruction, f); err != nil || v.Decision != Pending {
			return v, err
		}
	}
	return v, nil
}

// Session accumulates evidence for one instruction at a time. Not safe
// for concurrent use.
type Session struct {
	c       *Checker
	text    string // normalised instruction being checked
	in      Instruction
	queries []Query
	known   []bool // per query: some detector can ground it
	sum     []float64
	seen    []int
	frames  int
	best    []float64 // scratch: this frame's best score per query
	verdict Verdict
	decided bool
	scratch []Frame // ObserveCameras' frames, reused
}

// Reset forgets the current instruction: the next Observe checks afresh.
func (s *Session) Reset() { s.text, s.decided = "", false }

// Verdict returns the latest verdict (the zero Verdict before any).
func (s *Session) Verdict() Verdict { return s.verdict }

// Observe adds one frame set (all cameras at one instant) for instruction.
// A new instruction (after normalisation: case and spacing do not count)
// starts over. Once decided, the verdict stands for that instruction and
// further frames are not looked at (the robot is moving, or refused); call
// Reset to check again. An instruction whose phrases need no frames (none,
// or none groundable) is decided at once, and then frames may be nil;
// otherwise frames must not be empty (ErrNoFrames).
func (s *Session) Observe(instruction string, frames []Frame) (Verdict, error) {
	if len(instruction) > MaxInstructionBytes || s.text == "" || strings.Join(Words(instruction), " ") != s.text {
		if err := s.start(instruction); err != nil {
			return Verdict{}, err
		}
	}
	if s.decided {
		return s.verdict, nil
	}
	if len(frames) == 0 {
		return s.verdict, ErrNoFrames
	}
	return s.add(frames)
}

// start parses a new instruction and decides at once when no frame can
// change the outcome.
// ObserveCameras is Observe on the images of an observation that belong
// to the cameras keys (a model's image keys, in order); a key without an
// image is left out. It is the one way run, serve and eval turn what a
// robot sees into the checker's frames.
func (s *Session) ObserveCameras(instruction string, images map[string]efferent.Image, keys []string) (Verdict, error) {
	s.scratch = s.scratch[:0]
	for _, k := range keys {
		if im, ok := images[k]; ok {
			s.scratch = append(s.scratch, Frame{Camera: k, Image: im})
		}
	}
	return s.Observe(instruction, s.scratch)
}

func (s *Session) start(instruction string) error {
	in, err := s.c.Parse(instruction)
	if err != nil {
		s.Reset()
		return err
	}
	n := len(in.Phrases)
	*s = Session{c: s.c, text: in.Text, in: in, best: s.best[:0],
		queries: make([]Query, n), known: make([]bool, n), sum: make([]float64, n), seen: make([]int, n)}
	anyGroundable := false
	for i, p := range in.Phrases {
		s.queries[i] = QueryOf(p)
		s.known[i] = !p.Unknown && s.c.conf.Detector.Knows(s.queries[i])
		anyGroundable = anyGroundable || s.known[i]
	}
	s.verdict = s.decide()
	if !anyGroundable {
		// Nothing to look for: ok when nothing was named, else ask.
		s.decided = true
	}
	return nil
}

func (s *Session) add(frames []Frame) (Verdict, error) {
	var qs []Query
	var idx []int
	for i, q := range s.queries {
		if s.known[i] {
			qs, idx = append(qs, q), append(idx, i)
		}
	}
	dets, err := s.c.conf.Detector.Detect(frames, qs)
	if err != nil {
		return s.verdict, fmt.Errorf("premise: detector: %w", err)
	}
	s.best = append(s.best[:0], make([]float64, len(s.queries))...)
	for _, d := range dets {
		if d.Query < 0 || d.Query >= len(idx) || math.IsNaN(d.Score) {
			continue // a detector bug must not count as evidence
		}
		i := idx[d.Query]
		s.best[i] = max(s.best[i], min(1, max(0, d.Score)))
	}
	for i, b := range s.best {
		s.sum[i] += b
		if b >= s.c.conf.Present {
			s.seen[i]++
		}
	}
	s.frames++
	s.verdict = s.decide()
	s.decided = s.verdict.Decision != Pending
	return s.verdict, nil
}

// eps keeps a mean that equals a threshold up to rounding (three frames
// of 0.2 average to 0.20000000000000004) on the threshold's side.
const eps = 1e-9

// decide turns the evidence so far into a verdict.
func (s *Session) decide() Verdict {
	conf := &s.c.conf
	v := Verdict{Instruction: s.in.Text, Frames: s.frames}
	complete := s.frames >= conf.Frames
	var unknown, uncertain []string
	for i, p := range s.in.Phrases {
		ps := PhraseScore{Phrase: p.Text, Seen: s.seen[i], Frames: s.frames}
		switch {
		case !s.known[i]:
			ps.State = StateUnknown
			unknown = append(unknown, p.Text)
		case !complete:
			ps.State = StatePending
		default:
			ps.Score = s.sum[i] / float64(s.frames)
			switch {
			case ps.Score >= conf.Present-eps:
				ps.State = StatePresent
			case ps.Score <= conf.Absent+eps:
				ps.State = StateMissing
				v.Missing = append(v.Missing, p.Text)
			default:
				ps.State = StateUncertain
				uncertain = append(uncertain, p.Text)
			}
		}
		if !complete && s.frames > 0 && s.known[i] {
			ps.Score = s.sum[i] / float64(s.frames)
		}
		v.Phrases = append(v.Phrases, ps)
	}
	anyKnown := false
	for _, k := range s.known {
		anyKnown = anyKnown || k
	}
	switch {
	case anyKnown && !complete:
		v.Decision = Pending
	case len(v.Missing) > 0:
		v.Decision = Refuse
	case len(unknown) > 0:
		v.Decision = Clarify
		v.Question = fmt.Sprintf("I don't know what %s %s; which object %s do you mean?", quoteList(unknown), isAre(len(unknown)), s.c.conf.Where)
	case len(uncertain) > 0:
		v.Decision = Clarify
		v.Question = fmt.Sprintf("I am not sure I can see %s; %s %s?", theList(uncertain), isItAre(len(uncertain)), s.c.conf.Where)
	default:
		v.Decision = OK
	}
	return v
}

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = fmt.Sprintf("%q", x)
	}
	return joinAnd(q)
}

func theList(s []string) string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = "the " + x
	}
	return joinAnd(q)
}

func joinAnd(s []string) string {
	if len(s) <= 1 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

func isItAre(n int) string {
	if n == 1 {
		return "is it"
	}
	return "are they"
}
