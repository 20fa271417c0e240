package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/efferent/efferent/calibration"
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

func runCalibrateIntrinsics(cmd *cobra.Command, _ []string) error {
	f := cmd.Flags()
	dir, _ := f.GetString("images")
	boardS, _ := f.GetString("board")
	square, _ := f.GetFloat64("square")
	out, _ := f.GetString("out")
	name, _ := f.GetString("name")
	extOut, _ := f.GetString("extrinsics")
	if err := needOpenCV("calibrate intrinsics"); err != nil {
		return err
	}
	if dir == "" {
		return fmt.Errorf("--images: required (a directory of chessboard photos)")
	}
	b, err := calibration.ParseBoard(boardS, square)
	if err != nil {
		return err
	}
	files, err := calibration.ImageFiles(dir)
	if err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	cal, err := calibrateCamera(files, b, func(name string, unreadable bool) {
		if unreadable {
			fmt.Fprintf(w, "%-32s unreadable, skipped\n", name)
		} else {
			fmt.Fprintf(w, "%-32s no %s board found, skipped\n", name, boardS)
		}
	})
	if err != nil {
		return err
	}
	in := cal.Intrinsics
	for i, name := range cal.Views {
		fmt.Fprintf(w, "%-32s reprojection RMS %.3f px\n", name, cal.ViewRMS[i])
	}
	fmt.Fprintf(w, "%d of %d images used, %dx%d\n", len(cal.Views), len(files), cal.Width, cal.Height)
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
		if err := calibration.WritePoses(extOut, "camera <- board", cal.Views, cal.Extrinsics); err != nil {
			return err
		}
		fmt.Fprintf(w, "wrote %s (board pose per image)\n", extOut)
	}
	return nil
}

// cameraFit is an intrinsics calibration (calibrateCamera): the images
// the board was found in, by name, their size, the camera, and per image
// the board's pose (camera <- board) and the reprojection RMS in pixels.
type cameraFit struct {
	Views         []string
	Width, Height int
	Intrinsics    calibration.Intrinsics
	Extrinsics    []calibration.Pose
	ViewRMS       []float64
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
			robot, err := calibration.ReadPoses(rp)
			if err != nil {
				return err
			}
			target, err := calibration.ReadPoses(tp)
			if err != nil {
				return err
			}
			m := calibration.Mount(mount)
			res, err := calibration.HandEye(robot, target, m)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			calibration.PrintHandEye(w, res, m)
			if err := calibration.WriteHandEye(out, res, m); err != nil {
				return err
			}
			fmt.Fprintf(w, "wrote %s\n", out)
			return nil
		},
	}
	f := cmd.Flags()
	f.String("robot-poses", "", "YAML: base <- gripper per station (required)")
	f.String("target-poses", "", "YAML: camera <- board per station (required)")
	f.String("mount", string(calibration.EyeInHand), "eye-in-hand or eye-to-hand")
	f.String("out", "handeye.yaml", "YAML to write the camera's pose to")
	return cmd
}
