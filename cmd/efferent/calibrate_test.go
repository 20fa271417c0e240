package main

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"gocv.io/x/gocv"
	"gopkg.in/yaml.v3"

	"github.com/efferent/efferent/calibration"
	calcv "github.com/efferent/efferent/calibration/cv"
)

// TestCalibrateCommands: `efferent calibrate intrinsics` on a directory of
// rendered chessboard PNGs (with one image that has no board), then
// `calibrate handeye` on robot poses written by the test and the board
// poses the first command wrote; both results match the rendering's truth.
func TestCalibrateCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: OpenCV")
	}
	truth := calibration.Intrinsics{Width: 640, Height: 480, Fx: 600, Fy: 600, Cx: 320, Cy: 240, D: [5]float64{-0.1, 0.02}}
	b := calibration.Board{Cols: 9, Rows: 6, Square: 0.025}
	s, err := calcv.NewScene(truth, b, 1.5, 0.6)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	dir := t.TempDir()
	imgs := filepath.Join(dir, "images")
	os.Mkdir(imgs, 0o755)
	rng := rand.New(rand.NewPCG(5, 6))
	X := calibration.Pose{R: calibration.RotationFromVector([3]float64{0.05, 0.1, -1.5}), T: [3]float64{0.03, 0.01, 0.08}}
	W := calibration.Pose{R: calibration.RotationFromVector([3]float64{3.1, 0, 0}), T: [3]float64{0.6, 0, 0}}
	var robot bytes.Buffer
	robot.WriteString("poses:\n")
	n := 0
	for n < 15 {
		c := calibration.Pose{R: calibration.RotationFromVector([3]float64{0.5 * (rng.Float64() - 0.5), 0.5 * (rng.Float64() - 0.5), 0.3 * (rng.Float64() - 0.5)})}
		ctr := c.Apply([3]float64{0.1, 0.0625, 0})
		c.T = [3]float64{-ctr[0] + 0.03*(rng.Float64()-0.5), -ctr[1] + 0.03*(rng.Float64()-0.5), 0.35 + 0.15*rng.Float64() - ctr[2]}
		if !s.Visible(c) {
			continue
		}
		img, err := s.Render(c, rng)
		if err != nil {
			t.Fatal(err)
		}
		gocv.IMWrite(filepath.Join(imgs, fmt.Sprintf("view%02d.png", n)), img)
		img.Close()
		g := W.Mul(c.Inv()).Mul(X.Inv()) // base ← gripper
		rv := calibration.VectorFromRotation(g.R)
		fmt.Fprintf(&robot, "  - {position: [%.9f, %.9f, %.9f], rotation_vector: [%.9f, %.9f, %.9f]}\n", g.T[0], g.T[1], g.T[2], rv[0], rv[1], rv[2])
		n++
	}
	blank := gocv.NewMatWithSize(480, 640, gocv.MatTypeCV8UC1)
	gocv.IMWrite(filepath.Join(imgs, "zz-no-board.png"), blank)
	blank.Close()

	run := func(args ...string) string {
		t.Helper()
		cmd := calibrateCmd()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(args)
		if err := cmd.Execute(); err != nil {
			t.Fatalf("calibrate %v: %v\n%s", args, err, out.String())
		}
		return out.String()
	}
	info, ext := filepath.Join(dir, "camera_info.yaml"), filepath.Join(dir, "board_poses.yaml")
	out := run("intrinsics", "--images", imgs, "--board", "9x6", "--square", "0.025", "--out", info, "--extrinsics", ext)
	t.Log(out)
	in, err := calibration.ReadCameraInfo(info)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(in.Fx-600)/600 > 0.01 || math.Abs(in.Fy-600)/600 > 0.01 || !bytes.Contains([]byte(out), []byte("zz-no-board.png                  no 9x6 board found")) {
		t.Fatalf("intrinsics %+v", in)
	}
	rp := filepath.Join(dir, "robot_poses.yaml")
	os.WriteFile(rp, robot.Bytes(), 0o644)
	he := filepath.Join(dir, "handeye.yaml")
	out = run("handeye", "--robot-poses", rp, "--target-poses", ext, "--mount", "eye-in-hand", "--out", he)
	t.Log(out)
	var got struct {
		Pose calibration.PoseYAML `yaml:"pose"`
	}
	data, _ := os.ReadFile(he)
	if err := yaml.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	p, err := got.Pose.Pose()
	if err != nil {
		t.Fatal(err)
	}
	if d, a := calibration.Distance(p, X), calibration.AngleBetween(p.R, X.R); d > 0.002 || a > 0.5*math.Pi/180 {
		t.Fatalf("hand-eye %+v: %.2f mm, %.3f° from the truth", p, d*1000, a*180/math.Pi)
	}
}
