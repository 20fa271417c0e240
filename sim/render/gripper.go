package render

import (
	"slices"

	"github.com/efferent/efferent/sim"
)

// Gripper parts, as negative drawItem.what values below gripperItem.
const (
	partHeld = -2 - iota
	partFingerL
	partFingerR
	partHand
	partLink
)

// drawGripper draws the held object and the gripper's parts, far to near.
// The wrist camera sees only the fingers (the hand is beside it).
func (r *Renderer) drawGripper(w *sim.World, wrist bool) {
	g := &w.Gripper
	q := g.Quat
	r.parts = r.parts[:0]
	add := func(part int, local sim.Vec3) {
		r.parts = append(r.parts, drawItem{r.depth(g.Pos.Add(q.Rotate(local))), part})
	}
	if g.Held >= 0 {
		o := &w.Objects[g.Held]
		r.parts = append(r.parts, drawItem{r.depth(o.Pos.Add(sim.Vec3{0, 0, o.Size[2] / 2})), partHeld})
	}
	fy := g.Finger + sim.FingerThick/2
	add(partFingerL, sim.Vec3{0, fy, -sim.FingerLength / 2})
	add(partFingerR, sim.Vec3{0, -fy, -sim.FingerLength / 2})
	if !wrist {
		add(partHand, sim.Vec3{0, 0, -sim.FingerLength - sim.HandHeight/2})
		add(partLink, sim.Vec3{0, 0, -sim.FingerLength - sim.HandHeight - 0.025})
	}
	slices.SortFunc(r.parts, farFirst)
	ax, ay, az := q.Rotate(sim.Vec3{1, 0, 0}), q.Rotate(sim.Vec3{0, 1, 0}), q.Rotate(sim.Vec3{0, 0, 1})
	part := func(c sim.Vec3, hx, hy, hz float64, col [3]uint8) {
		r.box(g.Pos.Add(q.Rotate(c)), ax.Scale(hx), ay.Scale(hy), az.Scale(hz), col, true)
	}
	for _, p := range r.parts {
		switch p.what {
		case partHeld:
			r.drawStack(w, g.Held)
		case partFingerL:
			part(sim.Vec3{0, fy, -sim.FingerLength / 2}, sim.FingerWidth/2, sim.FingerThick/2, sim.FingerLength/2, fingerColor)
		case partFingerR:
			part(sim.Vec3{0, -fy, -sim.FingerLength / 2}, sim.FingerWidth/2, sim.FingerThick/2, sim.FingerLength/2, fingerColor)
		case partHand:
			part(sim.Vec3{0, 0, -sim.FingerLength - sim.HandHeight/2}, sim.HandLength/2, sim.HandWidth/2, sim.HandHeight/2, handColor)
		case partLink:
			part(sim.Vec3{0, 0, -sim.FingerLength - sim.HandHeight - 0.025}, 0.022, 0.022, 0.025, linkColor)
		}
	}
}
