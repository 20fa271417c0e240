package premise

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/efferent/efferent"
)

// fakeDetector is the unit-test seam: per frame set (counted by Detect
// calls), a score per query text; queries of unknown categories are not
// known.
type fakeDetector struct {
	scores  []map[string]float64 // per call; the last repeats
	unknown map[string]bool      // categories it cannot look for
	calls   int
	err     error
}

func (d *fakeDetector) Knows(q Query) bool { return !d.unknown[q.Category] }

func (d *fakeDetector) Detect(frames []Frame, qs []Query) ([]Detection, error) {
	if d.err != nil {
		return nil, d.err
	}
	s := d.scores[min(d.calls, len(d.scores)-1)]
	d.calls++
	var out []Detection
	for i, q := range qs {
		if v, ok := s[q.Text]; ok {
			// Two cameras: the best counts.
			out = append(out, Detection{Query: i, Score: v / 2, Camera: "wrist"}, Detection{Query: i, Score: v, Camera: frames[0].Camera})
		}
	}
	return out, nil
}

var oneFrame = []Frame{{Camera: "agentview", Image: efferent.Image{H: 1, W: 1, C: 3, Pix: make([]byte, 3)}}}

func newChecker(t *testing.T, d Detector, conf Conf) *Checker {
	t.Helper()
	conf.Vocabulary, conf.Detector = tabletop(t), d
	c, err := New(conf)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const instr = "put the red block in the blue bowl"

func TestDecisions(t *testing.T) {
	cases := []struct {
		name     string
		scores   []map[string]float64
		want     Decision
		missing  []string
		question string
	}{
		{"both seen", []map[string]float64{{"red block": 0.9, "blue bowl": 0.8}}, OK, nil, ""},
		{"one missing", []map[string]float64{{"blue bowl": 0.9}}, Refuse, []string{"red block"}, ""},
		{"both missing", []map[string]float64{{}}, Refuse, []string{"red block", "blue bowl"}, ""},
		// Seen once in three frames (mean 0.3): the uncertain band asks.
		{"uncertain", []map[string]float64{{"red block": 0.9, "blue bowl": 0.9}, {"blue bowl": 0.9}, {"blue bowl": 0.9}}, Clarify, nil, "not sure I can see the red block"},
		// Hidden in one frame of three (mean 0.6): present.
		{"occluded once", []map[string]float64{{"blue bowl": 0.9}, {"red block": 0.9, "blue bowl": 0.9}, {"red block": 0.9, "blue bowl": 0.9}}, OK, nil, ""},
		// A refusal wins over uncertainty about another phrase.
		{"missing and uncertain", []map[string]float64{{"blue bowl": 0.35}}, Refuse, []string{"red block"}, ""},
		// Exactly at the thresholds: Present is present, Absent is absent.
		{"at thresholds", []map[string]float64{{"red block": DefaultPresent, "blue bowl": DefaultAbsent}}, Refuse, []string{"blue bowl"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := &fakeDetector{scores: c.scores}
			s := newChecker(t, d, Conf{}).NewSession()
			for i := 1; i < DefaultFrames; i++ {
				v, err := s.Observe(instr, oneFrame)
				if err != nil || v.Decision != Pending || v.Frames != i || v.Allows() || v.Err() != nil {
					t.Fatalf("frame %d: %+v, %v; want pending", i, v, err)
				}
			}
			v, err := s.Observe(instr, oneFrame)
			if err != nil {
				t.Fatal(err)
			}
			if v.Decision != c.want || !reflect.DeepEqual(v.Missing, c.missing) || !strings.Contains(v.Question, c.question) || v.Frames != DefaultFrames {
				t.Fatalf("got %+v, want %s missing %v question ~%q", v, c.want, c.missing, c.question)
			}
			if v.Allows() != (c.want == OK) {
				t.Fatalf("Allows() = %v for %s", v.Allows(), c.want)
			}
			switch c.want {
			case Refuse:
				if err := v.Err(); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), c.missing[0]) {
					t.Fatalf("Err() = %v", err)
				}
			case Clarify:
				if err := v.Err(); !errors.Is(err, ErrClarify) || !strings.Contains(err.Error(), v.Question) {
					t.Fatalf("Err() = %v", err)
				}
			}
			// Decided: further frames are not looked at.
			calls := d.calls
			if v2, _ := s.Observe(instr, oneFrame); !reflect.DeepEqual(v2, v) || d.calls != calls {
				t.Fatalf("after the decision: %+v (%d detector calls, want %d)", v2, d.calls, calls)
			}
			if len(v.Phrases) != 2 || v.Phrases[0].Phrase != "red block" || v.Phrases[0].Frames != DefaultFrames {
				t.Fatalf("phrase scores %+v", v.Phrases)
			}
		})
	}
}

func TestScoresAndSeen(t *testing.T) {
	d := &fakeDetector{scores: []map[string]float64{{"red block": 0.9, "blue bowl": 0.3}, {"red block": 0.6, "blue bowl": 0.9}, {"red block": 1.5}}}
	v, err := newChecker(t, d, Conf{}).Check(instr, oneFrame, oneFrame, oneFrame)
	if err != nil {
		t.Fatal(err)
	}
	// Scores are clamped to [0, 1]: red (0.9+0.6+1)/3, bowl (0.3+0.9+0)/3.
	want := []PhraseScore{{"red block", 2.5 / 3, 3, 3, StatePresent}, {"blue bowl", 0.4, 1, 3, StateUncertain}}
	for i, p := range v.Phrases {
		if p.Phrase != want[i].Phrase || p.Seen != want[i].Seen || p.State != want[i].State || p.Score < want[i].Score-1e-9 || p.Score > want[i].Score+1e-9 {
			t.Fatalf("phrase %d: %+v, want %+v", i, p, want[i])
		}
	}
	if v.Decision != Clarify {
		t.Fatalf("%+v", v)
	}
}

func TestUnknownAsks(t *testing.T) {
	d := &fakeDetector{scores: []map[string]float64{{"plate": 0.9}}, unknown: map[string]bool{"basket": true}}
	c := newChecker(t, d, Conf{Frames: 2})
	// An unknown noun and nothing else to look for: decided at once,
	// without frames.
	v, err := c.NewSession().Observe("pick up the red mug", nil)
	if err != nil || v.Decision != Clarify || !strings.Contains(v.Question, `"red mug"`) || d.calls != 0 {
		t.Fatalf("%+v, %v (%d calls)", v, err, d.calls)
	}
	// An unknown noun beside a known one: the known one is still looked
	// for (a missing plate refuses), then the unknown one is asked about.
	v, err = c.Check("put the coffee mug on the plate", oneFrame, oneFrame)
	if err != nil || v.Decision != Clarify || !strings.Contains(v.Question, `"coffee mug"`) || v.Phrases[0].State != StateUnknown || v.Phrases[1].State != StatePresent {
		t.Fatalf("%+v, %v", v, err)
	}
	// A category the detector cannot look for is asked about too.
	v, err = c.Check("put the red block in the basket", oneFrame, oneFrame)
	if err != nil || v.Decision != Refuse || !reflect.DeepEqual(v.Missing, []string{"red block"}) {
		t.Fatalf("%+v, %v", v, err)
	}
	v, err = c.Check("put the plate in the basket", oneFrame, oneFrame)
	if err != nil || v.Decision != Clarify || !strings.Contains(v.Question, `"basket"`) {
		t.Fatalf("%+v, %v", v, err)
	}
	// No object named: nothing to check.
	if v, err = c.Check("wave"); err != nil || v.Decision != OK {
		t.Fatalf("%+v, %v", v, err)
	}
}

func TestSessionNewInstruction(t *testing.T) {
	d := &fakeDetector{scores: []map[string]float64{{"red block": 0.9, "blue bowl": 0.9}}}
	s := newChecker(t, d, Conf{Frames: 2}).NewSession()
	s.Observe(instr, oneFrame)
	// The same instruction in other case and spacing continues it.
	if v, _ := s.Observe("Put the red block  in the BLUE bowl.", oneFrame); v.Decision != OK || v.Frames != 2 {
		t.Fatalf("%+v", v)
	}
	// A new one starts over.
	if v, _ := s.Observe("put the red block on the plate", oneFrame); v.Decision != Pending || v.Frames != 1 {
		t.Fatalf("%+v", v)
	}
	if v, _ := s.Observe("put the red block on the plate", oneFrame); v.Decision != Refuse || v.Missing[0] != "plate" {
		t.Fatalf("%+v", v)
	}
	// Reset checks the same instruction again.
	s.Reset()
	if v, _ := s.Observe("put the red block on the plate", oneFrame); v.Decision != Pending {
		t.Fatalf("after Reset: %+v", v)
	}
}

func TestObserveErrors(t *testing.T) {
	d := &fakeDetector{scores: []map[string]float64{{}}}
	s := newChecker(t, d, Conf{}).NewSession()
	if _, err := s.Observe("", oneFrame); !errors.Is(err, ErrEmptyInstruction) {
		t.Fatalf("empty: %v", err)
	}
	if _, err := s.Observe(instr, nil); !errors.Is(err, ErrNoFrames) {
		t.Fatalf("no frames: %v", err)
	}
	d.err = errors.New("camera on fire")
	if _, err := s.Observe(instr, oneFrame); err == nil || !strings.Contains(err.Error(), "camera on fire") {
		t.Fatalf("detector error: %v", err)
	}
}

// badDetector returns out-of-range query indices and NaN scores: neither
// may count as evidence.
type badDetector struct{}

func (badDetector) Knows(Query) bool { return true }
func (badDetector) Detect(_ []Frame, qs []Query) ([]Detection, error) {
	return []Detection{{Query: -1, Score: 1}, {Query: len(qs), Score: 1}, {Query: 0, Score: nan()}}, nil
}

func nan() float64 { z := 0.0; return z / z }

func TestBadDetectionsIgnored(t *testing.T) {
	v, err := newChecker(t, badDetector{}, Conf{Frames: 1}).Check(instr, oneFrame)
	if err != nil || v.Decision != Refuse || len(v.Missing) != 2 {
		t.Fatalf("%+v, %v", v, err)
	}
}

func TestDetectorsCombine(t *testing.T) {
	a := &fakeDetector{scores: []map[string]float64{{"red block": 0.9}}, unknown: map[string]bool{"bowl": true}}
	b := &fakeDetector{scores: []map[string]float64{{"blue bowl": 0.8, "red block": 0.1}}}
	v, err := newChecker(t, Detectors{a, b}, Conf{Frames: 1}).Check(instr, oneFrame)
	if err != nil || v.Decision != OK || v.Phrases[0].Score != 0.9 || v.Phrases[1].Score != 0.8 {
		t.Fatalf("%+v, %v", v, err)
	}
}

func TestConfValidate(t *testing.T) {
	d := &fakeDetector{}
	v := tabletop(t)
	for _, c := range []struct {
		conf Conf
		want string
	}{
		{Conf{Vocabulary: v}, "Detector"},
		{Conf{Detector: d}, "Vocabulary"},
		{Conf{Vocabulary: v, Detector: d, Frames: -1}, "Frames"},
		{Conf{Vocabulary: v, Detector: d, Present: 0.3, Absent: 0.4}, "Absent"},
		{Conf{Vocabulary: v, Detector: d, Present: 1.5}, "Present"},
	} {
		if _, err := New(c.conf); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error naming %s", c.conf, err, c.want)
		}
	}
	c, err := New(Conf{Vocabulary: v, Detector: d})
	if err != nil || c.Conf().Frames != DefaultFrames || c.Conf().Present != DefaultPresent || c.Conf().Absent != DefaultAbsent {
		t.Fatalf("defaults: %+v, %v", c.Conf(), err)
	}
}
