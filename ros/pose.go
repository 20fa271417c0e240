package ros

import "math"

// quat is a unit quaternion (w, x, y, z).
type quat [4]float64

// pose is a position (m) and an orientation in the robot's base frame.
type pose struct {
	p [3]float64
	q quat
}

var identity = quat{1, 0, 0, 0}

// poseFromColumnMajor reads a 4×4 homogeneous transform stored column by
// column (libfranka's O_T_EE).
func poseFromColumnMajor(m [16]float64) pose {
	var r [3][3]float64
	for row := range 3 {
		for col := range 3 {
			r[row][col] = m[col*4+row]
		}
	}
	return pose{p: [3]float64{m[12], m[13], m[14]}, q: quatFromMatrix(r)}
}

// quatFromMatrix converts a rotation matrix (Shepperd's method: the
// largest diagonal term keeps it well conditioned).
func quatFromMatrix(r [3][3]float64) quat {
	tr := r[0][0] + r[1][1] + r[2][2]
	var q quat
	switch {
	case tr > 0:
		s := 2 * math.Sqrt(tr+1)
		q = quat{s / 4, (r[2][1] - r[1][2]) / s, (r[0][2] - r[2][0]) / s, (r[1][0] - r[0][1]) / s}
	case r[0][0] > r[1][1] && r[0][0] > r[2][2]:
		s := 2 * math.Sqrt(1+r[0][0]-r[1][1]-r[2][2])
		q = quat{(r[2][1] - r[1][2]) / s, s / 4, (r[0][1] + r[1][0]) / s, (r[0][2] + r[2][0]) / s}
	case r[1][1] > r[2][2]:
		s := 2 * math.Sqrt(1+r[1][1]-r[0][0]-r[2][2])
		q = quat{(r[0][2] - r[2][0]) / s, (r[0][1] + r[1][0]) / s, s / 4, (r[1][2] + r[2][1]) / s}
	default:
		s := 2 * math.Sqrt(1+r[2][2]-r[0][0]-r[1][1])
		q = quat{(r[1][0] - r[0][1]) / s, (r[0][2] + r[2][0]) / s, (r[1][2] + r[2][1]) / s, s / 4}
	}
	return q.normalized()
}

// quatFromAxisAngle is the rotation by |v| radians about v.
func quatFromAxisAngle(v [3]float64) quat {
	th := math.Sqrt(v[0]*v[0] + v[1]*v[1] + v[2]*v[2])
	if th < 1e-12 {
		return identity
	}
	s := math.Sin(th/2) / th
	return quat{math.Cos(th / 2), v[0] * s, v[1] * s, v[2] * s}
}

// mul is the Hamilton product q·r (r applied first).
func (q quat) mul(r quat) quat {
	return quat{
		q[0]*r[0] - q[1]*r[1] - q[2]*r[2] - q[3]*r[3],
		q[0]*r[1] + q[1]*r[0] + q[2]*r[3] - q[3]*r[2],
		q[0]*r[2] - q[1]*r[3] + q[2]*r[0] + q[3]*r[1],
		q[0]*r[3] + q[1]*r[2] - q[2]*r[1] + q[3]*r[0],
	}
}

func (q quat) normalized() quat {
	n := math.Sqrt(q[0]*q[0] + q[1]*q[1] + q[2]*q[2] + q[3]*q[3])
	if n == 0 || math.IsNaN(n) {
		return identity
	}
	if q[0] < 0 { // one hemisphere, so equal rotations compare equal
		n = -n
	}
	return quat{q[0] / n, q[1] / n, q[2] / n, q[3] / n}
}

// axisAngle is the rotation vector of q (LIBERO's state orientation).
func (q quat) axisAngle() [3]float64 {
	q = q.normalized()
	s := math.Sqrt(q[1]*q[1] + q[2]*q[2] + q[3]*q[3])
	if s < 1e-12 {
		return [3]float64{}
	}
	th := 2 * math.Atan2(s, q[0])
	return [3]float64{q[1] / s * th, q[2] / s * th, q[3] / s * th}
}

// angle is the rotation between q and r (radians, 0..π).
func (q quat) angle(r quat) float64 {
	d := math.Abs(q[0]*r[0] + q[1]*r[1] + q[2]*r[2] + q[3]*r[3])
	return 2 * math.Acos(min(1, d))
}
