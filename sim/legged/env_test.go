package legged

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/sim"
)

// openTask is a hand-made task with nothing near the start, for dynamics
// tests: the base starts at the origin facing +x, a cone far away.
func openTask() Task {
	return Task{Suite: "test", Name: "test/open", Instruction: "go to the red cone", MaxSteps: 100000,
		Scene: []Placed{cone("red", 3.5, 3.5)}, Goal: "red cone"}
}

// newEnv returns a NoRender Env reset to task at init 0 with the start
// jitter removed, so the base is exactly at task.Start.
func newEnv(t *testing.T, task Task) *Env {
	t.Helper()
	e, err := New(Conf{NoRender: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Reset(task, 0); err != nil {
		t.Fatal(err)
	}
	b := &e.w.Base
	b.Pos[0], b.Pos[1], b.Yaw = task.Start[0], task.Start[1], task.Start[2]
	e.start = *b
	return e
}

func cmd(vx, vy, wz, h float64) []float64 {
	return []float64{vx, vy, wz, h, 2, 0.08, 0}
}

func TestConf(t *testing.T) {
	c := Conf{}.WithDefaults()
	if c.ImageSize != 224 || c.StepHz != 50 {
		t.Fatalf("defaults %+v", c)
	}
	for _, bad := range []Conf{{ImageSize: 4}, {ImageSize: 4096}, {StepHz: -1}, {StepHz: math.NaN()}} {
		if _, err := New(bad, nil); err == nil {
			t.Errorf("New(%+v): no error", bad)
		}
	}
	if _, err := New(Conf{}, nil); !errors.Is(err, ErrNoRenderer) {
		t.Errorf("New without renderer: %v", err)
	}
	e, _ := New(Conf{NoRender: true}, nil)
	var obs efferent.Observation
	if err := e.Step(cmd(0, 0, 0, NominalHeight)); !errors.Is(err, ErrNotReset) {
		t.Errorf("Step before Reset: %v", err)
	}
	if err := e.Observe(&obs); !errors.Is(err, ErrNotReset) {
		t.Errorf("Observe before Reset: %v", err)
	}
	if err := e.Reset(openTask(), -1); err == nil {
		t.Error("Reset(-1): no error")
	}
}

func TestStepRefusesBadCommands(t *testing.T) {
	e := newEnv(t, openTask())
	for range 10 {
		_ = e.Step(cmd(1, 0, 0, NominalHeight))
	}
	before := e.w.Base
	steps := e.Steps()
	for _, c := range [][]float64{
		nil, {1, 0, 0}, append(cmd(1, 0, 0, NominalHeight), 0),
		{math.NaN(), 0, 0, 0.28, 2, 0.08, 0}, {1, 0, 0, 0.28, math.Inf(1), 0.08, 0}, {1, 0, 0, 0.28, 2, 0.08, math.Inf(-1)},
	} {
		if err := e.Step(c); !errors.Is(err, ErrBadCommand) {
			t.Errorf("Step(%v) = %v, want ErrBadCommand", c, err)
		}
	}
	if e.w.Base != before || e.Steps() != steps {
		t.Error("a refused command moved the base")
	}
}

// TestAccelLimits drives a bang-bang sequence (full forward, full back,
// full left/right, full yaw both ways, at every gait) and checks on every
// step that no velocity changed by more than its limit·dt and none left
// the envelope.
func TestAccelLimits(t *testing.T) {
	e := newEnv(t, openTask())
	dt := 1 / e.conf.StepHz
	const eps = 1e-12
	prev := e.w.Base.Vel
	binding := 0 // steps where some limit was reached exactly
	for i := range 2000 {
		s := 1.0
		if (i/37)%2 == 1 {
			s = -1
		}
		c := cmd(s*5, -s*5, s*5, NominalHeight)
		c[CmdGaitHz] = float64(1 + i%4)
		if i%200 == 100 {
			c[CmdStop] = 1
		}
		// Keep it in open space: recentre (the test is about velocities).
		e.w.Base.Pos[0], e.w.Base.Pos[1] = 0, 0
		if err := e.Step(c); err != nil {
			t.Fatal(err)
		}
		v := e.w.Base.Vel
		lim := [3]float64{MaxAccel * dt, MaxAccel * dt, MaxYawAccel * dt}
		env := [3]float64{MaxVX, MaxVY, MaxWZ}
		for k := range 3 {
			d := math.Abs(v[k] - prev[k])
			if d > lim[k]+eps {
				t.Fatalf("step %d: |Δv[%d]| = %v > %v", i, k, d, lim[k])
			}
			if d > lim[k]-eps {
				binding++
			}
			if math.Abs(v[k]) > env[k]+eps {
				t.Fatalf("step %d: v[%d] = %v outside the envelope", i, k, v[k])
			}
		}
		prev = v
	}
	if e.Collisions() != 0 {
		t.Errorf("%d collisions in open space", e.Collisions())
	}
	if binding < 1000 {
		t.Errorf("the limits bound on only %d velocity changes", binding)
	}
}

// TestLag: a small step in the command (inside the acceleration limit)
// is followed as a first-order lag with τ = LagTime(gait).
func TestLag(t *testing.T) {
	for _, hz := range []float64{1, 2, 4} {
		e := newEnv(t, openTask())
		dt := 1 / e.conf.StepHz
		tau := LagTime(hz)
		const target = 0.02 // small enough that the lag, not the limit, binds
		for i := 1; i <= 50; i++ {
			c := cmd(target, 0, 0, NominalHeight)
			c[CmdGaitHz] = hz
			_ = e.Step(c)
			want := target * (1 - math.Exp(-float64(i)*dt/tau))
			if got := e.w.Base.Vel[0]; math.Abs(got-want) > 1e-12 {
				t.Fatalf("gait %v Hz step %d: vx = %v, want %v", hz, i, got, want)
			}
		}
	}
	if LagTime(2) != 0.25 {
		t.Errorf("LagTime(2) = %v", LagTime(2))
	}
}

// TestCrawl: below CrawlHeight the speed settles at the crawl cap; the
// height moves at most HeightRate·dt a step and reaches the command.
func TestCrawl(t *testing.T) {
	e := newEnv(t, openTask())
	dt := 1 / e.conf.StepHz
	for i := range 300 {
		h0 := e.w.Base.Pos[2]
		e.w.Base.Pos[0], e.w.Base.Pos[1] = 0, 0
		_ = e.Step(cmd(1, 0.5, 0, 0.16))
		if d := math.Abs(e.w.Base.Pos[2] - h0); d > HeightRate*dt+1e-12 {
			t.Fatalf("step %d: height moved %v", i, d)
		}
	}
	b := e.w.Base
	if math.Abs(b.Pos[2]-0.16) > 1e-9 {
		t.Errorf("height %v, want 0.16", b.Pos[2])
	}
	if math.Abs(b.Vel[0]-CrawlMaxVX) > 1e-6 || math.Abs(b.Vel[1]-CrawlMaxVY) > 1e-6 {
		t.Errorf("crawl velocity %v, want (%v, %v)", b.Vel, CrawlMaxVX, CrawlMaxVY)
	}
	// Standing up again lifts the cap.
	for range 200 {
		e.w.Base.Pos[0], e.w.Base.Pos[1] = 0, 0
		_ = e.Step(cmd(1, 0, 0, NominalHeight))
	}
	if e.w.Base.Vel[0] < 0.99 {
		t.Errorf("standing vx = %v, want ≈ 1", e.w.Base.Vel[0])
	}
	// The envelope clips the height command.
	for range 200 {
		_ = e.Step(cmd(0, 0, 0, 0.01))
	}
	if e.w.Base.Pos[2] != MinHeight {
		t.Errorf("height %v, want MinHeight", e.w.Base.Pos[2])
	}
}

// TestStopFlag: from full speed, the stop flag brings every velocity to 0
// within the time the acceleration limits need (plus the lag's tail), and
// the base then holds still whatever the rest of the command says.
func TestStopFlag(t *testing.T) {
	e := newEnv(t, Task{Suite: "test", Name: "test/stop", Instruction: "go to the red cone", MaxSteps: 100000,
		Start: [3]float64{-3, 0, 0}, Scene: []Placed{cone("red", 3.5, 3.5)}, Goal: "red cone"})
	dt := 1 / e.conf.StepHz
	for range 100 {
		_ = e.Step(cmd(1, 0, 1.5, NominalHeight))
	}
	c := cmd(1, 0.5, 1.5, NominalHeight)
	c[CmdStop] = 1
	prev := e.w.Base.Vel
	for i := range 200 {
		_ = e.Step(c)
		v := e.w.Base.Vel
		if !e.w.Base.Stopped {
			t.Fatal("Stopped not set")
		}
		for k, a := range []float64{MaxAccel, MaxAccel, MaxYawAccel} {
			if math.Abs(v[k]-prev[k]) > a*dt+1e-12 || math.Abs(v[k]) > math.Abs(prev[k])+1e-12 {
				t.Fatalf("step %d: velocity %v after %v under the stop flag", i, v, prev)
			}
		}
		prev = v
	}
	if v := e.w.Base.Vel; math.Abs(v[0]) > 1e-6 || math.Abs(v[1]) > 1e-6 || math.Abs(v[2]) > 1e-6 {
		t.Errorf("still moving after 4 s of stop flag: %v", v)
	}
}

// TestObserve checks the state, prompt, time and sequence numbers.
func TestObserve(t *testing.T) {
	task := openTask()
	task.Start = [3]float64{1, 1, math.Pi / 2}
	e := newEnv(t, task)
	var obs efferent.Observation
	obs.Images = map[string]efferent.Image{ImageKey: {}}
	for range 50 {
		_ = e.Step(cmd(0.5, 0, 0, NominalHeight))
	}
	if err := e.Observe(&obs); err != nil {
		t.Fatal(err)
	}
	if _, ok := obs.Images[ImageKey]; ok {
		t.Error("NoRender left an image")
	}
	if len(obs.State) != StateDim || obs.Prompt != task.Instruction || obs.Seq != 1 {
		t.Fatalf("obs %+v", obs)
	}
	// Facing +y at the start, it walked along +y: forward in odometry.
	if obs.State[StX] < 0.3 || math.Abs(obs.State[StY]) > 1e-9 || math.Abs(obs.State[StYaw]) > 1e-9 {
		t.Errorf("odometry %v", obs.State[:3])
	}
	if obs.State[StHeight] != NominalHeight || obs.State[StVX] != e.w.Base.Vel[0] {
		t.Errorf("state %v", obs.State)
	}
	if want := sim.SimEpoch.Add(time.Second); !obs.Time.Equal(want) {
		t.Errorf("time %v, want %v", obs.Time, want)
	}
	_ = e.Observe(&obs)
	if obs.Seq != 2 {
		t.Errorf("seq %d", obs.Seq)
	}
	if e.ThirdPerson(&efferent.Image{}) == nil {
		t.Error("ThirdPerson without a renderer: no error")
	}
}

// fakeRenderer fills an image of the camera's size and counts calls.
type fakeRenderer struct {
	n    int
	last sim.Camera
}

func (f *fakeRenderer) Render(w *World, cam sim.Camera, dst *efferent.Image) error {
	f.n++
	f.last = cam
	n := cam.W * cam.H * 3
	if cap(dst.Pix) < n {
		dst.Pix = make([]byte, n)
	}
	dst.Pix, dst.H, dst.W, dst.C = dst.Pix[:n], cam.H, cam.W, 3
	return nil
}

func TestObserveRenders(t *testing.T) {
	f := &fakeRenderer{}
	e, err := New(Conf{ImageSize: 32}, f)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Reset(openTask(), 0); err != nil {
		t.Fatal(err)
	}
	var obs efferent.Observation
	_ = e.Observe(&obs)
	p := &obs.Images[ImageKey].Pix[0]
	_ = e.Observe(&obs)
	im := obs.Images[ImageKey]
	if f.n != 2 || f.last.Name != EgoView || im.W != 32 || &im.Pix[0] != p {
		t.Errorf("render calls %d, camera %q, image %dx%d, buffer reused %v", f.n, f.last.Name, im.W, im.H, &im.Pix[0] == p)
	}
	var third efferent.Image
	if err := e.ThirdPerson(&third); err != nil || f.last.Name != ThirdView {
		t.Errorf("ThirdPerson: %v, camera %q", err, f.last.Name)
	}
}
