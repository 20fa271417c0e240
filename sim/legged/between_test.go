package legged

import (
	"math"
	"strings"
	"testing"
)

// TestExpertGoesBetween: on "go between the two walls" tasks the expert's
// path runs between the walls, not around them: while the base is beside
// the walls (within their length) it is between their centre lines.
func TestExpertGoesBetween(t *testing.T) {
	e, _ := New(Conf{NoRender: true}, nil)
	x := NewExpert()
	ts, _ := Tasks(SuiteObstacle)
	n := 0
	for _, task := range ts {
		if !strings.Contains(task.Instruction, "between the two walls") {
			continue
		}
		n++
		for i := range 10 {
			if err := e.Reset(task, i); err != nil {
				t.Fatal(err)
			}
			var walls []Object
			for _, o := range e.World().Objects {
				if o.Kind == Wall {
					walls = append(walls, o)
				}
			}
			lo, hi := math.Min(walls[0].Pos[1], walls[1].Pos[1]), math.Max(walls[0].Pos[1], walls[1].Pos[1])
			beside := false
			a := make([]float64, CommandDim)
			for !e.Done() {
				a = x.Act(e, a)
				_ = e.Step(a)
				b := e.World().Base
				if math.Abs(b.Pos[0]-walls[0].Pos[0]) < walls[0].Size[0]/2 {
					beside = true
					if b.Pos[1] < lo || b.Pos[1] > hi {
						t.Fatalf("%s init %d: beside the walls at y = %.2f, outside [%.2f, %.2f]", task.Name, i, b.Pos[1], lo, hi)
					}
				}
			}
			if !beside {
				t.Errorf("%s init %d: never passed the walls", task.Name, i)
			}
		}
	}
	if n != 2 {
		t.Errorf("%d between-walls tasks, want 2", n)
	}
}
