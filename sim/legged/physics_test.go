package legged

import (
	"math"
	"testing"

	"github.com/efferent/efferent/sim"
)

// minClearance returns the smallest clearance between the base and any
// object (as the base's top sees bars) and the arena's walls.
func minClearance(w *World) float64 {
	b := &w.Base
	g := w.Half - BodyRadius - math.Max(math.Abs(b.Pos[0]), math.Abs(b.Pos[1]))
	for i := range w.Objects {
		g = math.Min(g, clearance(&w.Objects[i], b.Pos[0], b.Pos[1], BodyRadius, b.Pos[2]+BodyThickness/2))
	}
	return g
}

// TestCollisionBox drives straight into a box for 200 steps: the base
// never overlaps it, stops at it, and counts the refused moves.
func TestCollisionBox(t *testing.T) {
	task := Task{Suite: "test", Name: "test/box", Instruction: "go to the red cone", MaxSteps: 100000,
		Start: [3]float64{-1, 0, 0}, Goal: "red cone",
		Scene: []Placed{box("gray", 0.5, 0, 0.5, 0.8, 0.3), cone("red", 3.5, 3.5)}}
	e := newEnv(t, task)
	for i := range 200 {
		_ = e.Step(cmd(1, 0, 0, NominalHeight))
		if g := minClearance(&e.w); g < 0 {
			t.Fatalf("step %d: base overlaps by %v", i, -g)
		}
	}
	if e.Collisions() == 0 {
		t.Fatal("no collision counted")
	}
	if g := FootprintDist(&e.w.Objects[0], e.w.Base.Pos[0], e.w.Base.Pos[1]) - BodyRadius; g > 0.03 {
		t.Errorf("stopped %.3f m short of the box", g)
	}
	if e.w.Base.Vel[0] > MaxAccel/e.conf.StepHz+1e-12 {
		t.Errorf("still pushing at %v m/s", e.w.Base.Vel[0])
	}
	t.Logf("%d collisions in 200 steps, stopped %.3f m from the box", e.Collisions(), e.w.Base.Gap(&e.w.Objects[0]))
}

// TestCollisionArena: the arena's walls stop the base too.
func TestCollisionArena(t *testing.T) {
	e := newEnv(t, Task{Suite: "test", Name: "test/arena", Instruction: "go to the red cone", MaxSteps: 100000,
		Start: [3]float64{2.5, -2.5, -0.7}, Scene: []Placed{cone("red", -3.5, 3.5)}, Goal: "red cone"})
	for i := range 400 {
		_ = e.Step(cmd(1, 0.5, 0, NominalHeight))
		if g := minClearance(&e.w); g < 0 {
			t.Fatalf("step %d: base %.3f m outside the arena", i, -g)
		}
	}
	if e.Collisions() == 0 {
		t.Error("no collision with the arena wall")
	}
}

func barTask() Task {
	return Task{Suite: "test", Name: "test/bar", Instruction: "crawl under the bar and go to the red cone", MaxSteps: 100000,
		Start: [3]float64{-1.5, 0, 0}, Goal: "red cone", UnderBars: true,
		Scene: append(gate(0, 0, 0.30, false, 1), cone("red", 2, 2))}
}

// TestBar: at nominal height the bar stops the base; at crawl height it
// passes under, cannot stand up there, and the crossing is recorded.
func TestBar(t *testing.T) {
	e := newEnv(t, barTask())
	for i := range 300 {
		_ = e.Step(cmd(1, 0, 0, NominalHeight))
		if g := minClearance(&e.w); g < 0 {
			t.Fatalf("step %d: overlaps by %v", i, -g)
		}
	}
	if e.w.Base.Pos[0] > -BodyRadius+1e-9 || e.Collisions() == 0 || e.PassedBars() {
		t.Fatalf("nominal height: x = %v, collisions %d, passed %v", e.w.Base.Pos[0], e.Collisions(), e.PassedBars())
	}

	e = newEnv(t, barTask())
	for i := range 600 {
		h := 0.18
		if e.w.Base.Pos[0] > -0.1 && e.w.Base.Pos[0] < 0.1 {
			h = MaxHeight // try to stand up under the bar
		}
		_ = e.Step(cmd(1, 0, 0, h))
		if g := minClearance(&e.w); g < 0 {
			t.Fatalf("step %d: overlaps by %v at height %v", i, -g, e.w.Base.Pos[2])
		}
		if under, hmax := e.w.underBar(e.w.Base.Pos[0], e.w.Base.Pos[1]); under && e.w.Base.Pos[2] > hmax+1e-12 {
			t.Fatalf("step %d: stood up to %v under the bar", i, e.w.Base.Pos[2])
		}
	}
	if e.w.Base.Pos[0] < 1 || e.Collisions() != 0 || !e.PassedBars() {
		t.Errorf("crawl: x = %v, collisions %d, passed %v", e.w.Base.Pos[0], e.Collisions(), e.PassedBars())
	}
}

// TestNeverPenetrates drives random commands (a fixed seed) through every
// task's initial states and checks the base never overlaps anything.
func TestNeverPenetrates(t *testing.T) {
	e, _ := New(Conf{NoRender: true}, nil)
	r := sim.NewRNG(42)
	inits := 5
	if testing.Short() {
		inits = 2
	}
	coll := 0
	for _, su := range Suites() {
		ts, _ := Tasks(su)
		for _, task := range ts {
			for i := range inits {
				if err := e.Reset(task, i); err != nil {
					t.Fatal(err)
				}
				c := make([]float64, CommandDim)
				for s := range 1500 {
					if s%25 == 0 {
						for k := range c {
							c[k] = r.Uniform(-1.5, 1.5)
						}
						c[CmdVX] = r.Uniform(-0.2, 1.5) // mostly forward, to reach things
						c[CmdHeight] = r.Uniform(0.1, 0.35)
						c[CmdGaitHz] = r.Uniform(0, 5)
						c[CmdStop] = r.Uniform(-4, 1)
					}
					_ = e.Step(c)
					if g := minClearance(&e.w); g < 0 {
						t.Fatalf("%s init %d step %d: overlaps by %v", task.Name, i, s, -g)
					}
				}
				coll += e.Collisions()
			}
		}
	}
	if coll == 0 {
		t.Error("random driving never collided: the test is not testing")
	}
	t.Logf("%d refused moves", coll)
}
