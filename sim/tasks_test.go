package sim

import (
	"strings"
	"testing"
)

func TestSuites(t *testing.T) {
	wantSteps := map[string]int{"spatial": 220, "object": 280, "goal": 300, "long": 520}
	if got := strings.Join(Suites(), ","); got != "spatial,object,goal,long" {
		t.Fatalf("Suites() = %s", got)
	}
	names := map[string]bool{}
	for _, su := range Suites() {
		ts, err := Tasks(su)
		if err != nil {
			t.Fatal(err)
		}
		if len(ts) != 10 {
			t.Fatalf("%s has %d tasks", su, len(ts))
		}
		instr := map[string]bool{}
		for i, tk := range ts {
			if tk.Suite != su || tk.Index != i || tk.MaxSteps != wantSteps[su] || tk.FalsePremise || tk.Missing != "" {
				t.Errorf("%s[%d]: %+v", su, i, tk)
			}
			if names[tk.Name] || instr[tk.Instruction] {
				t.Errorf("%s[%d]: name %q or instruction %q repeats", su, i, tk.Name, tk.Instruction)
			}
			names[tk.Name], instr[tk.Instruction] = true, true
			if err := tk.Validate(); err != nil {
				t.Error(err)
			}
			// Every object a goal names appears in the instruction.
			for _, g := range tk.Goals {
				if !strings.Contains(tk.Instruction, g.Object) {
					t.Errorf("%s: instruction does not name %q", tk.Name, g.Object)
				}
			}
			if su == SuiteLong && len(tk.Goals) != 2 {
				t.Errorf("%s: %d goals, want two steps", tk.Name, len(tk.Goals))
			}
		}
	}
	// Tasks hands out copies.
	a, _ := Tasks(SuiteGoal)
	a[0].Goals[0].Object = "changed"
	a[0].Scene[0] = "changed"
	if b, _ := Tasks(SuiteGoal); b[0].Goals[0].Object == "changed" || b[0].Scene[0] == "changed" {
		t.Fatal("modifying a returned task changed the suite")
	}
	_, err := Tasks("libero_90")
	if err == nil || !strings.Contains(err.Error(), `"libero_90"`) || !strings.Contains(err.Error(), "spatial, object, goal, long") {
		t.Fatalf("unknown suite error: %v", err)
	}
	if _, err := FalsePremiseTasks("nope"); err == nil {
		t.Fatal("FalsePremiseTasks accepted an unknown suite")
	}
}

func TestFindTask(t *testing.T) {
	for _, c := range []struct {
		query, suite string
		index        int
		fp           bool
	}{
		{"put the red block in the blue bowl", SuiteSpatial, 0, false}, // also goal/0: first suite wins
		{"stack the green block on the yellow block", SuiteGoal, 2, false},
		{"push the plate to the left", SuiteGoal, 3, false},
		{"goal/put_the_red_block_in_the_blue_bowl", SuiteGoal, 0, false},
		{"long/push_the_plate_to_the_left_and_put_the_orange_block_on_it/false_premise", SuiteLong, 3, true},
	} {
		tk, ok := FindTask(c.query)
		if !ok || tk.Suite != c.suite || tk.Index != c.index || tk.FalsePremise != c.fp {
			t.Errorf("FindTask(%q) = %s/%d fp=%v ok=%v", c.query, tk.Suite, tk.Index, tk.FalsePremise, ok)
		}
	}
	if _, ok := FindTask("put the red block in the green bowl"); ok {
		t.Error("found a task that does not exist")
	}
}

func TestFalsePremise(t *testing.T) {
	e := newEnv(t, Conf{NoRender: true})
	for _, su := range Suites() {
		base, _ := Tasks(su)
		fps, err := FalsePremiseTasks(su)
		if err != nil {
			t.Fatal(err)
		}
		for i, fp := range fps {
			if !fp.FalsePremise || fp.Missing == "" || fp.Instruction != base[i].Instruction || fp.Name == base[i].Name {
				t.Fatalf("%s: %+v", fp.Name, fp)
			}
			if !strings.Contains(fp.Instruction, fp.Missing) {
				t.Fatalf("%s: instruction does not name the missing %q", fp.Name, fp.Missing)
			}
			// Same layout as the base task, minus the missing object.
			e.Reset(base[i], 5)
			want := map[string]Vec3{}
			for _, o := range e.World().Objects {
				want[o.Name] = o.Pos
			}
			e.Reset(fp, 5)
			w := e.World()
			if w.Index(fp.Missing) >= 0 || len(w.Objects) != len(want)-1 {
				t.Fatalf("%s: %q is on the table", fp.Name, fp.Missing)
			}
			for _, o := range w.Objects {
				if want[o.Name] != o.Pos {
					t.Fatalf("%s: %s at %v, base layout has it at %v", fp.Name, o.Name, o.Pos, want[o.Name])
				}
			}
			// Nothing succeeds: neither the expert nor flailing.
			x := NewExpert()
			a := make([]float64, ActionDim)
			for !e.Done() {
				x.Act(w, a)
				if e.Steps()%7 == 3 {
					a[0], a[6] = 1, 1
				}
				e.Step(a)
			}
			if e.Success() {
				t.Fatalf("%s succeeded", fp.Name)
			}
			if e.Steps() != fp.MaxSteps {
				t.Fatalf("%s: done after %d steps", fp.Name, e.Steps())
			}
		}
	}
}

// TestLayouts checks every evaluation initial state of every task: objects
// on the table, inside the drawing region (up to jitter), apart from each
// other, the gripper near home, no goal already met, and each init
// distinct.
func TestLayouts(t *testing.T) {
	e := newEnv(t, Conf{NoRender: true})
	for _, su := range Suites() {
		ts, _ := Tasks(su)
		for _, tk := range ts {
			seen := map[Vec3]bool{}
			for init := range NumInitStates {
				if err := e.Reset(tk, init); err != nil {
					t.Fatal(err)
				}
				w := e.World()
				if e.Success() || w.Success() {
					t.Fatalf("%s init %d: succeeds at reset", tk.Name, init)
				}
				for i := range w.Objects {
					o := &w.Objects[i]
					if o.On != OnTable || o.Pos[2] != TableZ {
						t.Fatalf("%s init %d: %s not on the table", tk.Name, init, o.Name)
					}
					for k := range 2 {
						if o.Pos[k]-o.Radius() < regionMin[k]-jitterPos-1e-9 || o.Pos[k]+o.Radius() > regionMax[k]+jitterPos+1e-9 {
							t.Fatalf("%s init %d: %s at %v leaves the region", tk.Name, init, o.Name, o.Pos)
						}
					}
				}
				if !separated(w.Objects, jitterGap-1e-9) {
					t.Fatalf("%s init %d: objects too close", tk.Name, init)
				}
				if g := w.Gripper.Pos; g.Sub(HomePos).Norm() > startJitter*2 {
					t.Fatalf("%s init %d: gripper starts at %v", tk.Name, init, g)
				}
				if p := w.Objects[0].Pos; seen[p] {
					t.Fatalf("%s init %d repeats an earlier layout", tk.Name, init)
				} else {
					seen[p] = true
				}
			}
		}
	}
}
