package sim

import "math"

// pushTol keeps a gripper that slides exactly on an object's top from
// pushing it.
const pushTol = 0.003

// apply advances the world by one step of the (validated, clipped) action.
// Order: orientation, position (with clamps), pushing, carrying the held
// object, then the fingers (which may grasp or release).
func (w *World) apply(a *[7]float64) {
	g := &w.Gripper
	if a[3] != 0 || a[4] != 0 || a[5] != 0 {
		// Delta in the world frame, as robosuite's OSC applies it.
		dq := QuatFromAxisAngle(Vec3{a[3], a[4], a[5]}.Scale(RotScale))
		g.Quat = limitTilt(dq.Mul(g.Quat).Normalize())
	}
	p0 := g.Pos
	p1 := p0.Add(Vec3{a[0], a[1], a[2]}.Scale(PosScale))
	for k := range p1 {
		p1[k] = clamp(p1[k], WorkspaceMin[k], WorkspaceMax[k])
	}
	if g.Held >= 0 {
		// A held object cannot go through the table either.
		if base := p1.Add(g.Quat.Rotate(g.heldOff)); base[2] < TableZ {
			p1[2] += TableZ - base[2]
		}
	}
	g.Pos = p1
	w.push(p0, p1)
	if g.Held >= 0 {
		w.carry()
	}
	w.fingers(a[6])
}

// limitTilt rotates q back onto the cone of half-angle MaxTilt around
// straight down when its approach axis leaves it.
func limitTilt(q Quat) Quat {
	z := q.Rotate(Vec3{0, 0, 1})
	tilt := math.Acos(clamp(-z[2], -1, 1))
	if tilt <= MaxTilt {
		return q
	}
	axis := z.Cross(Vec3{0, 0, -1}).Unit()
	if axis == (Vec3{}) {
		axis = Vec3{1, 0, 0} // pointing straight up: any horizontal axis
	}
	return QuatFromAxisAngle(axis.Scale(tilt - MaxTilt)).Mul(q).Normalize()
}

// carry moves the held object rigidly with the gripper (upright: it takes
// the gripper's yaw, not its tilt).
func (w *World) carry() {
	g := &w.Gripper
	o := &w.Objects[g.Held]
	o.Pos = g.Pos.Add(g.Quat.Rotate(g.heldOff))
	o.Yaw = g.Yaw() + g.heldYaw
}

// fingers moves the fingers toward the commanded opening, FingerOpen·(1−a)/2
// (a = −1 open, +1 closed), by at most FingerSpeed. Closing fingers that
// reach a graspable object's width attach it; commanding an opening wider
// than the held object releases it.
func (w *World) fingers(a float64) {
	g := &w.Gripper
	target := FingerOpen * (1 - a) / 2
	if g.Held >= 0 {
		hw := w.Objects[g.Held].GripWidth()
		if target <= hw+1e-9 {
			g.Finger = hw // squeezing: the object stops the fingers
			return
		}
		w.release()
	}
	q := g.Finger
	if target >= q {
		g.Finger = math.Min(target, q+FingerSpeed)
		return
	}
	nq := math.Max(target, q-FingerSpeed)
	if c := w.graspCandidate(); c >= 0 {
		if hw := w.Objects[c].GripWidth(); nq <= hw && hw <= q+1e-9 {
			w.attach(c)
			g.Finger = hw
			return
		}
	}
	g.Finger = nq
}

// graspCandidate returns the graspable object the fingers would close on:
// not held, nothing resting on it, its vertical axis within GraspRadius of
// the grip point, and the grip point between its base and 1 cm below its
// top. The nearest one wins; −1 if none.
func (w *World) graspCandidate() int {
	p := w.Gripper.Pos
	best, bestD := -1, math.Inf(1)
	for i := range w.Objects {
		o := &w.Objects[i]
		if !o.Graspable() || o.On == InHand {
			continue
		}
		d := p.DistXY(o.Pos)
		if d > GraspRadius || p[2] < o.Pos[2] || p[2] > o.Top()-0.01 || w.Covered(i) {
			continue
		}
		if d += math.Abs(p[2] - (o.Pos[2] + o.Size[2]/2)); d < bestD {
			best, bestD = i, d
		}
	}
	return best
}

func (w *World) attach(i int) {
	g := &w.Gripper
	o := &w.Objects[i]
	o.On = InHand
	g.Held = i
	g.heldOff = g.Quat.Conj().Rotate(o.Pos.Sub(g.Pos))
	g.heldYaw = o.Yaw - g.Yaw()
}

// release lets go of the held object, which drops onto what is below it.
func (w *World) release() {
	i := w.Gripper.Held
	w.Gripper.Held = -1
	w.place(i)
}

// place drops object i straight down onto the highest supporting surface
// under its centre (table, a block or cylinder top, a plate, a container's
// floor) that is not above its base, then settles it: in a container it
// slides inward until it fits; it is then moved out of any object resting
// on the same support (nearest free spot, found by repeated radial pushes);
// if there is no free spot it rests on top of the object it overlaps.
func (w *World) place(i int) {
	o := &w.Objects[i]
	support, surf := OnTable, TableZ
	for j := range w.Objects {
		s := &w.Objects[j]
		if j == i || s.On == InHand {
			continue
		}
		h, ok := s.Surface()
		if !ok || h > o.Pos[2]+1e-9 || !s.Over(o.Pos) {
			continue
		}
		if h > surf {
			support, surf = j, h
		}
	}
	o.On, o.Pos[2] = support, surf
	w.confine(i)
	for range 10 {
		k := w.overlapping(i)
		if k < 0 {
			return
		}
		d := Vec3{o.Pos[0] - w.Objects[k].Pos[0], o.Pos[1] - w.Objects[k].Pos[1]}
		n := d.Norm()
		if n < 1e-9 {
			d, n = Vec3{0, 1}, 1 // concentric: push sideways, deterministically
		}
		need := o.Radius() + w.Objects[k].Radius() + 1e-6
		o.Pos[0] = w.Objects[k].Pos[0] + d[0]/n*need
		o.Pos[1] = w.Objects[k].Pos[1] + d[1]/n*need
		w.confine(i)
	}
	k := w.overlapping(i)
	if k < 0 {
		return
	}
	// No free spot: rest on top of the overlapped stack instead.
	for n := 0; n < len(w.Objects); n++ {
		up := -1
		for j := range w.Objects {
			if w.Objects[j].On == k && j != i {
				up = j
				break
			}
		}
		if up < 0 {
			break
		}
		k = up
	}
	s := &w.Objects[k]
	if h, ok := s.Surface(); ok {
		o.On, o.Pos[0], o.Pos[1], o.Pos[2] = k, s.Pos[0], s.Pos[1], h
		if s.Container() {
			w.confine(i)
		}
	}
}

// overlapping returns an object on the same support as i whose footprint
// overlaps i's, or −1.
func (w *World) overlapping(i int) int {
	o := &w.Objects[i]
	for k := range w.Objects {
		s := &w.Objects[k]
		if k != i && s.On == o.On && o.Pos.DistXY(s.Pos) < o.Radius()+s.Radius()-1e-9 {
			return k
		}
	}
	return -1
}

// confine keeps object i's centre where its support can hold it: inside a
// container's opening (so it fits), over a plate or block top, or on the
// table.
func (w *World) confine(i int) {
	o := &w.Objects[i]
	r := o.Radius()
	if o.On < 0 {
		o.Pos[0] = clamp(o.Pos[0], -TableHalfX+r, TableHalfX-r)
		o.Pos[1] = clamp(o.Pos[1], -TableHalfY+r, TableHalfY-r)
		return
	}
	s := &w.Objects[o.On]
	switch s.Kind {
	case Basket:
		x, y := s.local(o.Pos)
		hx := math.Max(0, s.Size[0]/2-BasketWall-r)
		hy := math.Max(0, s.Size[1]/2-BasketWall-r)
		x, y = rotZ(clamp(x, -hx, hx), clamp(y, -hy, hy), s.Yaw)
		o.Pos[0], o.Pos[1] = s.Pos[0]+x, s.Pos[1]+y
	case Block:
		x, y := s.local(o.Pos)
		hx, hy := s.Size[0]/2, s.Size[1]/2
		x, y = rotZ(clamp(x, -hx, hx), clamp(y, -hy, hy), s.Yaw)
		o.Pos[0], o.Pos[1] = s.Pos[0]+x, s.Pos[1]+y
	default: // bowl (fits inside the opening), plate and cylinder (centre over it)
		lim := s.Size[0] / 2
		if s.Kind == Bowl {
			lim = math.Max(0, s.InnerRadius()-r)
		}
		d := Vec3{o.Pos[0] - s.Pos[0], o.Pos[1] - s.Pos[1]}
		if n := d.Norm(); n > lim {
			o.Pos[0], o.Pos[1] = s.Pos[0]+d[0]/n*lim, s.Pos[1]+d[1]/n*lim
		}
	}
}

// push moves table objects that the gripper runs into on its way from p0 to
// p1. The gripper pushes with a disc of radius FingerPad around the grip
// point, at heights below an object's top: an object is pushed when that
// disc moves horizontally into its footprint circle from outside, and then
// slides along the motion just far enough to stay in contact. An object the
// gripper came down onto from above (straddled by the fingers) is not
// pushed. Only objects resting on the table are pushed; what rests on them
// comes along, and they push the table objects they run into in turn. The
// basket is fixed and stops pushed objects, as do the table's edges.
func (w *World) push(p0, p1 Vec3) {
	d := Vec3{p1[0] - p0[0], p1[1] - p0[1]}
	l := d.Norm()
	if l < 1e-9 {
		return
	}
	d = d.Scale(1 / l)
	for i := range w.Objects {
		o := &w.Objects[i]
		if o.On != OnTable || !o.Pushable() || p1[2] >= o.Top()-pushTol {
			continue
		}
		R := o.Radius() + FingerPad
		if p0.DistXY(o.Pos) < R-1e-6 || !segmentHits(p0, p1, o.Pos, R) {
			continue
		}
		if s := pushAmount(Vec3{p1[0] - o.Pos[0], p1[1] - o.Pos[1]}, d, R); s > 0 {
			w.shove(i, d, s)
		}
	}
}

// segmentHits reports whether the horizontal segment a→b passes strictly
// inside the circle (c, r).
func segmentHits(a, b, c Vec3, r float64) bool {
	ab := Vec3{b[0] - a[0], b[1] - a[1]}
	ac := Vec3{c[0] - a[0], c[1] - a[1]}
	t := 0.0
	if l2 := ab.Dot(ab); l2 > 0 {
		t = clamp(ac.Dot(ab)/l2, 0, 1)
	}
	return ac.Sub(ab.Scale(t)).Norm() < r-1e-9
}

// pushAmount returns how far a circle of radius r centred at −q (relative
// to a pusher at the origin) must move along unit d so that it touches the
// pusher on its far side: the larger root of |q − s·d| = r. Zero if the
// line misses the circle.
func pushAmount(q, d Vec3, r float64) float64 {
	qd := q.Dot(d)
	disc := qd*qd - q.Dot(q) + r*r
	if disc < 0 {
		return 0
	}
	return qd + math.Sqrt(disc)
}

// shove moves table object i by s along d, then the table objects it runs
// into, each at most once (a breadth-first chain over reused scratch).
func (w *World) shove(i int, d Vec3, s float64) {
	n := len(w.Objects)
	if cap(w.moved) < n {
		w.moved = make([]bool, n)
		w.queue = make([]int, 0, n)
		w.amts = make([]float64, 0, n)
	}
	w.moved = w.moved[:n]
	clear(w.moved)
	w.queue = append(w.queue[:0], i)
	w.amts = append(w.amts[:0], s)
	w.moved[i] = true
	for head := 0; head < len(w.queue); head++ {
		k := w.queue[head]
		amt := w.limit(k, d, w.amts[head])
		if amt <= 0 {
			continue
		}
		w.translate(k, d.Scale(amt))
		o := &w.Objects[k]
		for j := range w.Objects {
			t := &w.Objects[j]
			if w.moved[j] || t.On != OnTable || !t.Pushable() {
				continue
			}
			R := o.Radius() + t.Radius()
			q := Vec3{o.Pos[0] - t.Pos[0], o.Pos[1] - t.Pos[1]}
			if q.Norm() >= R-1e-9 {
				continue
			}
			if a := pushAmount(q, d, R); a > 0 {
				w.moved[j] = true
				w.queue = append(w.queue, j)
				w.amts = append(w.amts, a)
			}
		}
	}
}

// limit shortens a push of object i by s along d so it stops at the
// basket (fixed) and at the table's edges.
func (w *World) limit(i int, d Vec3, s float64) float64 {
	o := &w.Objects[i]
	r := o.Radius()
	for j := range w.Objects {
		f := &w.Objects[j]
		if j == i || f.Pushable() || f.On != OnTable {
			continue
		}
		R := r + f.Radius()
		q0 := Vec3{o.Pos[0] - f.Pos[0], o.Pos[1] - f.Pos[1]}
		if q0.Norm() < R {
			continue // already touching: do not trap it
		}
		b := q0.Dot(d)
		if disc := b*b - q0.Dot(q0) + R*R; disc >= 0 {
			if t := -b - math.Sqrt(disc); t >= 0 && t < s {
				s = t
			}
		}
	}
	lim := [2]float64{TableHalfX - r, TableHalfY - r}
	for k := range 2 {
		if d[k] > 1e-12 {
			s = math.Min(s, (lim[k]-o.Pos[k])/d[k])
		} else if d[k] < -1e-12 {
			s = math.Min(s, (-lim[k]-o.Pos[k])/d[k])
		}
	}
	return math.Max(s, 0)
}

// translate moves object i and everything resting on it.
func (w *World) translate(i int, v Vec3) {
	for j := range w.Objects {
		if j == i || w.Rests(j, i) {
			w.Objects[j].Pos = w.Objects[j].Pos.Add(v)
		}
	}
}

// Holds reports whether goal g is satisfied. An object that is not on the
// table (a false premise) satisfies nothing.
//
//   - in: Object rests, not held, in the container Target (possibly on
//     something else that is in it);
//   - on: Object rests on Target, directly or on top of a stack on it;
//   - stack: Object rests directly on Target;
//   - push: Object rests on the table, moved at least Dist along Dir from
//     where it started;
//   - lift: Object is held with its base at least Dist above the table.
func (w *World) Holds(g Goal) bool {
	i := w.Index(g.Object)
	if i < 0 {
		return false
	}
	o := &w.Objects[i]
	switch g.Kind {
	case GoalIn, GoalOn, GoalStack:
		j := w.Index(g.Target)
		if j < 0 || o.On == InHand {
			return false
		}
		switch g.Kind {
		case GoalIn:
			return w.Objects[j].Container() && w.Rests(i, j)
		case GoalOn:
			return w.Rests(i, j)
		}
		return o.On == j
	case GoalPush:
		return o.On == OnTable && o.Pos.Sub(o.Start).Dot(g.Dir) >= g.Dist
	case GoalLift:
		return o.On == InHand && o.Pos[2]-TableZ >= g.Dist
	}
	return false
}

// Success reports whether every goal holds (false without goals).
func (w *World) Success() bool {
	for _, g := range w.Goals {
		if !w.Holds(g) {
			return false
		}
	}
	return len(w.Goals) > 0
}
