package sim

import (
	"testing"
)

// runExpert plays one episode with the expert and returns success and steps.
func runExpert(t testing.TB, e *Env, task Task, init int) (bool, int) {
	t.Helper()
	if err := e.Reset(task, init); err != nil {
		t.Fatal(err)
	}
	x := NewExpert()
	a := make([]float64, ActionDim)
	for !e.Done() {
		x.Act(e.World(), a)
		if err := e.Step(a); err != nil {
			t.Fatal(err)
		}
	}
	return e.Success(), e.Steps()
}

// TestExpertSuccess runs every task of every suite from every evaluation
// initial state (10 under -short) and requires the expert to succeed at
// least 95 % of the time per suite. Without rendering this takes well under
// a second.
func TestExpertSuccess(t *testing.T) {
	inits := NumInitStates
	if testing.Short() {
		inits = 10
	}
	e, err := New(Conf{NoRender: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, suite := range Suites() {
		tasks, err := Tasks(suite)
		if err != nil {
			t.Fatal(err)
		}
		ok, n, steps := 0, 0, 0
		for _, task := range tasks {
			for init := range inits {
				s, st := runExpert(t, e, task, init)
				n++
				steps += st
				if s {
					ok++
				} else {
					t.Logf("%s init %d: failed after %d steps", task.Name, init, st)
				}
			}
		}
		rate := float64(ok) / float64(n)
		t.Logf("suite %-7s expert success %d/%d = %.1f %% (mean %.0f steps)", suite, ok, n, 100*rate, float64(steps)/float64(n))
		if rate < 0.95 {
			t.Errorf("suite %s: expert success %.1f %% < 95 %%", suite, 100*rate)
		}
	}
}

// TestExpertRecoversOrientation: starting from a gripper that a policy has
// turned and tilted (and half closed), the expert rights it and succeeds.
func TestExpertRecoversOrientation(t *testing.T) {
	e, _ := New(Conf{NoRender: true}, nil)
	for _, su := range Suites() {
		tk := task(t, su, 1)
		if err := e.Reset(tk, 2); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if err := e.Step([]float64{0.2, -0.1, 0, 0.4, -0.3, 0.9, 0}); err != nil {
				t.Fatal(err)
			}
		}
		if aa := e.World().Gripper.Quat.AxisAngle(); aa.Sub(Vec3{3.14159, 0, 0}).Norm() < 0.5 {
			t.Fatalf("setup did not turn the gripper: %v", aa)
		}
		x := NewExpert()
		a := make([]float64, ActionDim)
		for !e.Done() {
			x.Act(e.World(), a)
			if err := e.Step(a); err != nil {
				t.Fatal(err)
			}
		}
		if !e.Success() {
			t.Errorf("%s: expert failed after the gripper was turned", tk.Name)
		}
	}
}
