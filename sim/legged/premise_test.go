package legged

import (
	"math"
	"slices"
	"testing"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/sim"
)

// The four surround cameras look a quarter turn apart from the mast, level,
// and together see every bearing around the base at the horizon: a goal
// behind or beside the base is in one of them.
func TestSurroundCamerasCoverAround(t *testing.T) {
	b := Base{Pos: sim.Vec3{0.5, -1, NominalHeight}, Yaw: 0.7}
	cams := SurroundCameras(&b, SurroundSize)
	if len(cams) != 4 || len(SurroundKeys) != 4 {
		t.Fatalf("%d cameras, %d keys", len(cams), len(SurroundKeys))
	}
	for k, c := range cams {
		if c.Name != SurroundViews[k] || !OnBody(c.Name) || c.W != SurroundSize || c.H != SurroundSize {
			t.Errorf("camera %d: %q %dx%d", k, c.Name, c.W, c.H)
		}
		if fov := 2 * math.Atan(float64(c.W)/2/c.Fx) * 180 / math.Pi; fov < 90 {
			t.Errorf("%s: field of view %.1f°, want ≥ 90°", c.Name, fov)
		}
		if yaw := math.Atan2(c.Forward[1], c.Forward[0]); math.Abs(wrapAngle(yaw-b.Yaw-float64(k)*math.Pi/2)) > 1e-9 || c.Forward[2] != 0 {
			t.Errorf("%s: looks along yaw %.3f, z %.3f", c.Name, yaw, c.Forward[2])
		}
		if z := c.Pos[2]; math.Abs(z-NominalHeight-SurroundMast) > 1e-12 {
			t.Errorf("%s: at height %.3f", c.Name, z)
		}
	}
	for deg := range 360 {
		s, co := math.Sincos(float64(deg) * math.Pi / 180)
		p := cams[0].Pos.Add(sim.Vec3{3 * co, 3 * s, 0})
		seen := false
		for _, c := range cams {
			q := c.ToCamera(p)
			u, v := c.Fx*q[0]/q[2]+c.Cx, c.Fy*q[1]/q[2]+c.Cy
			if q[2] > 0 && u >= 0 && u <= float64(c.W-1) && math.Abs(v-c.Cy) < 1e-6 {
				seen = true
			}
		}
		if !seen {
			t.Errorf("bearing %d°: in no surround camera (or not on the middle row)", deg)
		}
	}
	if OnBody(ThirdView) || !OnBody(EgoView) {
		t.Error("OnBody: the chase camera is not on the base, the egocentric one is")
	}
}

// ObserveSurround renders the four cameras into their keys, reusing the
// images, and leaves the policy's observation (State, Seq) alone.
func TestObserveSurround(t *testing.T) {
	f := &fakeRenderer{}
	e, err := New(Conf{ImageSize: 32}, f)
	if err != nil {
		t.Fatal(err)
	}
	var obs efferent.Observation
	if e.ObserveSurround(&obs) != ErrNotReset {
		t.Error("before Reset: no ErrNotReset")
	}
	if err := e.Reset(openTask(), 0); err != nil {
		t.Fatal(err)
	}
	if err := e.ObserveSurround(&obs); err != nil {
		t.Fatal(err)
	}
	p := &obs.Images[SurroundKeys[2]].Pix[0]
	if err := e.ObserveSurround(&obs); err != nil {
		t.Fatal(err)
	}
	if f.n != 8 || len(obs.Images) != 4 || &obs.Images[SurroundKeys[2]].Pix[0] != p || f.last.Name != SurroundViews[3] {
		t.Errorf("%d renders, %d images, buffer reused %v, last camera %q", f.n, len(obs.Images), &obs.Images[SurroundKeys[2]].Pix[0] == p, f.last.Name)
	}
	if obs.Seq != 0 || obs.State != nil || obs.Prompt != openTask().Instruction {
		t.Errorf("seq %d, state %v, prompt %q", obs.Seq, obs.State, obs.Prompt)
	}
	if _, ok := obs.Images[ImageKey]; ok {
		t.Error("the egocentric image is the policy's: ObserveSurround rendered it")
	}
}

// Every object every instruction of the task set names parses to a known
// category (so the check looks for it), "box" is a box (not the
// tabletop's block), and a noun no scene has ("the purple chair") is
// unknown: the checker asks about it and never looks.
func TestPremiseVocabulary(t *testing.T) {
	voc, err := PremiseVocabulary()
	if err != nil {
		t.Fatal(err)
	}
	objs := PremiseObjects()
	has := func(color, cat string) bool {
		return slices.ContainsFunc(objs, func(o sim.PremiseObject) bool { return o.Color == color && o.Category == cat })
	}
	for _, su := range Suites() {
		ts, _ := Tasks(su)
		for _, task := range ts {
			in, err := voc.Parse(task.Instruction)
			if err != nil {
				t.Fatal(err)
			}
			if len(in.Phrases) == 0 {
				t.Errorf("%s: no object phrase", task.Name)
			}
			goal := false
			for _, p := range in.Phrases {
				if p.Unknown || !has(p.Color, p.Category) {
					t.Errorf("%s: phrase %q (colour %q, category %q) is not in the catalogue", task.Name, p.Text, p.Color, p.Category)
				}
				for _, o := range task.Scene {
					goal = goal || (o.Name == task.Goal && o.Kind.String() == p.Category && (p.Color == "" || p.Color == o.Color))
				}
			}
			if !goal {
				t.Errorf("%s: no phrase names the goal %q", task.Name, task.Goal)
			}
		}
	}
	in, _ := voc.Parse("back up to the box")
	if len(in.Phrases) != 1 || in.Phrases[0].Category != "box" {
		t.Errorf("back up to the box: %+v", in.Phrases)
	}
	in, _ = voc.Parse("go to the purple chair")
	if len(in.Phrases) != 1 || !in.Phrases[0].Unknown || in.Phrases[0].Color != "purple" {
		t.Errorf("the purple chair: %+v, want one unknown phrase", in.Phrases)
	}
	if !has("purple", "ball") || has("purple", "cone") || !has("", "door") || !has("", "wall") {
		t.Error("catalogue: want a purple ball, no purple cone, a colour-less door and wall")
	}
}
