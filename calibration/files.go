package calibration

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// The files `efferent calibrate` reads and writes, and the parsing of its
// inputs, live here rather than in the command so that they can be tested
// and reused without OpenCV. Functions given a flag's value name the flag
// in their errors, as the command returns them.

// MaxPoseFile bounds the size of a pose file ReadPoses accepts.
const MaxPoseFile = 16 << 20

// PoseYAML is one pose in the YAML files the calibrate commands read and
// write: a position (metres) and either a rotation vector (radians,
// OpenCV's rvec) or a quaternion [x, y, z, w] (ROS's order).
type PoseYAML struct {
	Name           string    `yaml:"name,omitempty"`
	Position       []float64 `yaml:"position,flow"`
	RotationVector []float64 `yaml:"rotation_vector,flow,omitempty"`
	Quaternion     []float64 `yaml:"quaternion,flow,omitempty"`
}

// ToPoseYAML is p as a PoseYAML with a rotation vector.
func ToPoseYAML(name string, p Pose) PoseYAML {
	rv := VectorFromRotation(p.R)
	return PoseYAML{Name: name, Position: p.T[:], RotationVector: rv[:]}
}

// Pose checks py (a position, and exactly one of a rotation vector and a
// non-zero quaternion, all finite) and returns its pose.
func (py PoseYAML) Pose() (Pose, error) {
	if len(py.Position) != 3 {
		return Pose{}, fmt.Errorf("position: want [x, y, z]")
	}
	var p Pose
	copy(p.T[:], py.Position)
	switch {
	case len(py.RotationVector) == 3 && py.Quaternion == nil:
		p.R = RotationFromVector([3]float64(py.RotationVector))
	case len(py.Quaternion) == 4 && py.RotationVector == nil:
		q := py.Quaternion
		var ok bool
		if p.R, ok = RotationFromQuaternion(q[0], q[1], q[2], q[3]); !ok {
			return Pose{}, fmt.Errorf("quaternion: zero")
		}
	default:
		return Pose{}, fmt.Errorf("give either rotation_vector [rx, ry, rz] or quaternion [x, y, z, w]")
	}
	for _, v := range append(py.Position, append(py.RotationVector, py.Quaternion...)...) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return Pose{}, fmt.Errorf("non-finite value")
		}
	}
	return p, nil
}

// ReadPoses reads a pose file: a YAML mapping whose "poses" is a list of
// PoseYAML (and "frame" a free-form note). Errors name the file and the
// pose at fault.
func ReadPoses(path string) ([]Pose, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(data) > MaxPoseFile {
		return nil, fmt.Errorf("%s: %d bytes, want at most 16 MiB", path, len(data))
	}
	var doc struct {
		Frame string     `yaml:"frame"`
		Poses []PoseYAML `yaml:"poses"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []Pose
	for i, py := range doc.Poses {
		p, err := py.Pose()
		if err != nil {
			return nil, fmt.Errorf("%s: poses[%d]: %w", path, i, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// WritePoses writes a pose file that ReadPoses reads: frame (e.g.
// "camera <- board") and the poses, named by names (same length).
func WritePoses(path, frame string, names []string, poses []Pose) error {
	if len(names) != len(poses) {
		return fmt.Errorf("calibration: %d names for %d poses", len(names), len(poses))
	}
	ps := make([]PoseYAML, len(poses))
	for i, p := range poses {
		ps[i] = ToPoseYAML(names[i], p)
	}
	return writeYAML(path, map[string]any{"frame": frame, "poses": ps})
}

// handEyeFrame is the frame the mount's result is in.
func handEyeFrame(m Mount) string {
	if m == EyeToHand {
		return "base <- camera"
	}
	return "gripper <- camera"
}

// PrintHandEye prints res: the camera's pose and the residuals.
func PrintHandEye(w io.Writer, res HandEyeResult, mount Mount) {
	rv := VectorFromRotation(res.X.R)
	fmt.Fprintf(w, "%s (%s)\n", mount, handEyeFrame(mount))
	fmt.Fprintf(w, "position        %.5f %.5f %.5f m\n", res.X.T[0], res.X.T[1], res.X.T[2])
	fmt.Fprintf(w, "rotation vector %.5f %.5f %.5f rad\n", rv[0], rv[1], rv[2])
	fmt.Fprintf(w, "residuals over %d station pairs: rotation RMS %.3f° max %.3f°, translation RMS %.2f mm max %.2f mm\n",
		res.Pairs, res.RotRMS*180/math.Pi, res.RotMax*180/math.Pi, res.TransRMS*1000, res.TransMax*1000)
}

// WriteHandEye writes res as YAML: the frame, the mount, the camera's
// pose (a PoseYAML named "camera" under "pose") and the residuals.
func WriteHandEye(path string, res HandEyeResult, mount Mount) error {
	return writeYAML(path, map[string]any{"frame": handEyeFrame(mount), "mount": string(mount), "pose": ToPoseYAML("camera", res.X),
		"residuals": map[string]float64{"rotation_rms_deg": res.RotRMS * 180 / math.Pi, "translation_rms_m": res.TransRMS, "pairs": float64(res.Pairs)}})
}

func writeYAML(path string, v any) error {
	data, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// ParseBoard parses s, the --board flag's COLSxROWS inner corners (e.g.
// "9x6"), into a validated board of square metres.
func ParseBoard(s string, square float64) (Board, error) {
	c, r, ok := strings.Cut(strings.ToLower(s), "x")
	cols, err1 := strconv.Atoi(c)
	rows, err2 := strconv.Atoi(r)
	if !ok || err1 != nil || err2 != nil {
		return Board{}, fmt.Errorf("--board %q: want COLSxROWS inner corners, e.g. 9x6", s)
	}
	b := Board{Cols: cols, Rows: rows, Square: square}
	return b, b.Validate()
}

// ImageFiles lists the PNG, JPEG and BMP files of dir (the --images flag),
// sorted by name; none is an error.
func ImageFiles(dir string) ([]string, error) {
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
