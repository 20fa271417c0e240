package cv

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/efferent/efferent/calibration"
)

// truth is the camera the synthetic views are rendered with.
var truth = calibration.Intrinsics{Width: 640, Height: 480, Fx: 610, Fy: 605, Cx: 322, Cy: 238,
	D: [5]float64{-0.12, 0.05, 0.001, -0.0008, 0}}

var board = calibration.Board{Cols: 9, Rows: 6, Square: 0.025}

func scene(t testing.TB) *Scene {
	t.Helper()
	if testing.Short() {
		t.Skip("integration: OpenCV")
	}
	s, err := NewScene(truth, board, 2, 0.7)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// viewPose is a random pose of the board in the camera frame, 0.3–0.55 m
// away, tilted up to 35°, fully in view.
func viewPose(rng *rand.Rand, s *Scene) calibration.Pose {
	center := [3]float64{float64(board.Cols-1) * board.Square / 2, float64(board.Rows-1) * board.Square / 2, 0}
	for {
		axis := [3]float64{rng.NormFloat64(), rng.NormFloat64(), 0.3 * rng.NormFloat64()}
		n := math.Sqrt(axis[0]*axis[0] + axis[1]*axis[1] + axis[2]*axis[2])
		a := 35 * math.Pi / 180 * rng.Float64()
		R := calibration.RotationFromVector([3]float64{axis[0] / n * a, axis[1] / n * a, axis[2] / n * a})
		p := calibration.Pose{R: R}
		rc := p.Apply(center)
		p.T = [3]float64{0.06*(2*rng.Float64()-1) - rc[0], 0.04*(2*rng.Float64()-1) - rc[1], 0.3 + 0.25*rng.Float64() - rc[2]}
		if s.Visible(p) {
			return p
		}
	}
}

// detectAll renders and detects every pose.
func detectAll(t *testing.T, s *Scene, poses []calibration.Pose, rng *rand.Rand) []View {
	t.Helper()
	var views []View
	for i, p := range poses {
		img, err := s.Render(p, rng)
		if err != nil {
			t.Fatal(err)
		}
		corners, err := DetectCorners(img, board)
		img.Close()
		if err != nil {
			t.Fatalf("view %d: %v", i, err)
		}
		views = append(views, View{Name: "synthetic", Corners: corners})
	}
	return views
}

// TestIntrinsicsRecovered: 20 rendered views (blur 0.7 px, noise σ 2 grey
// levels) give back the true focal lengths within 1 % (the bar)
// and the principal point within a few pixels; the camera_info YAML
// written from the result reads back equal.
func TestIntrinsicsRecovered(t *testing.T) {
	s := scene(t)
	rng := rand.New(rand.NewPCG(11, 12))
	var poses []calibration.Pose
	for range 20 {
		poses = append(poses, viewPose(rng, s))
	}
	cal, err := Calibrate(detectAll(t, s, poses, rng), board, truth.Width, truth.Height)
	if err != nil {
		t.Fatal(err)
	}
	in := cal.Intrinsics
	efx, efy := math.Abs(in.Fx-truth.Fx)/truth.Fx, math.Abs(in.Fy-truth.Fy)/truth.Fy
	t.Logf("fx %.2f (true %.0f, %.3f %%), fy %.2f (true %.0f, %.3f %%), cx %.2f cy %.2f (true %.0f %.0f), D %.4f (true %.4f), RMS %.3f px",
		in.Fx, truth.Fx, 100*efx, in.Fy, truth.Fy, 100*efy, in.Cx, in.Cy, truth.Cx, truth.Cy, in.D, truth.D, in.RMS)
	if efx > 0.01 || efy > 0.01 || math.Abs(in.Cx-truth.Cx) > 5 || math.Abs(in.Cy-truth.Cy) > 5 {
		t.Fatalf("recovered %+v, want focal lengths within 1 %% and the principal point within 5 px of %+v", in, truth)
	}
	if in.RMS > 0.5 {
		t.Fatalf("reprojection RMS %.3f px: the detections do not fit a pinhole camera", in.RMS)
	}
	// Extrinsics: the board poses come back too.
	worst := 0.0
	for i, p := range poses {
		worst = math.Max(worst, calibration.Distance(cal.Extrinsics[i], p))
	}
	if worst > 0.003 {
		t.Fatalf("board positions recovered within %.1f mm, want 3 mm", worst*1000)
	}
	data, err := in.CameraInfoYAML("synthetic")
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "camera_info.yaml")
	if err := os.WriteFile(f, data, 0o644); err != nil {
		t.Fatal(err)
	}
	back, err := calibration.ReadCameraInfo(f)
	if err != nil || back != in {
		t.Fatalf("camera_info round trip: %+v, %v; want %+v\n%s", back, err, in, data)
	}
}

// TestHandEyeFromImages: hand-eye end to end on rendered images, for both
// mounts. Board poses come from calibrating the rendered views (so they
// carry the detector's and calibration's errors), robot poses get 0.1 mm
// and 0.02° of noise; the camera's pose must come back within 2 mm and
// 0.5° (the bar).
func TestHandEyeFromImages(t *testing.T) {
	s := scene(t)
	for _, mount := range []calibration.Mount{calibration.EyeInHand, calibration.EyeToHand} {
		t.Run(string(mount), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(21, 22))
			// X: gripper ← camera (eye-in-hand) or base ← camera (eye-to-hand).
			X := calibration.Pose{R: calibration.RotationFromVector([3]float64{0.1, -0.2, 1.4}), T: [3]float64{0.04, -0.02, 0.09}}
			// Fixed: base ← board (eye-in-hand) or gripper ← board (eye-to-hand).
			F := calibration.Pose{R: calibration.RotationFromVector([3]float64{3.0, 0.2, 0.1}), T: [3]float64{0.55, 0.05, 0.02}}
			if mount == calibration.EyeToHand {
				X = calibration.Pose{R: calibration.RotationFromVector([3]float64{2.2, 0.3, -0.4}), T: [3]float64{1.1, 0.4, 0.9}}
				F = calibration.Pose{R: calibration.RotationFromVector([3]float64{0.2, 0.1, 0.3}), T: [3]float64{0.0, 0.01, 0.05}}
			}
			var robot, cams []calibration.Pose
			for range 18 {
				c := viewPose(rng, s) // camera ← board
				var g calibration.Pose
				if mount == calibration.EyeInHand {
					g = F.Mul(c.Inv()).Mul(X.Inv()) // base ← gripper
				} else {
					g = X.Mul(c).Mul(F.Inv())
				}
				// The robot's own reading of its pose is not exact either.
				n := calibration.RotationFromVector([3]float64{rng.NormFloat64() * 0.02 * math.Pi / 180, rng.NormFloat64() * 0.02 * math.Pi / 180, rng.NormFloat64() * 0.02 * math.Pi / 180})
				noisy := calibration.Pose{R: calibration.Pose{R: n}.Mul(calibration.Pose{R: g.R}).R, T: g.T}
				for i := range noisy.T {
					noisy.T[i] += rng.NormFloat64() * 0.0001
				}
				robot, cams = append(robot, noisy), append(cams, c)
			}
			cal, err := Calibrate(detectAll(t, s, cams, rng), board, truth.Width, truth.Height)
			if err != nil {
				t.Fatal(err)
			}
			res, err := calibration.HandEye(robot, cal.Extrinsics, mount)
			if err != nil {
				t.Fatal(err)
			}
			rotErr := calibration.AngleBetween(res.X.R, X.R) * 180 / math.Pi
			transErr := calibration.Distance(res.X, X) * 1000
			t.Logf("%s: error %.3f° and %.2f mm; residuals RMS %.3f° / %.2f mm over %d pairs; intrinsics RMS %.3f px",
				mount, rotErr, transErr, res.RotRMS*180/math.Pi, res.TransRMS*1000, res.Pairs, cal.Intrinsics.RMS)
			if rotErr > 0.5 || transErr > 2 {
				t.Fatalf("hand-eye error %.3f° / %.2f mm, want ≤ 0.5° / 2 mm", rotErr, transErr)
			}
		})
	}
}

func TestDetectRefuses(t *testing.T) {
	s := scene(t)
	p := viewPose(rand.New(rand.NewPCG(1, 2)), s)
	img, err := s.Render(p, rand.New(rand.NewPCG(3, 4)))
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	if _, err := DetectCorners(img, calibration.Board{Cols: 7, Rows: 7, Square: 0.025}); err == nil {
		t.Fatal("found a 7x7 board in a 9x6 one")
	}
	if _, err := Calibrate(nil, board, 640, 480); err == nil {
		t.Fatal("calibrated from no views")
	}
}
