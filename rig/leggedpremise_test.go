package rig

import (
	"slices"
	"strings"
	"testing"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/safety/premise"
	"github.com/efferent/efferent/sim"
	"github.com/efferent/efferent/sim/legged"
)

// The legged checker parses against the legged task set's objects: a
// chair, which no scene has, is asked about (never ok, whatever the
// detector says), around the robot rather than on a table; a purple ball
// not in view is refused; "the box" is a box; and the detector is handed
// the legged catalogue.
func TestLeggedPremiseChecker(t *testing.T) {
	frames := []premise.Frame{{Camera: legged.SurroundKeys[0], Image: efferent.Image{H: 1, W: 1, C: 3, Pix: make([]byte, 3)}}}
	var got []sim.PremiseObject
	d := namer{see: map[string]bool{"red ball": true, "box": true, "purple chair": true}}
	c, err := LeggedPremiseChecker(1, func(objs []sim.PremiseObject) (premise.Detector, error) { got = objs; return d, nil })
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(got, func(o sim.PremiseObject) bool { return o.Category == "cone" }) {
		t.Fatalf("the detector got %d objects, no cone", len(got))
	}
	for instr, want := range map[string]premise.Decision{
		"go to the purple chair": premise.Clarify,
		"go to the purple ball":  premise.Refuse,
		"go to the red ball":     premise.OK,
		"back up to the box":     premise.OK,
	} {
		v, err := c.Check(instr, frames)
		if err != nil {
			t.Fatal(err)
		}
		if v.Decision != want {
			t.Errorf("%q: %v, want %s", instr, v, want)
		}
		if want == premise.Clarify && !strings.Contains(v.Question, "around the robot") {
			t.Errorf("%q: question %q: a legged scene has no table", instr, v.Question)
		}
	}
	if _, err := LeggedPremiseChecker(1, nil); err == nil {
		t.Error("no detector: no error")
	}
}
