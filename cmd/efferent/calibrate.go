package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"gocv.io/x/gocv"
	"gopkg.in/yaml.v3"

	"github.com/efferent/efferent/calibration"
	calcv "github.com/efferent/efferent/calibration/cv"
)

func calibrateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "calibrate",
		Short: "Camera calibration: intrinsics from chessboard images, hand-eye from robot and board poses",
	}
	cmd.AddCommand(calibrateIntrinsicsCmd(), calibrateHandEyeCmd())
	return cmd
}

func calibrateIntrinsicsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "intrinsics",
		Short: "Camera matrix and distortion from chessboard images, written as ROS camera_info YAML",
		Long: `intrinsics finds the chessboard's inner corners (--board COLSxROWS, e.g.
9x6, squares of --square metres) in every image of --images (PNG/JPEG, sorted
by name), refines them to sub-pixel accuracy, and calibrates a pinhole camera
with plumb-bob distortion (fx, fy, cx, cy, k1, k2, p1, p2, k3) with OpenCV. It
prints the reprojection RMS overall and per image and writes --out as ROS
camera_info YAML. --extrinsics also writes the board's pose in the camera
frame per image, the input of "efferent calibrate handeye".`,
		Args: cobra.NoArgs,
		RunE: runCalibrateIntrinsics,
	}
	f := cmd.Flags()
	f.String("images", "", "directory of chessboard images (required)")
	f.String("board", "9x6", "inner corners, COLSxROWS")
	f.Float64("square", 0.025, "square side in metres")
	f.String("out", "camera_info.yaml", "camera_info YAML to write")
	f.String("name", "camera", "camera_name in the YAML")
	f.String("extrinsics", "", "also write the board pose per image here (YAML), for handeye")
	return cmd
}

func parseBoard(s string, square float64) (calibration.Board, error) {
	c, r, ok := strings.Cut(strings.ToLower(s), "x")
	cols, err1 := strconv.Atoi(c)
	rows, err2 := strconv.Atoi(r)
	if !ok || err1 != nil || err2 != nil {
		return calibration.Board{}, fmt.Errorf("--board %q: want COLSxROWS inner corners, e.g. 9x6", s)
	}
	b := calibration.Board{Cols: cols, Rows: rows, Square: square}
	return b, b.Validate()
}

func runCalibrateIntrinsics(cmd *cobra.Command, _ []string) error {
	f := cmd.Flags()
	dir, _ := f.GetString("images")
	boardS, _ := f.GetString("board")
	square, _ := f.GetFloat64("square")
	out, _ := f.GetString("out")
	name, _ := f.GetString("name")
	extOut, _ := f.GetString("extrinsics")
	if dir == "" {
		return fmt.Errorf("--images: required (a directory of chessboard photos)")
	}
	b, err := parseBoard(boardS, square)
	if err != nil {
		return err
	}
	files, err := imageFiles(dir)
	if err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	var views []calcv.View
	width, height := 0, 0
	for _, file := range files {
		img := gocv.IMRead(file, gocv.IMReadGrayScale)
		if img.Empty() {
			img.Close()
			fmt.Fprintf(w, "%-32s unreadable, skipped\n", filepath.Base(file))
			continue
		}
		if width == 0 {
			width, height = img.Cols(), img.Rows()
		} else if img.Cols() != width || img.Rows() != height {
			img.Close()
			return fmt.Errorf("%s is %dx%d, the first image %dx%d: one camera, one resolution", file, img.Cols(), img.Rows(), width, height)
		}
		corners, err := calcv.DetectCorners(img, b)
		img.Close()
		if err != nil {
			fmt.Fprintf(w, "%-32s no %s board found, skipped\n", filepath.Base(file), boardS)
			continue
		}
		views = append(views, calcv.View{Name: filepath.Base(file), Corners: corners})
	}
	cal, err := calcv.Calibrate(views, b, width, height)
	if err != nil {
		return err
	}
	in := cal.Intrinsics
	for i, v := range views {
		fmt.Fprintf(w, "%-32s reprojection RMS %.3f px\n", v.Name, cal.ViewRMS[i])
	}
	fmt.Fprintf(w, "%d of %d images used, %dx%d\n", len(views), len(files), width, height)
	fmt.Fprintf(w, "fx %.3f  fy %.3f  cx %.3f  cy %.3f\n", in.Fx, in.Fy, in.Cx, in.Cy)
	fmt.Fprintf(w, "distortion (k1 k2 p1 p2 k3) %.5f %.5f %.5f %.5f %.5f\n", in.D[0], in.D[1], in.D[2], in.D[3], in.D[4])
	fmt.Fprintf(w, "reprojection RMS %.3f px\n", in.RMS)
	data, err := in.CameraInfoYAML(name)
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, data, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(w, "wrote %s\n", out)
	if extOut != "" {
		var ps []poseYAML
		for i, p := range cal.Extrinsics {
			ps = append(ps, toPoseYAML(views[i].Name, p))
		}
		if err := writeYAML(extOut, map[string]any{"frame": "camera <- board", "poses": ps}); err != nil {
			return err
		}
		fmt.Fprintf(w, "wrote %s (board pose per image)\n", extOut)
	}
	return nil
}

// imageFiles lists the PNG/JPEG files of dir, sorted.
func imageFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("--images: %w", err)
	}
	var files []string
	for _, e := range entries {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".png", ".jpg", ".jpeg", ".bmp":
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	slices.Sort(files)
	if len(files) == 0 {
		return nil, fmt.Errorf("--images %s: no PNG, JPEG or BMP files", dir)
	}
	return files, nil
}

// poseYAML is one pose in the files calibrate reads and writes: a position
// (metres) and either a rotation vector (radians, OpenCV's rvec) or a
// quaternion [x, y, z, w] (ROS's order).
type poseYAML struct {
	Name           string    `yaml:"name,omitempty"`
	Position       []float64 `yaml:"position,flow"`
	RotationVector []float64 `yaml:"rotation_vector,flow,omitempty"`
	Quaternion     []float64 `yaml:"quaternion,flow,omitempty"`
}

func toPoseYAML(name string, p calibration.Pose) poseYAML {
	rv := calibration.VectorFromRotation(p.R)
	return poseYAML{Name: name, Position: p.T[:], RotationVector: rv[:]}
}

func (py poseYAML) pose() (calibration.Pose, error) {
	if len(py.Position) != 3 {
		return calibration.Pose{}, fmt.Errorf("position: want [x, y, z]")
	}
	var p calibration.Pose
	copy(p.T[:], py.Position)
	switch {
	case len(py.RotationVector) == 3 && py.Quaternion == nil:
		p.R = calibration.RotationFromVector([3]float64(py.RotationVector))
	case len(py.Quaternion) == 4 && py.RotationVector == nil:
		q := py.Quaternion
		var ok bool
		if p.R, ok = calibration.RotationFromQuaternion(q[0], q[1], q[2], q[3]); !ok {
			return calibration.Pose{}, fmt.Errorf("quaternion: zero")
		}
	default:
		return calibration.Pose{}, fmt.Errorf("give either rotation_vector [rx, ry, rz] or quaternion [x, y, z, w]")
	}
	for _, v := range append(py.Position, append(py.RotationVector, py.Quaternion...)...) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return calibration.Pose{}, fmt.Errorf("non-finite value")
		}
	}
	return p, nil
}

func readPoses(path string) ([]calibration.Pose, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(data) > 16<<20 {
		return nil, fmt.Errorf("%s: %d bytes, want at most 16 MiB", path, len(data))
	}
	var doc struct {
		Frame string     `yaml:"frame"`
		Poses []poseYAML `yaml:"poses"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []calibration.Pose
	for i, py := range doc.Poses {
		p, err := py.pose()
		if err != nil {
			return nil, fmt.Errorf("%s: poses[%d]: %w", path, i, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func writeYAML(path string, v any) error {
	data, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

func calibrateHandEyeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "handeye",
		Short: "The camera's pose on the gripper (eye-in-hand) or in the base (eye-to-hand): AX = XB",
		Long: `handeye reads --robot-poses (the gripper's pose in the robot's base frame
at each station, as the robot reports it) and --target-poses (the board's pose
in the camera frame at the same stations, e.g. the --extrinsics file of
"efferent calibrate intrinsics"), both YAML lists of
{position: [x, y, z], rotation_vector: [rx, ry, rz]} or
{position: [...], quaternion: [x, y, z, w]} under "poses:", and solves
AX = XB. It prints the camera's pose (gripper <- camera for eye-in-hand,
base <- camera for eye-to-hand) and the residuals over every pair of
stations, and writes --out. Use 10 or more stations with rotations about
different axes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := cmd.Flags()
			rp, _ := f.GetString("robot-poses")
			tp, _ := f.GetString("target-poses")
			mount, _ := f.GetString("mount")
			out, _ := f.GetString("out")
			if rp == "" || tp == "" {
				return fmt.Errorf("--robot-poses and --target-poses: both required")
			}
			robot, err := readPoses(rp)
			if err != nil {
				return err
			}
			target, err := readPoses(tp)
			if err != nil {
				return err
			}
			res, err := calibration.HandEye(robot, target, calibration.Mount(mount))
			if err != nil {
				return err
			}
			return printHandEye(cmd.OutOrStdout(), res, calibration.Mount(mount), out)
		},
	}
	f := cmd.Flags()
	f.String("robot-poses", "", "YAML: base <- gripper per station (required)")
	f.String("target-poses", "", "YAML: camera <- board per station (required)")
	f.String("mount", string(calibration.EyeInHand), "eye-in-hand or eye-to-hand")
	f.String("out", "handeye.yaml", "YAML to write the camera's pose to")
	return cmd
}

func printHandEye(w io.Writer, res calibration.HandEyeResult, mount calibration.Mount, out string) error {
	frame := "gripper <- camera"
	if mount == calibration.EyeToHand {
		frame = "base <- camera"
	}
	rv := calibration.VectorFromRotation(res.X.R)
	fmt.Fprintf(w, "%s (%s)\n", mount, frame)
	fmt.Fprintf(w, "position        %.5f %.5f %.5f m\n", res.X.T[0], res.X.T[1], res.X.T[2])
	fmt.Fprintf(w, "rotation vector %.5f %.5f %.5f rad\n", rv[0], rv[1], rv[2])
	fmt.Fprintf(w, "residuals over %d station pairs: rotation RMS %.3f° max %.3f°, translation RMS %.2f mm max %.2f mm\n",
		res.Pairs, res.RotRMS*180/math.Pi, res.RotMax*180/math.Pi, res.TransRMS*1000, res.TransMax*1000)
	if err := writeYAML(out, map[string]any{"frame": frame, "mount": string(mount), "pose": toPoseYAML("camera", res.X),
		"residuals": map[string]float64{"rotation_rms_deg": res.RotRMS * 180 / math.Pi, "translation_rms_m": res.TransRMS, "pairs": float64(res.Pairs)}}); err != nil {
		return err
	}
	fmt.Fprintf(w, "wrote %s\n", out)
	return nil
}
