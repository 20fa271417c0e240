package sim

import (
	"math"
	"strings"
	"testing"

	"github.com/efferent/efferent"
)

// fakeRenderer paints a pure function of the camera and the gripper, so
// sim's tests can exercise Observe without OpenCV. It does not allocate
// once dst is big enough.
type fakeRenderer struct{}

func (fakeRenderer) Render(w *World, cam Camera, dst *efferent.Image) error {
	n := cam.H * cam.W * 3
	if cap(dst.Pix) < n {
		dst.Pix = make([]byte, n)
	}
	dst.Pix, dst.H, dst.W, dst.C = dst.Pix[:n], cam.H, cam.W, 3
	seed := byte(int(w.Gripper.Pos[0]*1000) + int(w.Gripper.Finger*1000) + len(cam.Name))
	for i := range dst.Pix {
		dst.Pix[i] = seed + byte(i)
	}
	return nil
}

func newEnv(t testing.TB, c Conf) *Env {
	t.Helper()
	var r Renderer
	if !c.NoRender {
		r = fakeRenderer{}
	}
	e, err := New(c, r)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func task(t testing.TB, suite string, i int) Task {
	t.Helper()
	ts, err := Tasks(suite)
	if err != nil {
		t.Fatal(err)
	}
	return ts[i]
}

func TestNewConf(t *testing.T) {
	e, err := New(Conf{NoRender: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c := e.Conf(); c.ImageSize != 224 || c.StepHz != 20 {
		t.Fatalf("defaults %+v", c)
	}
	for _, c := range []struct {
		conf Conf
		r    Renderer
		want string
	}{
		{Conf{}, nil, "renderer is required"},
		{Conf{ImageSize: -1}, fakeRenderer{}, "ImageSize"},
		{Conf{ImageSize: MaxImageSize + 1}, fakeRenderer{}, "ImageSize"},
		{Conf{StepHz: -20}, fakeRenderer{}, "StepHz"},
		{Conf{StepHz: math.NaN()}, fakeRenderer{}, "StepHz"},
	} {
		if _, err := New(c.conf, c.r); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%+v): error %v, want one naming %s", c.conf, err, c.want)
		}
	}
}

func TestStepErrors(t *testing.T) {
	e := newEnv(t, Conf{NoRender: true})
	if err := e.Step(make([]float64, 7)); err != ErrNotReset {
		t.Fatalf("Step before Reset: %v", err)
	}
	if err := e.Reset(task(t, SuiteGoal, 0), 0); err != nil {
		t.Fatal(err)
	}
	before := e.World().Gripper
	cases := []struct {
		action []float64
		want   string
	}{
		{nil, "0 entries, want 7"},
		{[]float64{1, 1, 1, 0, 0, 0}, "6 entries, want 7"},
		{[]float64{1, 1, 1, 0, 0, 0, 1, 0}, "8 entries, want 7"},
		{[]float64{1, 1, 1, math.NaN(), 0, 0, 1}, "action[3] is NaN"},
		{[]float64{1, 1, 1, 0, 0, 0, math.Inf(1)}, "action[6] is +Inf"},
		{[]float64{math.Inf(-1), 1, 1, 0, 0, 0, 1}, "action[0] is -Inf"},
	}
	for _, c := range cases {
		err := e.Step(c.action)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Step(%v): error %v, want %q", c.action, err, c.want)
		}
	}
	if g := e.World().Gripper; g != before || e.Steps() != 0 {
		t.Fatalf("a rejected action moved the gripper (%v → %v) or counted a step (%d)", before.Pos, g.Pos, e.Steps())
	}
	// Out-of-range entries are clipped, not rejected.
	if err := e.Step([]float64{3, 0, 0, 0, 0, 0, -1}); err != nil {
		t.Fatal(err)
	}
	if d := e.World().Gripper.Pos[0] - before.Pos[0]; !near(d, PosScale, 1e-12) {
		t.Fatalf("action 3 moved %.4f m, want the clipped %.2f", d, PosScale)
	}
}

func TestResetErrors(t *testing.T) {
	e := newEnv(t, Conf{NoRender: true})
	good := task(t, SuiteSpatial, 0)
	if err := e.Reset(good, -1); err == nil {
		t.Error("negative init accepted")
	}
	bad := good.clone()
	bad.Scene = append(bad.Scene, "unicorn")
	if err := e.Reset(bad, 0); err == nil || !strings.Contains(err.Error(), "unicorn") {
		t.Errorf("unknown object: %v", err)
	}
	bad = good.clone()
	bad.MaxSteps = 0
	if err := e.Reset(bad, 0); err == nil || !strings.Contains(err.Error(), "MaxSteps") {
		t.Errorf("MaxSteps 0: %v", err)
	}
	bad = good.clone()
	bad.Goals = []Goal{{Kind: GoalIn, Object: "red block", Target: "purple bowl"}}
	if err := e.Reset(bad, 0); err == nil || !strings.Contains(err.Error(), "purple bowl") {
		t.Errorf("goal naming an absent object: %v", err)
	}
}

func TestObserve(t *testing.T) {
	e := newEnv(t, Conf{ImageSize: 64})
	var obs efferent.Observation
	if err := e.Observe(&obs); err != ErrNotReset {
		t.Fatalf("Observe before Reset: %v", err)
	}
	tk := task(t, SuiteLong, 0)
	if err := e.Reset(tk, 3); err != nil {
		t.Fatal(err)
	}
	if err := e.Observe(&obs); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{AgentViewKey, WristViewKey} {
		im, ok := obs.Images[k]
		if !ok || im.Validate() != nil || im.H != 64 || im.W != 64 || im.C != 3 {
			t.Fatalf("%s: %+v", k, im.Validate())
		}
	}
	if obs.Prompt != tk.Instruction || len(obs.State) != StateDim || obs.Seq != 1 || !obs.Time.Equal(SimEpoch) {
		t.Fatalf("prompt %q state %v seq %d time %v", obs.Prompt, obs.State, obs.Seq, obs.Time)
	}
	g := e.World().Gripper
	want := []float64{g.Pos[0], g.Pos[1], g.Pos[2], math.Pi, 0, 0, FingerOpen, -FingerOpen}
	for i := range want {
		if !near(obs.State[i], want[i], 1e-12) {
			t.Fatalf("state %v, want %v", obs.State, want)
		}
	}
	// Virtual time advances by 1/StepHz per step, across resets too.
	e.Step([]float64{0, 0, 0, 0, 0, 0, -1})
	e.Reset(tk, 4)
	e.Step([]float64{0, 0, 0, 0, 0, 0, -1})
	e.Observe(&obs)
	if d := obs.Time.Sub(SimEpoch); d.Milliseconds() != 100 || obs.Seq != 2 {
		t.Fatalf("time +%v seq %d, want +100ms and 2", d, obs.Seq)
	}
	// NoRender drops the image keys.
	nr := newEnv(t, Conf{NoRender: true})
	nr.Reset(tk, 3)
	if err := nr.Observe(&obs); err != nil {
		t.Fatal(err)
	}
	if len(obs.Images) != 0 {
		t.Fatalf("NoRender left %d images", len(obs.Images))
	}
}

// TestStepObserveAllocs: the steady-state loop allocates nothing.
func TestStepObserveAllocs(t *testing.T) {
	for _, c := range []Conf{{NoRender: true}, {ImageSize: 32}} {
		e := newEnv(t, c)
		if err := e.Reset(task(t, SuiteLong, 3), 0); err != nil {
			t.Fatal(err)
		}
		x := NewExpert()
		a := make([]float64, ActionDim)
		var obs efferent.Observation
		e.Observe(&obs)
		allocs := testing.AllocsPerRun(50, func() {
			x.Act(e.World(), a)
			if err := e.Step(a); err != nil {
				t.Fatal(err)
			}
			if err := e.Observe(&obs); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%+v: %.1f allocations per step+observe", c, allocs)
		}
	}
}

// trajectory runs the expert and returns every state and the final world.
func trajectory(t *testing.T, tk Task, init int) ([]float64, []Object) {
	e := newEnv(t, Conf{NoRender: true})
	if err := e.Reset(tk, init); err != nil {
		t.Fatal(err)
	}
	x := NewExpert()
	a := make([]float64, ActionDim)
	var states []float64
	for !e.Done() {
		states = e.State(states)
		x.Act(e.World(), a)
		e.Step(a)
	}
	return states, append([]Object(nil), e.World().Objects...)
}

func TestDeterminism(t *testing.T) {
	for _, su := range Suites() {
		tk := task(t, su, 7)
		s1, w1 := trajectory(t, tk, 11)
		s2, w2 := trajectory(t, tk, 11)
		if len(s1) != len(s2) {
			t.Fatalf("%s: %d vs %d states", su, len(s1), len(s2))
		}
		for i := range s1 {
			if s1[i] != s2[i] {
				t.Fatalf("%s: state value %d differs: %v vs %v", su, i, s1[i], s2[i])
			}
		}
		for i := range w1 {
			if w1[i] != w2[i] {
				t.Fatalf("%s: final object %d differs", su, i)
			}
		}
		// Another init is another layout.
		e := newEnv(t, Conf{NoRender: true})
		e.Reset(tk, 12)
		for i := range w1 {
			if e.World().Objects[i].Start == w1[i].Start {
				t.Fatalf("%s: %s starts at the same place in inits 11 and 12", su, w1[i].Name)
			}
		}
	}
}

// TestSuccessLatched: once the goals hold, Success stays true even if the
// policy undoes them (LIBERO ends the episode at the first success).
func TestSuccessLatched(t *testing.T) {
	e := newEnv(t, Conf{NoRender: true})
	tk := task(t, SuiteGoal, 7) // pick up the blue block
	if tk.Goals[0].Kind != GoalLift {
		t.Fatalf("goal task 7 is %v", tk.Goals)
	}
	e.Reset(tk, 0)
	x := NewExpert()
	a := make([]float64, ActionDim)
	for !e.Done() {
		x.Act(e.World(), a)
		e.Step(a)
	}
	if !e.Success() || !e.World().Success() {
		t.Fatal("expert did not lift the block")
	}
	for range 10 {
		e.Step([]float64{0, 0, 0, 0, 0, 0, -1}) // drop it
	}
	if e.World().Success() || !e.Success() || !e.Done() {
		t.Fatalf("world success %v, latched %v", e.World().Success(), e.Success())
	}
}
