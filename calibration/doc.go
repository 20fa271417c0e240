// Package calibration computes camera geometry: intrinsics written and read
// as ROS camera_info YAML, rigid poses (rotation vectors as OpenCV's
// Rodrigues form), and hand-eye calibration — solving AX = XB for the
// camera's pose on the gripper (eye-in-hand) or in the robot's base
// (eye-to-hand) from robot poses and calibration-target poses, with gonum;
// and the files `efferent calibrate` reads and writes (pose lists, the
// hand-eye result). It is pure Go; detecting chessboards (in images or image
// files) and calibrating intrinsics with OpenCV is the leaf package
// calibration/cv.
package calibration
