package sim

import "math"

// Expert is a scripted policy that solves every task from privileged state
// (World). It works through the world's goals in order; each is a small
// state machine:
//
//   - put (in/on/stack): approach above the object at SafeHeight, descend
//     to its middle, close, lift, carry above the place point, descend to
//     just above the support, open, retreat upward;
//   - push: close the fingers, go above a point behind the object (on the
//     side away from the push direction), descend to table height, sweep
//     along the direction until the object has moved far enough, retreat;
//   - lift: grasp as for put, then raise and hold.
//
// The gripper only moves horizontally at SafeHeight, so it never pushes
// anything by accident. Actions are LIBERO-style 7-d vectors in [−1, 1]
// with translation limited to ExpertSpeed, so a policy can learn from them.
// A failed grasp (fingers closed on nothing) starts the goal over.
type Expert struct {
	goal  int
	phase phase
	// waited counts steps in a phase that waits on the fingers.
	waited int
}

type phase int

const (
	phApproach phase = iota
	phDescend
	phClose
	phLift
	phCarry
	phLower
	phRelease
	phRetreat
	phSweep
)

// Expert motion parameters.
const (
	// SafeHeight is the grip point's height above the table for
	// horizontal moves: above any stack and any held object's base.
	SafeHeight = 0.15
	// ExpertSpeed bounds each translation entry of an expert action
	// (0.5 → 2.5 cm per step).
	ExpertSpeed = 0.5
	// pushHeight is the grip point's height above the table while pushing:
	// below the top of the lowest pushable object (the plate).
	pushHeight = 0.007
	arrived    = 1e-3 // metres; the kinematic arm reaches targets exactly
)

// NewExpert returns an expert ready for a new episode.
func NewExpert() *Expert { return &Expert{} }

// Reset prepares the expert for a new episode.
func (x *Expert) Reset() { *x = Expert{} }

// Act writes the next action for w into dst[:7] (dst must have at least 7
// entries). When every goal is done, or a goal names an object that is not
// on the table, it holds still with the gripper open.
func (x *Expert) Act(w *World, dst []float64) {
	a := dst[:ActionDim]
	clear(a)
	g := &w.Gripper
	// Keep the gripper pointing down (a no-op unless something turned it).
	rot := RestQuat.Mul(g.Quat.Conj()).shortAxisAngle()
	for k := range 3 {
		a[3+k] = clamp(rot[k]/RotScale, -ExpertSpeed, ExpertSpeed)
	}
	for x.goal < len(w.Goals) && x.phase == phApproach && w.Holds(w.Goals[x.goal]) {
		x.goal++
	}
	if x.goal >= len(w.Goals) {
		a[6] = -1
		return
	}
	goal := w.Goals[x.goal]
	i := w.Index(goal.Object)
	if i < 0 {
		a[6] = -1 // false premise: nothing to do
		return
	}
	if goal.Kind == GoalPush {
		x.push(w, i, goal, a)
	} else {
		x.pickPlace(w, i, goal, a)
	}
}

func (x *Expert) next(p phase) { x.phase, x.waited = p, 0 }

// done finishes the current goal.
func (x *Expert) done() { x.goal++; x.next(phApproach) }

func (x *Expert) pickPlace(w *World, i int, goal Goal, a []float64) {
	g := &w.Gripper
	o := &w.Objects[i]
	safe := TableZ + SafeHeight
	switch x.phase {
	case phApproach:
		a[6] = -1
		if g.Held >= 0 && g.Held != i {
			return // holding the wrong thing: the open command drops it
		}
		if g.Held == i {
			x.next(phLift)
			return
		}
		if x.travel(g, Vec3{o.Pos[0], o.Pos[1], safe}, a) && g.Finger >= FingerOpen-1e-9 {
			x.next(phDescend)
		}
	case phDescend:
		a[6] = -1
		if x.moveTo(g, Vec3{o.Pos[0], o.Pos[1], o.Pos[2] + o.Size[2]/2}, a) {
			x.next(phClose)
		}
	case phClose:
		a[6] = 1
		switch {
		case g.Held == i:
			x.next(phLift)
		case g.Finger < 1e-9 || x.waited > 8:
			x.next(phApproach) // closed on nothing: open and try again
		}
		x.waited++
	case phLift:
		a[6] = 1
		if g.Held != i {
			x.next(phApproach)
			return
		}
		h := safe
		if goal.Kind == GoalLift {
			h = TableZ + goal.Dist + 0.05 + (g.Pos[2] - o.Pos[2])
		}
		if x.moveTo(g, Vec3{g.Pos[0], g.Pos[1], h}, a) && goal.Kind != GoalLift {
			x.next(phCarry)
		}
	case phCarry, phLower:
		a[6] = 1
		if g.Held != i {
			x.next(phApproach)
			return
		}
		p, surf := placePoint(w, i, goal)
		if x.phase == phCarry {
			if x.moveTo(g, Vec3{p[0], p[1], safe}, a) {
				x.next(phLower)
			}
			return
		}
		// Release 1 cm above the support: the object drops onto it.
		if x.moveTo(g, Vec3{p[0], p[1], surf + 0.01 + (g.Pos[2] - o.Pos[2])}, a) {
			x.next(phRelease)
		}
	case phRelease:
		a[6] = -1
		if g.Held < 0 && g.Finger >= FingerOpen-1e-9 {
			x.next(phRetreat)
		}
	case phRetreat:
		a[6] = -1
		if x.moveTo(g, Vec3{g.Pos[0], g.Pos[1], safe}, a) {
			x.done()
		}
	default:
		x.next(phApproach)
	}
}

// placePoint returns where (x, y) to release object i for goal, and the
// height of the surface it will land on.
func placePoint(w *World, i int, goal Goal) (Vec3, float64) {
	j := w.Index(goal.Target)
	if j < 0 {
		return w.Gripper.Pos, TableZ
	}
	t := &w.Objects[j]
	p := t.Pos
	if t.Kind == Basket {
		// Two slots side by side along the basket; take the emptier.
		best, bestD := p, -1.0
		for _, sx := range []float64{-1, 1} {
			dx, dy := rotZ(sx*(t.Size[0]/2-BasketWall-0.036), 0, t.Yaw)
			s := Vec3{p[0] + dx, p[1] + dy, p[2]}
			d := math.Inf(1)
			for k := range w.Objects {
				if k != i && w.Rests(k, j) {
					d = math.Min(d, s.DistXY(w.Objects[k].Pos))
				}
			}
			if d > bestD {
				best, bestD = s, d
			}
		}
		p = best
	}
	// Land on whatever is already there (a stack in a bowl, say).
	surf, _ := t.Surface()
	for k := range w.Objects {
		s := &w.Objects[k]
		if k == i || s.On == InHand || !w.Rests(k, j) || !s.Over(p) {
			continue
		}
		if h, ok := s.Surface(); ok && h > surf {
			surf = h
		}
	}
	return p, surf
}

func (x *Expert) push(w *World, i int, goal Goal, a []float64) {
	g := &w.Gripper
	o := &w.Objects[i]
	d := goal.Dir
	safe := TableZ + SafeHeight
	back := o.Radius() + FingerPad + 0.02
	behind := Vec3{o.Pos[0] - d[0]*back, o.Pos[1] - d[1]*back}
	a[6] = 1 // fingers closed: a compact pusher
	switch x.phase {
	case phApproach:
		if g.Held >= 0 {
			a[6] = -1
			return
		}
		behind[2] = safe
		if x.travel(g, behind, a) {
			x.next(phDescend)
		}
	case phDescend:
		behind[2] = TableZ + pushHeight
		if x.moveTo(g, behind, a) {
			x.next(phSweep)
		}
	case phSweep:
		if o.Pos.Sub(o.Start).Dot(d) >= goal.Dist+0.02 || x.waited > 40 {
			x.next(phRetreat)
			return
		}
		x.waited++
		// Advance along d at half speed, steering onto the line through
		// the object's centre.
		rel := g.Pos.Sub(o.Pos)
		rel[2] = 0
		lat := rel.Sub(d.Scale(rel.Dot(d)))
		t := g.Pos.Add(d.Scale(ExpertSpeed * PosScale / 2)).Sub(lat)
		t[2] = TableZ + pushHeight
		x.moveTo(g, t, a)
	case phRetreat:
		if x.moveTo(g, Vec3{g.Pos[0], g.Pos[1], safe}, a) {
			x.done()
		}
	default:
		x.next(phApproach)
	}
}

// travel moves toward target (at safe height), rising straight up first
// when the gripper is low and far from it. It reports arrival.
func (x *Expert) travel(g *Gripper, target Vec3, a []float64) bool {
	if g.Pos[2] < target[2]-0.01 && g.Pos.DistXY(target) > 0.005 {
		x.moveTo(g, Vec3{g.Pos[0], g.Pos[1], target[2]}, a)
		return false
	}
	return x.moveTo(g, target, a)
}

// moveTo writes the translation toward target, limited to ExpertSpeed, and
// reports whether the gripper is already there.
func (x *Expert) moveTo(g *Gripper, target Vec3, a []float64) bool {
	there := true
	for k := range 3 {
		e := target[k] - g.Pos[k]
		if math.Abs(e) > arrived {
			there = false
		}
		a[k] = clamp(e/PosScale, -ExpertSpeed, ExpertSpeed)
	}
	return there
}
