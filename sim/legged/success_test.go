package legged

import (
	"math"
	"testing"
)

// placeNear puts the base gap metres from the goal object, on the side
// facing the start, and facing it.
func placeNear(e *Env, gap float64) {
	g := &e.w.Objects[e.goal]
	b := &e.w.Base
	dx, dy := b.Pos[0]-g.Pos[0], b.Pos[1]-g.Pos[1]
	d := math.Hypot(dx, dy)
	for r := 0.0; ; r += 0.001 {
		x, y := g.Pos[0]+dx/d*r, g.Pos[1]+dy/d*r
		if FootprintDist(g, x, y)-BodyRadius >= gap {
			b.Pos[0], b.Pos[1] = x, y
			break
		}
	}
	b.Yaw = math.Atan2(-dy, -dx)
}

func TestSuccessNeedsStill(t *testing.T) {
	task, _ := FindTask("quadruped-goto/0")
	e := newEnv(t, task)
	placeNear(e, 0.2)
	e.w.Base.Vel = [3]float64{0.5, 0, 0}
	_ = e.Step(cmd(0, 0.5, 0, NominalHeight)) // sideways past it, still moving
	if e.Success() {
		t.Fatal("success while moving")
	}
	for range 100 {
		_ = e.Step(cmd(0, 0, 0, NominalHeight))
	}
	if !e.Success() || !e.Done() {
		t.Errorf("no success standing %.2f m from the goal", e.w.Base.Gap(&e.w.Objects[e.goal]))
	}

	e = newEnv(t, task)
	placeNear(e, 0.3)
	e.w.Base.Vel = [3]float64{0.6, 0, 0}
	c := cmd(0, 0, 0, NominalHeight)
	c[CmdStop] = 1
	_ = e.Step(c)
	if !e.Success() {
		t.Error("no success with the stop flag at the goal")
	}

	e = newEnv(t, task)
	placeNear(e, 0.6)
	for range 100 {
		_ = e.Step(c)
	}
	if e.Success() {
		t.Error("success 0.6 m from the goal")
	}
}

func TestSuccessNeedsBar(t *testing.T) {
	task, _ := FindTask("quadruped-posture/0")
	e := newEnv(t, task)
	placeNear(e, 0.2) // teleported: never passed under the bar
	c := cmd(0, 0, 0, NominalHeight)
	c[CmdStop] = 1
	for range 50 {
		_ = e.Step(c)
	}
	if e.Success() {
		t.Error("success without passing under the bar")
	}
}

func TestFalsePremiseSuccess(t *testing.T) {
	fps, _ := FalsePremiseTasks(SuiteGoto)
	e := newEnv(t, fps[0])
	for range FalsePremiseHold - 1 {
		_ = e.Step(cmd(0, 0, 0.5, NominalHeight)) // turning on the spot is fine
	}
	if e.Success() {
		t.Fatal("success before FalsePremiseHold steps")
	}
	_ = e.Step(cmd(0, 0, 0, NominalHeight))
	if !e.Success() {
		t.Fatal("no success holding still")
	}
	e = newEnv(t, fps[0])
	for range 20 {
		_ = e.Step(cmd(0.5, 0, 0, NominalHeight))
	}
	for range 2 * FalsePremiseHold {
		_ = e.Step(cmd(-0.5, 0, 0, NominalHeight))
	}
	if e.Success() {
		t.Error("success after moving away")
	}
}
