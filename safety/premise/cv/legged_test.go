package cv

import (
	"testing"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/safety/premise"
	"github.com/efferent/efferent/sim/legged"
	"github.com/efferent/efferent/sim/render"
)

// leggedDetector is the detector for the legged simulator's catalogue
// (what cmd/efferent's cvDetector builds from legged.PremiseObjects).
func leggedDetector(t testing.TB) *Detector {
	t.Helper()
	var known []Known
	for _, o := range legged.PremiseObjects() {
		known = append(known, Known{Color: o.Color, Category: o.Category, RGB: o.RGB})
	}
	d, err := New(Conf{Objects: known})
	if err != nil {
		t.Fatal(err)
	}
	if !d.upright || d.conf.MinArea != FloorMinArea {
		t.Fatalf("a floor catalogue: upright %v, MinArea %v", d.upright, d.conf.MinArea)
	}
	return d
}

// surroundFrames renders the four surround cameras of task at init.
func surroundFrames(t testing.TB, e *legged.Env, task legged.Task, init int) []premise.Frame {
	t.Helper()
	if err := e.Reset(task, init); err != nil {
		t.Fatal(err)
	}
	var obs efferent.Observation
	if err := e.ObserveSurround(&obs); err != nil {
		t.Fatal(err)
	}
	var fs []premise.Frame
	for _, k := range legged.SurroundKeys {
		fs = append(fs, premise.Frame{Camera: k, Image: obs.Images[k]})
	}
	return fs
}

// TestLeggedGoalsFound: on the legged base's surround cameras, at the
// first evaluation states, every phrase of every task's instruction is
// found in the present band (the goal, and the box, walls and bars it
// names: every goal is in some surround camera's view from the start),
// and in the false-premise variant the
// removed goal scores in the absent band.
func TestLeggedGoalsFound(t *testing.T) {
	d := leggedDetector(t)
	voc, err := legged.PremiseVocabulary()
	if err != nil {
		t.Fatal(err)
	}
	r := render.NewLegged()
	defer r.Close()
	e, err := legged.New(legged.Conf{}, r)
	if err != nil {
		t.Fatal(err)
	}
	inits := 3
	if testing.Short() {
		inits = 1
	}
	for _, su := range legged.Suites() {
		ts, _ := legged.Tasks(su)
		fps, _ := legged.FalsePremiseTasks(su)
		for i, task := range ts {
			in, err := voc.Parse(task.Instruction)
			if err != nil {
				t.Fatal(err)
			}
			var qs []premise.Query
			goal := -1
			for _, p := range in.Phrases {
				for _, o := range task.Scene {
					if o.Name == task.Goal && o.Kind.String() == p.Category && (p.Color == "" || p.Color == o.Color) {
						goal = len(qs)
					}
				}
				qs = append(qs, premise.QueryOf(p))
			}
			if goal < 0 {
				t.Fatalf("%s: no phrase names %s", task.Name, task.Goal)
			}
			for init := range inits {
				dets, err := d.Detect(surroundFrames(t, e, task, init), qs)
				if err != nil {
					t.Fatal(err)
				}
				for qi, s := range best(dets, len(qs)) {
					if s < premise.DefaultPresent {
						t.Errorf("%s init %d: %q is on the scene but scores %.2f", task.Name, init, qs[qi].Text, s)
					}
				}
				dets, err = d.Detect(surroundFrames(t, e, fps[i], init), qs[goal:goal+1])
				if err != nil {
					t.Fatal(err)
				}
				if s := best(dets, 1)[0]; s > premise.DefaultAbsent {
					t.Errorf("%s init %d: the removed %s scores %.2f", fps[i].Name, init, fps[i].Missing, s)
				}
			}
		}
	}
}

// TestLeggedShapesApart: a colour that comes in several kinds is told
// apart by shape: on the first goto scene (red ball, blue ball, green
// cone) a green ball, a red cone and a blue cone score absent, while the
// green cone and both balls are present; the quadruped's colour-less
// kinds (door, wall) are absent where there is none.
func TestLeggedShapesApart(t *testing.T) {
	d := leggedDetector(t)
	r := render.NewLegged()
	defer r.Close()
	e, _ := legged.New(legged.Conf{}, r)
	ts, _ := legged.Tasks(legged.SuiteGoto)
	qs := []premise.Query{
		{Text: "green cone", Color: "green", Category: Cone}, {Text: "red ball", Color: "red", Category: Ball},
		{Text: "blue ball", Color: "blue", Category: Ball},
		{Text: "green ball", Color: "green", Category: Ball}, {Text: "red cone", Color: "red", Category: Cone},
		{Text: "blue cone", Color: "blue", Category: Cone}, {Text: "door", Category: Door}, {Text: "wall", Category: Wall},
		{Text: "purple ball", Color: "purple", Category: Ball},
	}
	for init := range 2 {
		dets, err := d.Detect(surroundFrames(t, e, ts[0], init), qs)
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range best(dets, len(qs)) {
			if present := i < 3; present != (s >= premise.DefaultPresent) || (!present && s > premise.DefaultAbsent) {
				t.Errorf("init %d: %s scores %.2f (present %v)", init, qs[i].Text, s, present)
			}
		}
	}
	if d.Knows(premise.Query{Color: "purple", Category: "chair"}) || !d.Knows(premise.Query{Category: Box}) || d.Knows(premise.Query{Color: "red", Category: Block}) {
		t.Error("Knows: want no chair, a colour-less box, no tabletop block in a floor catalogue")
	}
}

// TestLeggedCheckerVerdicts: the checker on a rendered legged scene (the
// first goto task's: a red ball, a blue ball, a green cone) never lets an
// instruction about something absent move the base: "the purple chair"
// (a noun no scene has) is asked about, "the purple cone" and "the door"
// are refused, while "go to the red ball" and a goal behind the base
// ("turn around and go to the yellow ball") pass.
func TestLeggedCheckerVerdicts(t *testing.T) {
	voc, err := legged.PremiseVocabulary()
	if err != nil {
		t.Fatal(err)
	}
	c, err := premise.New(premise.Conf{Vocabulary: voc, Detector: leggedDetector(t)})
	if err != nil {
		t.Fatal(err)
	}
	r := render.NewLegged()
	defer r.Close()
	e, _ := legged.New(legged.Conf{}, r)
	ts, _ := legged.Tasks(legged.SuiteGoto)
	fs := surroundFrames(t, e, ts[0], 0)
	back := surroundFrames(t, e, ts[5], 0) // a yellow ball behind the base
	for _, tc := range []struct {
		instr  string
		frames []premise.Frame
		want   premise.Decision
	}{
		{"go to the purple chair", fs, premise.Clarify},
		{"go to the purple cone", fs, premise.Refuse},
		{"stop at the door", fs, premise.Refuse},
		{"go to the red ball", fs, premise.OK},
		{"turn around and go to the yellow ball", back, premise.OK},
		{"go to the yellow ball", fs, premise.Refuse},
	} {
		v, err := c.Check(tc.instr, tc.frames, tc.frames, tc.frames)
		if err != nil {
			t.Fatal(err)
		}
		if v.Decision != tc.want {
			t.Errorf("%q: %s (%s), want %s", tc.instr, v.Decision, v.Reason(), tc.want)
		}
	}
}
