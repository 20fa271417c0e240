package rig

import (
	"errors"
	"testing"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/safety/premise"
	"github.com/efferent/efferent/sim"
)

// namer is an open-vocabulary detector in miniature: it sees what see
// says is there, and may name the objects instructions can name.
type namer struct {
	objs []premise.Object
	see  map[string]bool
}

func (n namer) Objects() []premise.Object  { return n.objs }
func (n namer) Knows(q premise.Query) bool { return q.Text != "" }
func (n namer) Detect(frames []premise.Frame, qs []premise.Query) ([]premise.Detection, error) {
	var out []premise.Detection
	for i, q := range qs {
		if n.see[q.Text] {
			out = append(out, premise.Detection{Query: i, Score: 1, Camera: frames[0].Camera})
		}
	}
	return out, nil
}

// A detector that names objects (an onnxdet directory's vocabulary.yaml)
// brings the vocabulary; one that names none gets the simulator's
// catalogue; a detector that fails to open fails the checker.
func TestSimPremiseCheckerVocabulary(t *testing.T) {
	frames := []premise.Frame{{Camera: "a", Image: efferent.Image{H: 1, W: 1, C: 3, Pix: make([]byte, 3)}}}
	check := func(d namer, instruction string) premise.Verdict {
		t.Helper()
		c, err := SimPremiseChecker(1, func([]sim.PremiseObject) (premise.Detector, error) { return d, nil })
		if err != nil {
			t.Fatal(err)
		}
		v, err := c.Check(instruction, frames)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	lab := namer{objs: []premise.Object{{Name: "red mug", Color: "red", Category: "mug"}}, see: map[string]bool{"red mug": true}}
	if v := check(lab, "pick up the red mug"); v.Decision != premise.OK {
		t.Fatalf("lab vocabulary, red mug in view: %v", v)
	}
	if v := check(lab, "pick up the red block"); v.Decision != premise.Clarify {
		t.Fatalf("lab vocabulary, red block: %v, want clarify (not one of its objects)", v)
	}
	simOnly := namer{see: map[string]bool{"red block": true}}
	if v := check(simOnly, "pick up the red block"); v.Decision != premise.OK {
		t.Fatalf("catalogue, red block in view: %v", v)
	}
	if v := check(simOnly, "pick up the red mug"); v.Decision != premise.Clarify {
		t.Fatalf("catalogue, red mug: %v, want clarify", v)
	}
	bad := errors.New("no detector.yaml")
	if _, err := SimPremiseChecker(1, func([]sim.PremiseObject) (premise.Detector, error) { return nil, bad }); !errors.Is(err, bad) {
		t.Fatalf("open error: %v", err)
	}
}
