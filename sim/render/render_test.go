package render

import (
	"bytes"
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/sim"
)

func newR(t testing.TB) *Renderer {
	r := New()
	t.Cleanup(r.Close)
	return r
}

func object(t testing.TB, name string, x, y float64) sim.Object {
	o, err := sim.NewObject(name)
	if err != nil {
		t.Fatal(err)
	}
	o.Pos = sim.Vec3{x, y, sim.TableZ}
	o.Start = o.Pos
	return o
}

// scene: three blocks and a plate; the gripper parked high in a corner.
func scene(t testing.TB) *sim.World {
	return &sim.World{
		Objects: []sim.Object{
			object(t, "red block", 0.12, 0.12),
			object(t, "green block", 0.0, -0.12),
			object(t, "blue block", -0.1, 0.05),
			object(t, "plate", 0.12, -0.15),
		},
		Gripper: sim.Gripper{Pos: sim.Vec3{-0.25, 0.3, sim.TableZ + 0.4}, Quat: sim.RestQuat, Finger: sim.FingerOpen, Held: -1},
	}
}

func render(t testing.TB, r *Renderer, w *sim.World, cam sim.Camera) efferent.Image {
	t.Helper()
	var im efferent.Image
	if err := r.Render(w, cam, &im); err != nil {
		t.Fatal(err)
	}
	return im
}

func pixel(im efferent.Image, u, v float64) [3]int {
	x, y := int(math.Round(u)), int(math.Round(v))
	o := (y*im.W + x) * 3
	return [3]int{int(im.Pix[o]), int(im.Pix[o+1]), int(im.Pix[o+2])}
}

func TestRenderSize(t *testing.T) {
	r := newR(t)
	w := scene(t)
	for _, size := range []int{224, 96, 33} {
		for _, cam := range []sim.Camera{sim.AgentCamera(size), sim.WristCamera(&w.Gripper, size)} {
			im := render(t, r, w, cam)
			if im.H != size || im.W != size || im.C != 3 || im.Validate() != nil {
				t.Fatalf("%s at %d: %dx%dx%d, %v", cam.Name, size, im.H, im.W, im.C, im.Validate())
			}
		}
	}
	// A buffer that is big enough is reused.
	var im efferent.Image
	im.Pix = make([]byte, 0, 224*224*3)
	p := &im.Pix[:1][0]
	if err := r.Render(w, sim.AgentCamera(64), &im); err != nil || &im.Pix[0] != p {
		t.Fatalf("buffer not reused (%v)", err)
	}
}

func TestRenderDeterministic(t *testing.T) {
	w := scene(t)
	cam := sim.AgentCamera(224)
	a := render(t, newR(t), w, cam)
	r := newR(t)
	render(t, r, w, sim.WristCamera(&w.Gripper, 224)) // other state in between
	b := render(t, r, w, cam)
	if !bytes.Equal(a.Pix, b.Pix) {
		t.Fatal("the same world rendered twice differs")
	}
}

// TestColoursWhereProjected: the top face of each block, projected, shows
// the block's colour in both cameras, and the layout reads upright (far is
// up, the robot's left is image left).
func TestColoursWhereProjected(t *testing.T) {
	r := newR(t)
	w := scene(t)
	check := func(cam sim.Camera, im efferent.Image, i int) (u, v float64) {
		o := &w.Objects[i]
		u, v, _, ok := cam.Project(o.Pos.Add(sim.Vec3{0, 0, o.Size[2]}))
		if !ok || u < 0 || v < 0 || u > float64(im.W-1) || v > float64(im.H-1) {
			t.Fatalf("%s: %s projects outside the image (%.1f, %.1f)", cam.Name, o.Name, u, v)
		}
		got := pixel(im, u, v)
		want := o.Color
		for k := range 3 {
			if d := got[k] - int(want[k]); d < -40 || d > 25 {
				t.Fatalf("%s: %s at (%.0f, %.0f) is %v, want about %v", cam.Name, o.Name, u, v, got, want)
			}
		}
		return u, v
	}
	agent := sim.AgentCamera(224)
	im := render(t, r, w, agent)
	for i := range 3 {
		check(agent, im, i)
	}
	uRed, vRed := check(agent, im, 0)     // far left
	uGreen, vGreen := check(agent, im, 1) // middle right
	_, vBlue := check(agent, im, 2)       // near
	if !(uRed < uGreen && vRed < vGreen && vGreen < vBlue) {
		t.Fatalf("layout not upright: red (%.0f,%.0f) green (%.0f,%.0f) blue v=%.0f", uRed, vRed, uGreen, vGreen, vBlue)
	}
	// The wrist camera over each block sees it.
	for i := range 3 {
		o := w.Objects[i]
		w.Gripper.Pos = o.Pos.Add(sim.Vec3{-0.04, 0, 0.15})
		cam := sim.WristCamera(&w.Gripper, 224)
		check(cam, render(t, r, w, cam), i)
	}
}

// TestGripperVisible: open and closed fingers look different in both
// views, and the gripper changes the agent view where it projects.
func TestGripperVisible(t *testing.T) {
	r := newR(t)
	w := scene(t)
	w.Gripper.Pos = sim.Vec3{0.05, 0, sim.TableZ + 0.12}
	for _, size := range []int{224, 64} {
		for _, mk := range []func() sim.Camera{func() sim.Camera { return sim.AgentCamera(size) }, func() sim.Camera { return sim.WristCamera(&w.Gripper, size) }} {
			w.Gripper.Finger = sim.FingerOpen
			cam := mk()
			open := render(t, r, w, cam)
			w.Gripper.Finger = 0
			closed := render(t, r, w, cam)
			n := 0
			for i := 0; i < len(open.Pix); i += 3 {
				if !bytes.Equal(open.Pix[i:i+3], closed.Pix[i:i+3]) {
					n++
				}
			}
			if min := size * size / 400; n < min {
				t.Fatalf("%s at %d: open and closed differ in %d pixels, want ≥ %d", cam.Name, size, n, min)
			}
		}
	}
	// The hand covers the table where the grip point projects from above.
	agent := sim.AgentCamera(224)
	with := render(t, r, w, agent)
	w.Gripper.Pos[1] = 0.33 // move it away
	without := render(t, r, w, agent)
	u, v, _, _ := agent.Project(sim.Vec3{0.05, 0, sim.TableZ + 0.12 + sim.FingerLength + sim.HandHeight/2})
	if pixel(with, u, v) == pixel(without, u, v) {
		t.Fatalf("no gripper drawn at (%.0f, %.0f)", u, v)
	}
}

// TestEnvImages: the same task and init give byte-identical observations
// through whole episodes; another init gives another image.
func TestEnvImages(t *testing.T) {
	ts, _ := sim.Tasks(sim.SuiteSpatial)
	run := func(init int) [][]byte {
		e, err := sim.New(sim.Conf{ImageSize: 96}, newR(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Reset(ts[4], init); err != nil {
			t.Fatal(err)
		}
		x := sim.NewExpert()
		a := make([]float64, sim.ActionDim)
		var obs efferent.Observation
		var frames [][]byte
		for !e.Done() {
			e.Observe(&obs)
			frames = append(frames, bytes.Clone(obs.Images[sim.AgentViewKey].Pix), bytes.Clone(obs.Images[sim.WristViewKey].Pix))
			x.Act(e.World(), a)
			e.Step(a)
		}
		if !e.Success() {
			t.Fatal("expert failed")
		}
		return frames
	}
	a, b := run(3), run(3)
	if len(a) != len(b) {
		t.Fatalf("%d vs %d frames", len(a), len(b))
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			t.Fatalf("frame %d differs between identical runs", i)
		}
	}
	if c := run(4); bytes.Equal(a[0], c[0]) {
		t.Fatal("inits 3 and 4 render the same first image")
	}
}

// TestObserveNoAllocs: rendering both cameras in a steady loop allocates
// nothing.
func TestObserveNoAllocs(t *testing.T) {
	e, err := sim.New(sim.Conf{}, newR(t))
	if err != nil {
		t.Fatal(err)
	}
	ts, _ := sim.Tasks(sim.SuiteObject)
	e.Reset(ts[0], 0)
	x := sim.NewExpert()
	a := make([]float64, sim.ActionDim)
	var obs efferent.Observation
	e.Observe(&obs)
	if n := testing.AllocsPerRun(20, func() {
		x.Act(e.World(), a)
		e.Step(a)
		if err := e.Observe(&obs); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("%.1f allocations per step+observe", n)
	}
}

func TestRenderErrors(t *testing.T) {
	r := New()
	w := scene(t)
	var im efferent.Image
	if err := r.Render(w, sim.Camera{W: 0, H: 10}, &im); err == nil {
		t.Error("zero-width camera accepted")
	}
	r.Close()
	r.Close() // idempotent
	if err := r.Render(w, sim.AgentCamera(32), &im); err == nil {
		t.Error("closed renderer rendered")
	}
}

// TestDemosRendered writes real demonstrations and checks that the first
// recorded frame is the initial state's rendering.
func TestDemosRendered(t *testing.T) {
	dir := t.TempDir()
	r := newR(t)
	n, err := sim.WriteDemos(context.Background(), sim.DemoConf{Suite: sim.SuiteGoal, EpisodesPerTask: 1, Out: dir, ImageSize: 64}, r, nil)
	if err != nil || n != 10 {
		t.Fatalf("%d written, %v", n, err)
	}
	d, err := sim.ReadDemo(filepath.Join(dir, "goal", "3_0"))
	if err != nil {
		t.Fatal(err)
	}
	e, _ := sim.New(sim.Conf{ImageSize: 64}, r)
	ts, _ := sim.Tasks(d.Meta.Suite)
	e.Reset(ts[d.Meta.TaskIndex], d.Meta.InitIndex)
	var obs efferent.Observation
	e.Observe(&obs)
	if !bytes.Equal(obs.Images[sim.AgentViewKey].Pix, d.Agent[:64*64*3]) || !bytes.Equal(obs.Images[sim.WristViewKey].Pix, d.Wrist[:64*64*3]) {
		t.Fatal("first recorded frame differs from a fresh render")
	}
}
