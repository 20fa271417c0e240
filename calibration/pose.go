package calibration

import (
	"math"
)

// Pose is a rigid transform: a point p in the child frame is R·p + T in the
// parent frame (metres).
type Pose struct {
	R [3][3]float64
	T [3]float64
}

// Identity is the pose that changes nothing.
var Identity = Pose{R: [3][3]float64{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}}

// Mul is the composition p·q (q applied first).
func (p Pose) Mul(q Pose) Pose {
	var out Pose
	for i := range 3 {
		for j := range 3 {
			for k := range 3 {
				out.R[i][j] += p.R[i][k] * q.R[k][j]
			}
		}
		out.T[i] = p.T[i]
		for k := range 3 {
			out.T[i] += p.R[i][k] * q.T[k]
		}
	}
	return out
}

// Inv is the inverse transform.
func (p Pose) Inv() Pose {
	var out Pose
	for i := range 3 {
		for j := range 3 {
			out.R[i][j] = p.R[j][i]
		}
	}
	for i := range 3 {
		for k := range 3 {
			out.T[i] -= out.R[i][k] * p.T[k]
		}
	}
	return out
}

// Apply transforms a point.
func (p Pose) Apply(x [3]float64) [3]float64 {
	var y [3]float64
	for i := range 3 {
		y[i] = p.T[i]
		for k := range 3 {
			y[i] += p.R[i][k] * x[k]
		}
	}
	return y
}

// RotationFromVector is the rotation by |v| radians about v (Rodrigues).
func RotationFromVector(v [3]float64) [3][3]float64 {
	th := math.Sqrt(v[0]*v[0] + v[1]*v[1] + v[2]*v[2])
	if th < 1e-15 {
		return Identity.R
	}
	k := [3]float64{v[0] / th, v[1] / th, v[2] / th}
	c, s := math.Cos(th), math.Sin(th)
	C := 1 - c
	return [3][3]float64{
		{c + k[0]*k[0]*C, k[0]*k[1]*C - k[2]*s, k[0]*k[2]*C + k[1]*s},
		{k[1]*k[0]*C + k[2]*s, c + k[1]*k[1]*C, k[1]*k[2]*C - k[0]*s},
		{k[2]*k[0]*C - k[1]*s, k[2]*k[1]*C + k[0]*s, c + k[2]*k[2]*C},
	}
}

// RotationFromQuaternion is the rotation of the quaternion (x, y, z, w),
// ROS's order; it need not be normalised (false when it is zero).
func RotationFromQuaternion(x, y, z, w float64) ([3][3]float64, bool) {
	n := math.Sqrt(x*x + y*y + z*z + w*w)
	if n < 1e-9 {
		return [3][3]float64{}, false
	}
	x, y, z, w = x/n, y/n, z/n, w/n
	return [3][3]float64{
		{1 - 2*(y*y+z*z), 2 * (x*y - w*z), 2 * (x*z + w*y)},
		{2 * (x*y + w*z), 1 - 2*(x*x+z*z), 2 * (y*z - w*x)},
		{2 * (x*z - w*y), 2 * (y*z + w*x), 1 - 2*(x*x+y*y)},
	}, true
}

// VectorFromRotation is the rotation vector of R (the inverse of
// RotationFromVector, angle in [0, π]).
func VectorFromRotation(R [3][3]float64) [3]float64 {
	c := (R[0][0] + R[1][1] + R[2][2] - 1) / 2
	c = math.Max(-1, math.Min(1, c))
	th := math.Acos(c)
	if th < 1e-12 {
		return [3]float64{}
	}
	if math.Pi-th < 1e-6 {
		// Near π the antisymmetric part vanishes: take the axis from the
		// symmetric part (R = 2kkᵀ − I).
		var k [3]float64
		i := 0
		for j := 1; j < 3; j++ {
			if R[j][j] > R[i][i] {
				i = j
			}
		}
		k[i] = math.Sqrt(math.Max(0, (R[i][i]+1)/2))
		for j := range 3 {
			if j != i {
				k[j] = (R[i][j] + R[j][i]) / (4 * k[i])
			}
		}
		return [3]float64{k[0] * th, k[1] * th, k[2] * th}
	}
	s := 2 * math.Sin(th)
	return [3]float64{(R[2][1] - R[1][2]) / s * th, (R[0][2] - R[2][0]) / s * th, (R[1][0] - R[0][1]) / s * th}
}

// PoseFromVectors builds a pose from a rotation vector and a translation
// (OpenCV's rvec, tvec).
func PoseFromVectors(rvec, tvec [3]float64) Pose {
	return Pose{R: RotationFromVector(rvec), T: tvec}
}

// AngleBetween is the angle (radians) of the rotation taking a to b.
func AngleBetween(a, b [3][3]float64) float64 {
	var tr float64
	for i := range 3 {
		for k := range 3 {
			tr += a[k][i] * b[k][i] // trace(aᵀb)
		}
	}
	return math.Acos(math.Max(-1, math.Min(1, (tr-1)/2)))
}

// Distance is the distance between the translations of a and b.
func Distance(a, b Pose) float64 {
	d0, d1, d2 := a.T[0]-b.T[0], a.T[1]-b.T[1], a.T[2]-b.T[2]
	return math.Sqrt(d0*d0 + d1*d1 + d2*d2)
}
