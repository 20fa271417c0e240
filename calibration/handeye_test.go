package calibration

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func randomRotation(rng *rand.Rand, maxAngle float64) [3][3]float64 {
	v := [3]float64{rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()}
	n := math.Sqrt(v[0]*v[0] + v[1]*v[1] + v[2]*v[2])
	a := maxAngle * rng.Float64()
	return RotationFromVector([3]float64{v[0] / n * a, v[1] / n * a, v[2] / n * a})
}

// noisy perturbs p's orientation by about rot radians and its position by
// about trans metres, independently (as a robot's or a detector's errors).
func noisy(rng *rand.Rand, p Pose, rot, trans float64) Pose {
	n := RotationFromVector([3]float64{rng.NormFloat64() * rot, rng.NormFloat64() * rot, rng.NormFloat64() * rot})
	out := Pose{R: Pose{R: n}.Mul(Pose{R: p.R}).R, T: p.T}
	for i := range out.T {
		out.T[i] += rng.NormFloat64() * trans
	}
	return out
}

// Stations is a hand-eye data set generated from a known X: the robot
// moves the gripper around; target poses follow from the fixed geometry.
func stations(rng *rand.Rand, X Pose, mount Mount, n int, rotNoise, transNoise float64) (robot, target []Pose) {
	world := Pose{R: randomRotation(rng, math.Pi), T: [3]float64{0.6, 0.1, 0.0}} // base ← target (eye-in-hand) or gripper ← target (eye-to-hand)
	for range n {
		g := Pose{R: randomRotation(rng, 0.6), T: [3]float64{0.4 + 0.2*rng.Float64(), -0.2 + 0.4*rng.Float64(), 0.3 + 0.2*rng.Float64()}}
		var c Pose // camera ← target
		if mount == EyeInHand {
			c = g.Mul(X).Inv().Mul(world)
		} else {
			c = X.Inv().Mul(g).Mul(world)
		}
		robot = append(robot, noisy(rng, g, rotNoise, transNoise))
		target = append(target, noisy(rng, c, rotNoise, transNoise))
	}
	return robot, target
}

// TestHandEyeRecovers: for both mounts, 15 stations with 0.05° and 0.2 mm
// of noise on every pose recover X within 0.5° and 2 mm.
func TestHandEyeRecovers(t *testing.T) {
	for _, mount := range []Mount{EyeInHand, EyeToHand} {
		rng := rand.New(rand.NewPCG(7, 8))
		X := Pose{R: randomRotation(rng, math.Pi), T: [3]float64{0.05, -0.03, 0.12}}
		if mount == EyeToHand {
			X.T = [3]float64{1.2, 0.3, 0.8}
		}
		robot, target := stations(rng, X, mount, 15, 0.05*math.Pi/180, 0.0002)
		res, err := HandEye(robot, target, mount)
		if err != nil {
			t.Fatal(err)
		}
		rotErr, transErr := AngleBetween(res.X.R, X.R)*180/math.Pi, Distance(res.X, X)*1000
		t.Logf("%s: rotation error %.3f°, translation error %.2f mm; residuals rot RMS %.3f°, trans RMS %.2f mm over %d pairs",
			mount, rotErr, transErr, res.RotRMS*180/math.Pi, res.TransRMS*1000, res.Pairs)
		if rotErr > 0.5 || transErr > 2 {
			t.Fatalf("%s: error %.3f° / %.2f mm, want ≤ 0.5° / 2 mm", mount, rotErr, transErr)
		}
		// Exact data: exact answer.
		robot, target = stations(rand.New(rand.NewPCG(9, 10)), X, mount, 6, 0, 0)
		res, err = HandEye(robot, target, mount)
		if err != nil || AngleBetween(res.X.R, X.R) > 1e-7 || Distance(res.X, X) > 1e-9 {
			t.Fatalf("%s without noise: %v, errors %g rad %g m", mount, err, AngleBetween(res.X.R, X.R), Distance(res.X, X))
		}
	}
}

func TestHandEyeDegenerate(t *testing.T) {
	X := Pose{R: Identity.R, T: [3]float64{0, 0, 0.1}}
	// All rotations about z: the translation along z is unobservable and
	// the rotation fit ambiguous.
	var robot, target []Pose
	for i := range 5 {
		g := Pose{R: RotationFromVector([3]float64{0, 0, 0.3 * float64(i)}), T: [3]float64{0.5, 0, 0.4}}
		robot = append(robot, g)
		target = append(target, g.Mul(X).Inv())
	}
	if _, err := HandEye(robot, target, EyeInHand); !errors.Is(err, ErrDegenerate) {
		t.Fatalf("single-axis rotations: %v, want ErrDegenerate", err)
	}
	if _, err := HandEye(robot[:2], target[:2], EyeInHand); !errors.Is(err, ErrDegenerate) {
		t.Fatalf("two poses: %v", err)
	}
}

func TestRodrigues(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for range 1000 {
		v := [3]float64{rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()}
		n := math.Sqrt(v[0]*v[0] + v[1]*v[1] + v[2]*v[2])
		a := math.Pi * rng.Float64()
		for i := range v {
			v[i] *= a / n
		}
		back := VectorFromRotation(RotationFromVector(v))
		for i := range v {
			if math.Abs(back[i]-v[i]) > 1e-6 {
				t.Fatalf("%v → %v", v, back)
			}
		}
	}
	p := Pose{R: RotationFromVector([3]float64{0.1, 0.2, 0.3}), T: [3]float64{1, 2, 3}}
	if id := p.Mul(p.Inv()); AngleBetween(id.R, Identity.R) > 1e-7 || Distance(id, Identity) > 1e-12 { // acos near 1 resolves ~1e-8
		t.Fatalf("p·p⁻¹ = %+v", id)
	}
}
