package render

import (
	"bytes"
	"testing"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/sim"
	"github.com/efferent/efferent/sim/legged"
)

func leggedScene() *legged.World {
	return &legged.World{
		Half: 4,
		Base: legged.Base{Pos: sim.Vec3{-2, 0, legged.NominalHeight}, GaitHz: 2, Swing: 0.08},
		Objects: []legged.Object{
			{Name: "red ball", Kind: legged.Ball, Color: "red", RGB: [3]uint8{220, 30, 30}, Pos: sim.Vec3{0, 0, 0}, Size: sim.Vec3{0.3, 0.3, 0.3}},
			{Name: "blue box", Kind: legged.Box, Color: "blue", RGB: [3]uint8{30, 60, 220}, Pos: sim.Vec3{-0.5, 0.8, 0}, Size: sim.Vec3{0.4, 0.4, 0.4}},
			{Name: "green cone", Kind: legged.Cone, Color: "green", RGB: [3]uint8{30, 200, 60}, Pos: sim.Vec3{-0.5, -0.8, 0}, Size: sim.Vec3{0.25, 0.25, 0.4}},
			{Name: "yellow bar", Kind: legged.Bar, Color: "yellow", RGB: [3]uint8{230, 210, 30}, Pos: sim.Vec3{2, 0, 0}, Size: sim.Vec3{0.05, 1.2, 0.35}, Clearance: 0.3},
		},
	}
}

func renderLegged(t testing.TB, l *Legged, w *legged.World, cam sim.Camera) efferent.Image {
	t.Helper()
	var im efferent.Image
	if err := l.Render(w, cam, &im); err != nil {
		t.Fatal(err)
	}
	return im
}

// dominant counts the pixels of im in the column range [u0, u1) whose
// channel ch exceeds the other two by 60 or more.
func dominant(im efferent.Image, u0, u1, ch int) int {
	n := 0
	for v := range im.H {
		for u := u0; u < u1; u++ {
			p := im.Pix[(v*im.W+u)*3:]
			if int(p[ch]) >= int(p[(ch+1)%3])+60 && int(p[ch]) >= int(p[(ch+2)%3])+60 {
				n++
			}
		}
	}
	return n
}

// The egocentric camera sees what is ahead where it is: the red ball ahead
// in the middle, the blue box on the robot's left in the image's left
// half, the green cone on its right in the right half; turning the base
// left brings the box toward the middle. The body itself is not drawn.
func TestLeggedEgoView(t *testing.T) {
	l := NewLegged()
	defer l.Close()
	w := leggedScene()
	im := renderLegged(t, l, w, legged.EgoCamera(&w.Base, 128))
	if im.H != 128 || im.W != 128 || len(im.Pix) != 128*128*3 {
		t.Fatalf("image %dx%dx%d", im.H, im.W, im.C)
	}
	if n := dominant(im, 48, 80, 0); n < 20 {
		t.Errorf("red ball ahead: %d red pixels in the middle columns", n)
	}
	if l, r := dominant(im, 0, 64, 2), dominant(im, 64, 128, 2); l < 20 || r > 0 {
		t.Errorf("blue box on the left: %d blue pixels left, %d right", l, r)
	}
	if l, r := dominant(im, 0, 64, 1), dominant(im, 64, 128, 1); r < 10 || l > 0 {
		t.Errorf("green cone on the right: %d green pixels left, %d right", l, r)
	}
	w.Base.Yaw = 0.6 // turned left: the box comes toward the middle, the cone leaves
	im = renderLegged(t, l, w, legged.EgoCamera(&w.Base, 128))
	if n := dominant(im, 32, 96, 2); n < 20 {
		t.Errorf("turned left: %d blue pixels in the middle half", n)
	}
	if n := dominant(im, 0, 128, 1); n > 0 {
		t.Errorf("turned left: the cone is still in view (%d green pixels)", n)
	}
}

// The third-person camera shows the quadruped (its dark body) in the
// lower middle of the image; rendering is deterministic.
func TestLeggedThirdPerson(t *testing.T) {
	l := NewLegged()
	defer l.Close()
	w := leggedScene()
	cam := legged.ThirdCamera(&w.Base, 160)
	a := renderLegged(t, l, w, cam)
	dark := 0
	for v := 80; v < 160; v++ {
		for u := 60; u < 100; u++ {
			p := a.Pix[(v*160+u)*3:]
			if p[0] < 70 && p[1] < 70 && p[2] < 80 {
				dark++
			}
		}
	}
	if dark < 100 {
		t.Errorf("%d dark body pixels in the lower middle of the third-person view", dark)
	}
	b := renderLegged(t, l, w, cam)
	if !bytes.Equal(a.Pix, b.Pix) {
		t.Error("the same scene rendered twice differs")
	}
	// The egocentric view of the same scene differs from it.
	if e := renderLegged(t, l, w, legged.EgoCamera(&w.Base, 160)); bytes.Equal(e.Pix, a.Pix) {
		t.Error("ego and third-person views are the same")
	}
}

// The legged simulator's observations through this renderer: the
// egocentric image has the configured size and shows the goal's colour
// at the start of a "go to" task; the expert's episode ends with the
// goal filling more of the view; the third-person view renders too.
func TestLeggedEnvImages(t *testing.T) {
	l := NewLegged()
	defer l.Close()
	e, err := legged.New(legged.Conf{ImageSize: 96}, l)
	if err != nil {
		t.Fatal(err)
	}
	task, ok := legged.FindTask(legged.SuiteGoto + "/0")
	if !ok {
		t.Fatal("no task quadruped-goto/0")
	}
	if err := e.Reset(task, 0); err != nil {
		t.Fatal(err)
	}
	var goal *legged.Object
	for i := range e.World().Objects {
		if o := &e.World().Objects[i]; o.Name == task.Goal {
			goal = o
		}
	}
	if goal == nil {
		t.Fatalf("goal %q not on the scene", task.Goal)
	}
	near := func(im efferent.Image) int {
		n := 0
		for i := 0; i+2 < len(im.Pix); i += 3 {
			d := 0
			for c := range 3 {
				d += absInt(int(im.Pix[i+c]) - int(goal.RGB[c]))
			}
			if d < 60 {
				n++
			}
		}
		return n
	}
	var obs efferent.Observation
	if err := e.Observe(&obs); err != nil {
		t.Fatal(err)
	}
	im := obs.Images[legged.ImageKey]
	if im.H != 96 || im.W != 96 {
		t.Fatalf("egocentric image %dx%d", im.H, im.W)
	}
	start := near(im)
	x := legged.NewExpert()
	var cmd []float64
	for !e.Done() {
		cmd = x.Act(e, cmd)
		if err := e.Step(cmd); err != nil {
			t.Fatal(err)
		}
	}
	if !e.Success() {
		t.Fatal("the expert failed")
	}
	if err := e.Observe(&obs); err != nil {
		t.Fatal(err)
	}
	end := near(obs.Images[legged.ImageKey])
	if start < 5 || end < 2*start {
		t.Errorf("%q: %d goal-coloured pixels at the start, %d at the goal; want it visible and growing", task.Goal, start, end)
	}
	var third efferent.Image
	if err := e.ThirdPerson(&third); err != nil || third.H != 96 {
		t.Fatalf("third person: %v, %dx%d", err, third.H, third.W)
	}
}

func absInt(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// BenchmarkLeggedObserve: one 224×224 egocentric observation, against the
// 20 ms of a 50 Hz step.
func BenchmarkLeggedObserve(b *testing.B) {
	l := NewLegged()
	defer l.Close()
	e, err := legged.New(legged.Conf{}, l)
	if err != nil {
		b.Fatal(err)
	}
	task, _ := legged.FindTask(legged.SuitePosture + "/0")
	if err := e.Reset(task, 0); err != nil {
		b.Fatal(err)
	}
	var obs efferent.Observation
	b.ReportAllocs()
	for b.Loop() {
		if err := e.Observe(&obs); err != nil {
			b.Fatal(err)
		}
	}
}
