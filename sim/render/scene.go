package render

import (
	"image"
	"math"

	"gocv.io/x/gocv"

	"github.com/efferent/efferent/sim"
)

// The table, shadows and objects.

func (r *Renderer) drawTable() {
	const thick = 0.04
	c := sim.Vec3{0, 0, sim.TableZ - thick/2}
	r.box(c, sim.Vec3{sim.TableHalfX, 0, 0}, sim.Vec3{0, sim.TableHalfY, 0}, sim.Vec3{0, 0, thick / 2}, tableColor, false)
	// A 10 cm grid gives both cameras perspective and motion cues.
	z := sim.TableZ + 0.0002
	for x := -0.4; x <= 0.4+1e-9; x += 0.1 {
		r.line(sim.Vec3{x, -sim.TableHalfY, z}, sim.Vec3{x, sim.TableHalfY, z}, gridColor, 1)
	}
	for y := -0.5; y <= 0.5+1e-9; y += 0.1 {
		r.line(sim.Vec3{-sim.TableHalfX, y, z}, sim.Vec3{sim.TableHalfX, y, z}, gridColor, 1)
	}
}

// drawShadows puts a dark disc on the table under every object
// and under the gripper: straight-down shadows that show how high things
// float above the table.
func (r *Renderer) drawShadows(w *sim.World) {
	z := sim.TableZ + 0.0004
	for i := range w.Objects {
		o := &w.Objects[i]
		if o.On != sim.OnTable && o.On != sim.InHand {
			continue // covered by what it rests on
		}
		rad := o.Radius() * 1.05
		if o.Kind == sim.Block || o.Kind == sim.Basket {
			rad = math.Max(o.Size[0], o.Size[1]) / 2 * 1.1
		}
		r.ring = circleAt(r.ring, sim.Vec3{o.Pos[0], o.Pos[1], z}, rad)
		r.poly(r.ring, shadowColor, false)
	}
	g := &w.Gripper
	r.ring = circleAt(r.ring, sim.Vec3{g.Pos[0], g.Pos[1], z}, 0.025)
	r.poly(r.ring, shadowColor, false)
}

// drawStack draws object i, then what rests on or in it, bottom up.
func (r *Renderer) drawStack(w *sim.World, i int) {
	r.drawObject(&w.Objects[i])
	for j := range w.Objects {
		if w.Objects[j].On == i {
			r.drawStack(w, j)
		}
	}
}

func (r *Renderer) drawObject(o *sim.Object) {
	col := o.Color
	switch o.Kind {
	case sim.Block:
		s, c := math.Sincos(o.Yaw)
		h := o.Size.Scale(0.5)
		r.box(o.Pos.Add(sim.Vec3{0, 0, h[2]}), sim.Vec3{c * h[0], s * h[0], 0}, sim.Vec3{-s * h[1], c * h[1], 0}, sim.Vec3{0, 0, h[2]}, col, true)
	case sim.Cylinder:
		rad := o.Size[0] / 2
		r.prism(o.Pos, o.Size[2], rad, rad, col, shade(col, sim.Vec3{0, 0, 1}), true)
	case sim.Plate:
		rad := o.Size[0] / 2
		top := shade(col, sim.Vec3{0, 0, 1})
		r.prism(o.Pos, o.Size[2], rad*0.85, rad, scale(col, 0.8), top, true)
		// The plate's well.
		r.ring = circleAt(r.ring, o.Pos.Add(sim.Vec3{0, 0, o.Size[2] + 0.0003}), rad*0.68)
		r.poly(r.ring, scale(top, 0.93), false)
	case sim.Bowl:
		rad := o.Size[0] / 2
		r.prism(o.Pos, o.Size[2], rad*sim.BowlBaseFrac, rad, col, shade(col, sim.Vec3{0, 0, 1}), true)
		// Dark opening inside the rim.
		r.ring = circleAt(r.ring, o.Pos.Add(sim.Vec3{0, 0, o.Size[2] + 0.0003}), o.InnerRadius())
		r.poly(r.ring, scale(col, 0.55), false)
	case sim.Basket:
		s, c := math.Sincos(o.Yaw)
		h := o.Size.Scale(0.5)
		ax, ay, az := sim.Vec3{c * h[0], s * h[0], 0}, sim.Vec3{-s * h[1], c * h[1], 0}, sim.Vec3{0, 0, h[2]}
		ctr := o.Pos.Add(az)
		r.box(ctr, ax, ay, az, col, true)
		// Open top: the inside is darker; a weave line runs round the sides.
		wx, wy := 1-sim.BasketWall/h[0], 1-sim.BasketWall/h[1]
		top := ctr.Add(az.Scale(1.002))
		in := [4]sim.Vec3{
			top.Add(ax.Scale(wx)).Add(ay.Scale(wy)), top.Sub(ax.Scale(wx)).Add(ay.Scale(wy)),
			top.Sub(ax.Scale(wx)).Sub(ay.Scale(wy)), top.Add(ax.Scale(wx)).Sub(ay.Scale(wy)),
		}
		r.poly(in[:], scale(col, 0.5), false)
		weave := scale(col, 0.7)
		for k := range 4 {
			u := [4]sim.Vec3{ax, ay, ax.Scale(-1), ay.Scale(-1)}[k]
			v := [4]sim.Vec3{ay, ax.Scale(-1), ay.Scale(-1), ax}[k]
			if !r.facing(ctr.Add(u), u.Unit()) {
				continue
			}
			for _, f := range [2]float64{-0.35, 0.25} {
				p := ctr.Add(u).Add(az.Scale(f))
				r.line(p.Add(v), p.Sub(v), weave, 1)
			}
		}
	case sim.Ball:
		ctr := o.Pos.Add(sim.Vec3{0, 0, o.Size[2] / 2})
		r.ball(ctr, o.Size[0]/2, col)
	}
}

// ball draws a sphere as a shaded disc with a highlight toward the light.
func (r *Renderer) ball(c sim.Vec3, rad float64, col [3]uint8) {
	u, v, d, ok := r.cam.Project(c)
	if !ok || d <= rad {
		return
	}
	pr := r.cam.Fx * rad / math.Sqrt(d*d-rad*rad)
	ctr := image.Pt(int(math.Round(u*one)), int(math.Round(v*one)))
	rr := int(math.Round(pr * one))
	gocv.CircleWithParams(r.mat, ctr, rr, rgb(scale(col, 0.6)), -1, gocv.LineAA, shift)
	gocv.CircleWithParams(r.mat, ctr, int(math.Round(pr*0.88*one)), rgb(scale(col, 0.85)), -1, gocv.LineAA, shift)
	// Highlight: the sphere point facing the light, projected.
	hu, hv, _, ok := r.cam.Project(c.Add(light.Scale(rad * 0.55)))
	if ok {
		gocv.CircleWithParams(r.mat, image.Pt(int(math.Round(hu*one)), int(math.Round(hv*one))), int(math.Round(pr*0.45*one)), rgb(scale(col, 1.08)), -1, gocv.LineAA, shift)
	}
}
