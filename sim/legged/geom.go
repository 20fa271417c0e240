package legged

import "math"

// BarPostRadius is the radius of the two posts that carry a Bar, at the
// ends of its span. The posts always block; only the bar itself can be
// passed under.
const BarPostRadius = 0.03

// ArenaHalf is the half side of the arena the tasks use (|x|, |y| ≤ 4 m).
const ArenaHalf = 4.0

// FootprintDist returns the horizontal distance from the point (x, y) to
// o's footprint on the floor, 0 inside it. Balls and cones are discs of
// diameter Size[0]; everything else (boxes, walls, doors and the bar
// itself) is the Size[0] × Size[1] rectangle turned by Yaw.
func FootprintDist(o *Object, x, y float64) float64 {
	dx, dy := x-o.Pos[0], y-o.Pos[1]
	switch o.Kind {
	case Ball, Cone:
		return math.Max(0, math.Hypot(dx, dy)-o.Size[0]/2)
	}
	u, w := toLocal(dx, dy, o.Yaw)
	return math.Hypot(math.Max(0, math.Abs(u)-o.Size[0]/2), math.Max(0, math.Abs(w)-o.Size[1]/2))
}

// toLocal rotates the world offset (dx, dy) into a frame turned by yaw.
func toLocal(dx, dy, yaw float64) (u, w float64) {
	s, c := math.Sincos(yaw)
	return c*dx + s*dy, -s*dx + c*dy
}

// barPosts returns the centres of a bar's two posts.
func barPosts(o *Object) [2][2]float64 {
	s, c := math.Sincos(o.Yaw)
	h := o.Size[1] / 2
	// The span is the bar's local y axis: (−sin, cos) in the world.
	return [2][2]float64{
		{o.Pos[0] - s*h, o.Pos[1] + c*h},
		{o.Pos[0] + s*h, o.Pos[1] - c*h},
	}
}

// clearance returns the gap between a disc of radius r centred at (x, y)
// and what of o blocks a base whose top is at top (negative: overlap).
// A bar blocks with its posts always, and with the bar itself only when
// top is above its Clearance.
func clearance(o *Object, x, y, r, top float64) float64 {
	if o.Kind != Bar {
		return FootprintDist(o, x, y) - r
	}
	g := math.Inf(1)
	for _, p := range barPosts(o) {
		g = math.Min(g, math.Hypot(x-p[0], y-p[1])-BarPostRadius-r)
	}
	if top > o.Clearance {
		g = math.Min(g, FootprintDist(o, x, y)-r)
	}
	return g
}

// freeAt reports whether a disc of radius r (BodyRadius plus a margin) at
// (x, y), with its top at top, is inside the arena and clear of every
// object.
func (w *World) freeAt(x, y, r, top float64) bool {
	if math.Abs(x) > w.Half-r || math.Abs(y) > w.Half-r {
		return false
	}
	for i := range w.Objects {
		if clearance(&w.Objects[i], x, y, r, top) < 0 {
			return false
		}
	}
	return true
}

// underBar reports whether the footprint at (x, y) overlaps a bar's
// rectangle, and the highest the base's centre may be there so that its
// top stays under every such bar.
func (w *World) underBar(x, y float64) (bool, float64) {
	under, hmax := false, math.Inf(1)
	for i := range w.Objects {
		o := &w.Objects[i]
		if o.Kind == Bar && FootprintDist(o, x, y) < BodyRadius {
			under = true
			hmax = math.Min(hmax, o.Clearance-BodyThickness/2)
		}
	}
	return under, hmax
}

// Gap returns the distance between the base's footprint and object o's
// footprint (0 when touching): what the stop radius of a goal is measured
// on.
func (b *Base) Gap(o *Object) float64 {
	return math.Max(0, FootprintDist(o, b.Pos[0], b.Pos[1])-BodyRadius)
}

func clamp(x, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, x)) }

// wrapAngle returns a in (−π, π].
func wrapAngle(a float64) float64 {
	a = math.Mod(a+math.Pi, 2*math.Pi)
	if a <= 0 {
		a += 2 * math.Pi
	}
	return a - math.Pi
}
