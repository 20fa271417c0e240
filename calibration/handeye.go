package calibration

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// Mount says where the camera is.
type Mount string

const (
	// EyeInHand: the camera rides on the gripper; the result is the
	// camera's pose in the gripper frame (gripper ← camera).
	EyeInHand Mount = "eye-in-hand"
	// EyeToHand: the camera is fixed and the target rides on the gripper;
	// the result is the camera's pose in the robot's base frame
	// (base ← camera).
	EyeToHand Mount = "eye-to-hand"
)

// ErrDegenerate is returned when the motions cannot determine the result
// (fewer than three poses, or rotations about a single axis only).
var ErrDegenerate = errors.New("calibration: hand-eye motions are degenerate")

// HandEyeResult is the solution and how well it explains the data.
type HandEyeResult struct {
	// X is the camera's pose (see Mount).
	X Pose
	// Pairs of motions used, and the residuals of A·X = X·B over them:
	// rotation (radians) and translation (metres), RMS and maximum.
	Pairs              int
	RotRMS, RotMax     float64
	TransRMS, TransMax float64
}

// HandEye solves AX = XB. robot[i] is the gripper's pose in the base
// frame (base ← gripper) when target[i], the calibration target's pose in
// the camera frame (camera ← target, e.g. from chessboard extrinsics), was
// observed. Every pair of stations gives one motion pair (A, B); the
// rotation is the least-squares fit of the motions' rotation vectors
// (Park & Martin, by SVD) and the translation the least-squares solution
// of (R_A − I)·t = R_X·t_B − t_A.
func HandEye(robot, target []Pose, mount Mount) (HandEyeResult, error) {
	n := len(robot)
	if n != len(target) {
		return HandEyeResult{}, fmt.Errorf("calibration: %d robot poses and %d target poses", n, len(target))
	}
	if n < 3 {
		return HandEyeResult{}, fmt.Errorf("%w: %d poses, want at least 3 (better 10+ with varied rotations)", ErrDegenerate, n)
	}
	g := make([]Pose, n)
	switch mount {
	case EyeInHand:
		copy(g, robot)
	case EyeToHand:
		for i, p := range robot {
			g[i] = p.Inv()
		}
	default:
		return HandEyeResult{}, fmt.Errorf("calibration: mount %q, want eye-in-hand or eye-to-hand", mount)
	}
	type motion struct{ a, b Pose }
	var ms []motion
	for i := range n {
		for j := i + 1; j < n; j++ {
			a := g[j].Inv().Mul(g[i])
			b := target[j].Mul(target[i].Inv())
			if AngleBetween(a.R, Identity.R) < 1e-3 {
				continue // a pure translation says nothing about the rotation
			}
			ms = append(ms, motion{a, b})
		}
	}
	if len(ms) < 2 {
		return HandEyeResult{}, fmt.Errorf("%w: the robot poses hardly rotate", ErrDegenerate)
	}
	// Rotation: α_k = R_X β_k for the motions' rotation vectors.
	H := mat.NewDense(3, 3, nil)
	for _, m := range ms {
		alpha, beta := VectorFromRotation(m.a.R), VectorFromRotation(m.b.R)
		for r := range 3 {
			for c := range 3 {
				H.Set(r, c, H.At(r, c)+beta[r]*alpha[c])
			}
		}
	}
	var svd mat.SVD
	if !svd.Factorize(H, mat.SVDFull) {
		return HandEyeResult{}, fmt.Errorf("%w: SVD failed", ErrDegenerate)
	}
	if s := svd.Values(nil); s[1] < 1e-9*s[0] {
		return HandEyeResult{}, fmt.Errorf("%w: all rotations are about one axis; rotate about at least two", ErrDegenerate)
	}
	var U, V mat.Dense
	svd.UTo(&U)
	svd.VTo(&V)
	// R = V·diag(1, 1, det(V·Uᵀ))·Uᵀ maximises Σ αᵀ R β.
	var vut mat.Dense
	vut.Mul(&V, U.T())
	d := mat.NewDiagDense(3, []float64{1, 1, math.Copysign(1, mat.Det(&vut))})
	var tmp, Rx mat.Dense
	tmp.Mul(&V, d)
	Rx.Mul(&tmp, U.T())
	var X Pose
	for r := range 3 {
		for c := range 3 {
			X.R[r][c] = Rx.At(r, c)
		}
	}
	// Translation: stack (R_A − I)·t = R_X·t_B − t_A.
	A := mat.NewDense(3*len(ms), 3, nil)
	b := mat.NewVecDense(3*len(ms), nil)
	for k, m := range ms {
		rb := X.Apply(m.b.T) // R_X t_B (X.T is still zero)
		for r := range 3 {
			for c := range 3 {
				v := m.a.R[r][c]
				if r == c {
					v--
				}
				A.Set(3*k+r, c, v)
			}
			b.SetVec(3*k+r, rb[r]-m.a.T[r])
		}
	}
	var t mat.VecDense
	if err := t.SolveVec(A, b); err != nil {
		return HandEyeResult{}, fmt.Errorf("%w: translation: %v", ErrDegenerate, err)
	}
	X.T = [3]float64{t.AtVec(0), t.AtVec(1), t.AtVec(2)}
	res := HandEyeResult{X: X, Pairs: len(ms)}
	for _, m := range ms {
		l, r := m.a.Mul(X), X.Mul(m.b)
		re, te := AngleBetween(l.R, r.R), Distance(l, r)
		res.RotRMS += re * re
		res.TransRMS += te * te
		res.RotMax, res.TransMax = math.Max(res.RotMax, re), math.Max(res.TransMax, te)
	}
	res.RotRMS = math.Sqrt(res.RotRMS / float64(len(ms)))
	res.TransRMS = math.Sqrt(res.TransRMS / float64(len(ms)))
	return res, nil
}
