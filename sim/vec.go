package sim

import "math"

// Vec3 is a point or direction in metres, world frame (see the package
// comment for the axes). It is an array so that it copies by value and
// indexes by axis.
type Vec3 [3]float64

// Add returns a+b.
func (a Vec3) Add(b Vec3) Vec3 { return Vec3{a[0] + b[0], a[1] + b[1], a[2] + b[2]} }

// Sub returns a−b.
func (a Vec3) Sub(b Vec3) Vec3 { return Vec3{a[0] - b[0], a[1] - b[1], a[2] - b[2]} }

// Scale returns s·a.
func (a Vec3) Scale(s float64) Vec3 { return Vec3{a[0] * s, a[1] * s, a[2] * s} }

// Dot returns a·b.
func (a Vec3) Dot(b Vec3) float64 { return a[0]*b[0] + a[1]*b[1] + a[2]*b[2] }

// Cross returns a×b.
func (a Vec3) Cross(b Vec3) Vec3 {
	return Vec3{a[1]*b[2] - a[2]*b[1], a[2]*b[0] - a[0]*b[2], a[0]*b[1] - a[1]*b[0]}
}

// Norm returns |a|.
func (a Vec3) Norm() float64 { return math.Sqrt(a.Dot(a)) }

// Unit returns a/|a|, or the zero vector for a (near-)zero a.
func (a Vec3) Unit() Vec3 {
	n := a.Norm()
	if n < 1e-12 {
		return Vec3{}
	}
	return a.Scale(1 / n)
}

// DistXY returns the horizontal distance between a and b.
func (a Vec3) DistXY(b Vec3) float64 { return math.Hypot(a[0]-b[0], a[1]-b[1]) }

// Quat is a unit quaternion (W the scalar part). Orientations are stored as
// quaternions and integrated by multiplication, as MuJoCo does, so the sign
// of a quaternion evolves continuously and State's axis-angle behaves like
// LIBERO's (which converts MuJoCo's quaternion with robosuite's
// quat2axisangle).
type Quat struct{ W, X, Y, Z float64 }

// QuatFromAxisAngle returns the rotation by |v| radians about v.
func QuatFromAxisAngle(v Vec3) Quat {
	a := v.Norm()
	if a < 1e-12 {
		return Quat{W: 1}
	}
	s := math.Sin(a/2) / a
	return Quat{W: math.Cos(a / 2), X: v[0] * s, Y: v[1] * s, Z: v[2] * s}
}

// Mul returns the rotation q∘r (r first, then q).
func (q Quat) Mul(r Quat) Quat {
	return Quat{
		W: q.W*r.W - q.X*r.X - q.Y*r.Y - q.Z*r.Z,
		X: q.W*r.X + q.X*r.W + q.Y*r.Z - q.Z*r.Y,
		Y: q.W*r.Y - q.X*r.Z + q.Y*r.W + q.Z*r.X,
		Z: q.W*r.Z + q.X*r.Y - q.Y*r.X + q.Z*r.W,
	}
}

// Conj returns the inverse rotation of a unit quaternion.
func (q Quat) Conj() Quat { return Quat{W: q.W, X: -q.X, Y: -q.Y, Z: -q.Z} }

// Normalize returns q/|q| (identity for a zero q).
func (q Quat) Normalize() Quat {
	n := math.Sqrt(q.W*q.W + q.X*q.X + q.Y*q.Y + q.Z*q.Z)
	if n < 1e-12 {
		return Quat{W: 1}
	}
	return Quat{W: q.W / n, X: q.X / n, Y: q.Y / n, Z: q.Z / n}
}

// Rotate returns v rotated by q.
func (q Quat) Rotate(v Vec3) Vec3 {
	// v + 2w(u×v) + 2u×(u×v), u the vector part.
	u := Vec3{q.X, q.Y, q.Z}
	t := u.Cross(v).Scale(2)
	return v.Add(t.Scale(q.W)).Add(u.Cross(t))
}

// AxisAngle converts q to an axis-angle vector exactly like robosuite's
// quat2axisangle (used for LIBERO's state): the angle is 2·acos(w) with w
// clipped to [−1, 1], so a quaternion with negative w gives an angle above
// π rather than being flipped to the short way round.
func (q Quat) AxisAngle() Vec3 {
	w := math.Max(-1, math.Min(1, q.W))
	den := math.Sqrt(1 - w*w)
	if den < 1e-9 {
		return Vec3{}
	}
	s := 2 * math.Acos(w) / den
	return Vec3{q.X * s, q.Y * s, q.Z * s}
}

// shortAxisAngle returns the rotation vector of q the short way round
// (angle ≤ π), for controllers that want the smallest correction.
func (q Quat) shortAxisAngle() Vec3 {
	if q.W < 0 {
		q = Quat{W: -q.W, X: -q.X, Y: -q.Y, Z: -q.Z}
	}
	return q.AxisAngle()
}

func clamp(x, lo, hi float64) float64 {
	if x < lo {
		return lo
	}
	if x > hi {
		return hi
	}
	return x
}

// rotZ rotates (x, y) by yaw radians.
func rotZ(x, y, yaw float64) (float64, float64) {
	s, c := math.Sincos(yaw)
	return c*x - s*y, s*x + c*y
}
