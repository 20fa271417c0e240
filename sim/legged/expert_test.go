package legged

import (
	"testing"
)

// runExpert plays one episode with the expert; it returns success, steps
// and collisions.
func runExpert(t testing.TB, e *Env, x *Expert, task Task, init int) (bool, int, int) {
	t.Helper()
	if err := e.Reset(task, init); err != nil {
		t.Fatal(err)
	}
	a := make([]float64, CommandDim)
	for !e.Done() {
		a = x.Act(e, a)
		if err := e.Step(a); err != nil {
			t.Fatal(err)
		}
	}
	return e.Success(), e.Steps(), e.Collisions()
}

// TestExpertSuccess runs every task of every suite from NumInitStates
// initial states (10 under -short) and requires ≥ 95 % success per suite.
func TestExpertSuccess(t *testing.T) {
	inits := NumInitStates
	if testing.Short() {
		inits = 10
	}
	e, err := New(Conf{NoRender: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	x := NewExpert()
	for _, suite := range Suites() {
		tasks, err := Tasks(suite)
		if err != nil {
			t.Fatal(err)
		}
		ok, n := 0, 0
		for _, task := range tasks {
			tok, steps, coll := 0, 0, 0
			for i := range inits {
				s, st, c := runExpert(t, e, x, task, i)
				if s {
					tok++
				}
				steps += st
				coll += c
			}
			t.Logf("%s: %d/%d (%.0f%%), mean steps %.0f, collisions %d", task.Name, tok, inits, 100*float64(tok)/float64(inits), float64(steps)/float64(inits), coll)
			ok += tok
			n += inits
		}
		rate := float64(ok) / float64(n)
		t.Logf("suite %s: %d/%d = %.1f%%", suite, ok, n, 100*rate)
		if rate < 0.95 {
			t.Errorf("suite %s: expert success %.1f%% < 95%%", suite, 100*rate)
		}
	}
}

// TestExpertFalsePremise: on every false-premise task the expert never
// moves the base, and so succeeds.
func TestExpertFalsePremise(t *testing.T) {
	e, err := New(Conf{NoRender: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	x := NewExpert()
	inits := 5
	for _, suite := range Suites() {
		tasks, err := FalsePremiseTasks(suite)
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range tasks {
			for i := range inits {
				if err := e.Reset(task, i); err != nil {
					t.Fatal(err)
				}
				x0 := e.World().Base.Pos
				a := make([]float64, CommandDim)
				for !e.Done() {
					a = x.Act(e, a)
					if a[CmdStop] < StopFlag {
						t.Fatalf("%s init %d step %d: no stop flag: %v", task.Name, i, e.Steps(), a)
					}
					if err := e.Step(a); err != nil {
						t.Fatal(err)
					}
					if p := e.World().Base.Pos; p != x0 {
						t.Fatalf("%s init %d step %d: base moved from %v to %v", task.Name, i, e.Steps(), x0, p)
					}
				}
				if !e.Success() {
					t.Errorf("%s init %d: no success after %d steps", task.Name, i, e.Steps())
				}
			}
		}
	}
}

// TestExpertDeterministic: the same (task, init) gives the same episode,
// whatever the expert and env did before.
func TestExpertDeterministic(t *testing.T) {
	task, _ := FindTask("quadruped-obstacle/0")
	other, _ := FindTask("quadruped-posture/5")
	e, _ := New(Conf{NoRender: true}, nil)
	x := NewExpert()
	runExpert(t, e, x, task, 3)
	b1, n1 := e.World().Base, e.Steps()
	runExpert(t, e, x, other, 3)
	runExpert(t, e, x, task, 3)
	if b2, n2 := e.World().Base, e.Steps(); b1 != b2 || n1 != n2 {
		t.Errorf("episodes differ: %v in %d steps, then %v in %d", b1, n1, b2, n2)
	}
}
