package legged

import (
	"slices"
	"strconv"
	"testing"
)

func TestSuites(t *testing.T) {
	want := []string{"quadruped-goto", "quadruped-obstacle", "quadruped-posture"}
	if got := Suites(); !slices.Equal(got, want) {
		t.Fatalf("Suites() = %v, want %v", got, want)
	}
	names := map[string]bool{}
	for _, su := range Suites() {
		ts, err := Tasks(su)
		if err != nil {
			t.Fatal(err)
		}
		fps, err := FalsePremiseTasks(su)
		if err != nil {
			t.Fatal(err)
		}
		if len(ts) != TasksPerSuite || len(fps) != TasksPerSuite {
			t.Fatalf("%s: %d tasks, %d false-premise, want %d", su, len(ts), len(fps), TasksPerSuite)
		}
		for i, task := range append(ts, fps...) {
			if names[task.Name] {
				t.Errorf("duplicate task name %q", task.Name)
			}
			names[task.Name] = true
			if err := task.Validate(); err != nil {
				t.Error(err)
			}
			if i < TasksPerSuite && task.Index != i {
				t.Errorf("%s: Index %d, want %d", task.Name, task.Index, i)
			}
			if got, ok := FindTask(task.Name); !ok || got.Name != task.Name || got.FalsePremise != task.FalsePremise {
				t.Errorf("FindTask(%q) = %q, %v", task.Name, got.Name, ok)
			}
		}
		for i, task := range fps {
			if !task.FalsePremise || task.Missing != ts[i].Goal || task.Instruction != ts[i].Instruction {
				t.Errorf("%s: bad false-premise variant %+v", task.Name, task)
			}
			if slices.ContainsFunc(task.Scene, func(p Placed) bool { return p.Name == task.Missing }) {
				t.Errorf("%s: missing object %q is on the scene", task.Name, task.Missing)
			}
		}
		if got, ok := FindTask(ts[2].Instruction); !ok || got.Instruction != ts[2].Instruction || got.FalsePremise {
			t.Errorf("FindTask(%q) = %q, %v", ts[2].Instruction, got.Name, ok)
		}
		if got, ok := FindTask(su + "/3"); !ok || got.Name != ts[3].Name {
			t.Errorf("FindTask(%s/3) = %q, %v", su, got.Name, ok)
		}
	}
	if _, err := Tasks("nope"); err == nil {
		t.Error("Tasks(nope): no error")
	}
	for _, s := range []string{"nope", "quadruped-goto/8", "quadruped-goto/-1"} {
		if _, ok := FindTask(s); ok {
			t.Errorf("FindTask(%q) found a task", s)
		}
	}
}

func TestValidateRejects(t *testing.T) {
	task, _ := FindTask("quadruped-goto/0")
	bad := task.clone()
	bad.Goal = "purple chair"
	if bad.Validate() == nil {
		t.Error("goal not on the scene: no error")
	}
	bad = task.clone()
	bad.Instruction = "go to the red ball past the green box"
	if bad.Validate() == nil {
		t.Error("instruction names an absent green box: no error")
	}
	bad = task.clone()
	bad.Scene[1].Pos = bad.Scene[0].Pos
	if bad.Validate() == nil {
		t.Error("overlapping objects: no error")
	}
	bad = task.clone()
	bad.Scene[0].Pos[0], bad.Scene[0].Pos[1] = task.Start[0]+0.3, task.Start[1]
	if bad.Validate() == nil {
		t.Error("object on the start: no error")
	}
}

// TestResetDeterministic: the state after Reset is a pure function of
// (task, init), different inits differ, and no init starts in contact.
func TestResetDeterministic(t *testing.T) {
	e1, _ := New(Conf{NoRender: true}, nil)
	e2, _ := New(Conf{NoRender: true}, nil)
	for _, su := range Suites() {
		ts, _ := Tasks(su)
		fps, _ := FalsePremiseTasks(su)
		for _, task := range append(ts, fps...) {
			seen := map[string]bool{}
			for i := range NumInitStates {
				if err := e1.Reset(task, i); err != nil {
					t.Fatal(err)
				}
				// Another env, after another episode, must agree.
				if err := e2.Reset(task, i+1); err != nil {
					t.Fatal(err)
				}
				if err := e2.Reset(task, i); err != nil {
					t.Fatal(err)
				}
				w1, w2 := e1.World(), e2.World()
				if w1.Base != w2.Base || !slices.Equal(w1.Objects, w2.Objects) {
					t.Fatalf("%s init %d: two resets differ", task.Name, i)
				}
				key := strconv.FormatFloat(w1.Base.Pos[0], 'g', -1, 64) + "/" + strconv.FormatFloat(w1.Objects[0].Pos[1], 'g', -1, 64)
				if seen[key] {
					t.Errorf("%s init %d: same layout as an earlier init", task.Name, i)
				}
				seen[key] = true
				for j := range w1.Objects {
					o := &w1.Objects[j]
					for k := range j {
						if p := &w1.Objects[k]; objGap(o, p) <= 0 {
							t.Errorf("%s init %d: %s and %s overlap", task.Name, i, o.Name, p.Name)
						}
					}
					if c := clearance(o, w1.Base.Pos[0], w1.Base.Pos[1], BodyRadius, w1.Base.Pos[2]+BodyThickness/2); c < 0.1 {
						t.Errorf("%s init %d: base starts %.2f m from %s", task.Name, i, c, o.Name)
					}
				}
			}
		}
	}
	// The false-premise layout is the base layout minus the goal.
	task, _ := FindTask("quadruped-obstacle/0")
	fp := falsePremise(task.clone())
	_ = e1.Reset(task, 7)
	_ = e2.Reset(fp, 7)
	want := slices.DeleteFunc(slices.Clone(e1.World().Objects), func(o Object) bool { return o.Name == task.Goal })
	if !slices.Equal(want, e2.World().Objects) || e1.World().Base != e2.World().Base {
		t.Error("false-premise layout is not the base layout minus the goal")
	}
}
