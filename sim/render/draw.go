package render

import (
	"image"
	"image/color"
	"math"

	"gocv.io/x/gocv"

	"github.com/efferent/efferent/sim"
)

// Drawing primitives: colours and shading, near-plane clipping, filled
// polygons, lines, boxes and prisms, all in world coordinates.

// rgb converts a colour for OpenCV, which writes Scalar (B, G, R) into
// channels (0, 1, 2): our buffer is RGB, so R goes where OpenCV puts B.
func rgb(c [3]uint8) color.RGBA { return color.RGBA{R: c[2], G: c[1], B: c[0], A: 255} }

func scale(c [3]uint8, f float64) [3]uint8 {
	var o [3]uint8
	for i, v := range c {
		o[i] = uint8(math.Min(255, math.Round(float64(v)*f)))
	}
	return o
}

// shade lights a face with outward normal n (Lambert plus ambient).
func shade(c [3]uint8, n sim.Vec3) [3]uint8 {
	return scale(c, 0.55+0.45*math.Max(0, n.Dot(light)))
}

// poly fills the convex world-space polygon pts (any winding), clipped at
// the near plane, with an anti-aliased edge; outline draws its border too.
func (r *Renderer) poly(pts []sim.Vec3, c [3]uint8, outline bool) {
	r.cpts = r.cpts[:0]
	for _, p := range pts {
		r.cpts = append(r.cpts, r.cam.ToCamera(p))
	}
	r.clip = clipNear(r.clip[:0], r.cpts)
	if len(r.clip) < 3 {
		return
	}
	r.pts, r.ipts = r.pts[:0], r.ipts[:0]
	for _, q := range r.clip {
		u := clamp(r.cam.Fx*q[0]/q[2]+r.cam.Cx, -1e5, 1e5)
		v := clamp(r.cam.Fy*q[1]/q[2]+r.cam.Cy, -1e5, 1e5)
		r.pts = append(r.pts, image.Pt(int(math.Round(u*one)), int(math.Round(v*one))))
		if outline {
			r.ipts = append(r.ipts, image.Pt(int(math.Round(u)), int(math.Round(v))))
		}
	}
	pv := gocv.NewPointVectorFromPoints(r.pts)
	pvs := gocv.NewPointsVector()
	pvs.Append(pv)
	gocv.FillPolyWithParams(r.mat, pvs, rgb(c), gocv.LineAA, shift, image.Point{})
	pvs.Close()
	pv.Close()
	if outline {
		pv = gocv.NewPointVectorFromPoints(r.ipts)
		pvs = gocv.NewPointsVector()
		pvs.Append(pv)
		gocv.Polylines(r.mat, pvs, true, rgb(scale(c, 0.6)), 1)
		pvs.Close()
		pv.Close()
	}
}

// clipNear clips a polygon in camera coordinates to depth ≥ sim.NearPlane
// (Sutherland–Hodgman against one plane).
func clipNear(dst, src []sim.Vec3) []sim.Vec3 {
	const z = sim.NearPlane
	for i, a := range src {
		b := src[(i+1)%len(src)]
		ina, inb := a[2] >= z, b[2] >= z
		if ina {
			dst = append(dst, a)
		}
		if ina != inb {
			t := (z - a[2]) / (b[2] - a[2])
			dst = append(dst, a.Add(b.Sub(a).Scale(t)))
		}
	}
	return dst
}

// facing reports whether the face through p with outward normal n is
// turned toward the camera.
func (r *Renderer) facing(p, n sim.Vec3) bool { return r.cam.Pos.Sub(p).Dot(n) > 0 }

// line draws a world-space segment (clipped at the near plane).
func (r *Renderer) line(a, b sim.Vec3, c [3]uint8, thick int) {
	qa, qb := r.cam.ToCamera(a), r.cam.ToCamera(b)
	const z = sim.NearPlane
	if qa[2] < z && qb[2] < z {
		return
	}
	if qa[2] < z {
		qa = qa.Add(qb.Sub(qa).Scale((z - qa[2]) / (qb[2] - qa[2])))
	} else if qb[2] < z {
		qb = qb.Add(qa.Sub(qb).Scale((z - qb[2]) / (qa[2] - qb[2])))
	}
	pa := image.Pt(int(math.Round(clamp(r.cam.Fx*qa[0]/qa[2]+r.cam.Cx, -1e5, 1e5))), int(math.Round(clamp(r.cam.Fy*qa[1]/qa[2]+r.cam.Cy, -1e5, 1e5))))
	pb := image.Pt(int(math.Round(clamp(r.cam.Fx*qb[0]/qb[2]+r.cam.Cx, -1e5, 1e5))), int(math.Round(clamp(r.cam.Fy*qb[1]/qb[2]+r.cam.Cy, -1e5, 1e5))))
	gocv.Line(r.mat, pa, pb, rgb(c), thick)
}

func clamp(x, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, x)) }

// box draws the visible faces of an oriented box: centre c, half-extent
// vectors ax, ay, az (mutually orthogonal).
func (r *Renderer) box(c, ax, ay, az sim.Vec3, col [3]uint8, outline bool) {
	axes := [3]sim.Vec3{ax, ay, az}
	var quad [4]sim.Vec3
	for k := range 3 {
		u, v := axes[(k+1)%3], axes[(k+2)%3]
		for _, sgn := range [2]float64{1, -1} {
			fc := c.Add(axes[k].Scale(sgn))
			n := axes[k].Unit().Scale(sgn)
			if !r.facing(fc, n) {
				continue
			}
			quad[0] = fc.Add(u).Add(v)
			quad[1] = fc.Sub(u).Add(v)
			quad[2] = fc.Sub(u).Sub(v)
			quad[3] = fc.Add(u).Sub(v)
			r.poly(quad[:], shade(col, n), outline)
		}
	}
}

// circleAt refills dst with a horizontal circle of segments points.
func circleAt(dst []sim.Vec3, c sim.Vec3, rad float64) []sim.Vec3 {
	dst = dst[:0]
	for k := range segments {
		s, co := math.Sincos(2 * math.Pi * float64(k) / segments)
		dst = append(dst, sim.Vec3{c[0] + rad*co, c[1] + rad*s, c[2]})
	}
	return dst
}

// prism draws a vertical frustum from radius rb at base to rt at top: its
// visible side faces and, if the camera is above it, its top disc.
func (r *Renderer) prism(base sim.Vec3, h, rb, rt float64, side, top [3]uint8, drawTop bool) {
	r.ring = circleAt(r.ring, base, rb)
	r.ring2 = circleAt(r.ring2, base.Add(sim.Vec3{0, 0, h}), rt)
	var quad [4]sim.Vec3
	slope := (rb - rt) / h
	for k := range segments {
		k2 := (k + 1) % segments
		mid := (float64(k) + 0.5) * 2 * math.Pi / segments
		s, c := math.Sincos(mid)
		n := sim.Vec3{c, s, slope}.Unit()
		fc := r.ring[k].Add(r.ring2[k2]).Scale(0.5)
		if !r.facing(fc, n) {
			continue
		}
		quad = [4]sim.Vec3{r.ring[k], r.ring[k2], r.ring2[k2], r.ring2[k]}
		r.poly(quad[:], shade(side, n), false)
	}
	if drawTop && r.cam.Pos[2] > base[2]+h {
		r.poly(r.ring2, top, true)
	}
}
