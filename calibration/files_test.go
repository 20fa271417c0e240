package calibration

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// Poses written by WritePoses read back; quaternions are accepted too, and
// malformed poses are named.
func TestPoseFiles(t *testing.T) {
	dir := t.TempDir()
	p := Pose{R: RotationFromVector([3]float64{0.1, -0.2, 0.3}), T: [3]float64{0.4, 0.5, 0.6}}
	path := filepath.Join(dir, "poses.yaml")
	if err := WritePoses(path, "camera <- board", []string{"a.png", "b.png"}, []Pose{p, Identity}); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if !bytes.HasPrefix(data, []byte("frame: camera <- board\nposes:\n    - name: a.png\n      position: [")) {
		t.Fatalf("file:\n%s", data)
	}
	got, err := ReadPoses(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || Distance(got[0], p) > 1e-12 || AngleBetween(got[0].R, p.R) > 1e-6 || AngleBetween(got[1].R, Identity.R) > 1e-6 {
		t.Fatalf("read %+v", got)
	}
	os.WriteFile(path, []byte("poses:\n  - {position: [0, 0, 1], quaternion: [0, 0, 0, 2]}\n"), 0o644)
	if got, err := ReadPoses(path); err != nil || len(got) != 1 || got[0].T[2] != 1 || AngleBetween(got[0].R, Identity.R) > 1e-6 {
		t.Fatalf("quaternion: %+v, %v", got, err)
	}
	for _, c := range []struct{ yaml, want string }{
		{"poses:\n  - {position: [0, 0], rotation_vector: [0, 0, 0]}\n", "poses[0]: position"},
		{"poses:\n  - {position: [0, 0, 0]}\n", "poses[0]: give either"},
		{"poses:\n  - {position: [0, 0, 0], rotation_vector: [0, 0, 0], quaternion: [0, 0, 0, 1]}\n", "give either"},
		{"poses:\n  - {position: [0, 0, 0], quaternion: [0, 0, 0, 0]}\n", "quaternion: zero"},
		{"poses:\n  - {position: [0, .nan, 0], rotation_vector: [0, 0, 0]}\n", "non-finite"},
		{"poses: [", path},
	} {
		os.WriteFile(path, []byte(c.yaml), 0o644)
		if _, err := ReadPoses(path); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err = %v, want one containing %q", c.yaml, err, c.want)
		}
	}
	if err := WritePoses(path, "x", []string{"a"}, nil); err == nil {
		t.Error("WritePoses with more names than poses")
	}
}

// WriteHandEye's pose reads back as a PoseYAML, in the mount's frame.
func TestWriteHandEye(t *testing.T) {
	res := HandEyeResult{X: Pose{R: RotationFromVector([3]float64{0, 0, 1}), T: [3]float64{0.01, 0.02, 0.03}}, Pairs: 3, RotRMS: math.Pi / 180}
	path := filepath.Join(t.TempDir(), "handeye.yaml")
	if err := WriteHandEye(path, res, EyeToHand); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	var doc struct {
		Frame     string             `yaml:"frame"`
		Mount     string             `yaml:"mount"`
		Pose      PoseYAML           `yaml:"pose"`
		Residuals map[string]float64 `yaml:"residuals"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	p, err := doc.Pose.Pose()
	if err != nil || doc.Frame != "base <- camera" || doc.Mount != "eye-to-hand" || doc.Pose.Name != "camera" ||
		Distance(p, res.X) > 1e-12 || math.Abs(doc.Residuals["rotation_rms_deg"]-1) > 1e-12 || doc.Residuals["pairs"] != 3 {
		t.Fatalf("%s\n%+v %v", data, doc, err)
	}
	var buf bytes.Buffer
	PrintHandEye(&buf, res, EyeInHand)
	if !strings.HasPrefix(buf.String(), "eye-in-hand (gripper <- camera)\nposition        0.01000 0.02000 0.03000 m\n") {
		t.Fatalf("printed:\n%s", buf.String())
	}
}

func TestParseBoard(t *testing.T) {
	if b, err := ParseBoard("9X6", 0.02); err != nil || b != (Board{Cols: 9, Rows: 6, Square: 0.02}) {
		t.Fatalf("9X6: %+v, %v", b, err)
	}
	for _, s := range []string{"9", "9x", "x6", "9x6x2", "ax6"} {
		if _, err := ParseBoard(s, 0.02); err == nil || !strings.Contains(err.Error(), "--board") {
			t.Errorf("%q: %v", s, err)
		}
	}
	if _, err := ParseBoard("2x6", 0.02); err == nil {
		t.Error("2x6 accepted")
	}
}

func TestImageFiles(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"b.PNG", "a.jpg", "c.jpeg", "d.bmp", "notes.txt"} {
		os.WriteFile(filepath.Join(dir, n), nil, 0o644)
	}
	files, err := ImageFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	if want := []string{"a.jpg", "b.PNG", "c.jpeg", "d.bmp"}; !slices.Equal(names, want) {
		t.Fatalf("files %v, want %v", names, want)
	}
	if _, err := ImageFiles(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no PNG, JPEG or BMP files") {
		t.Fatalf("empty: %v", err)
	}
	if _, err := ImageFiles(filepath.Join(dir, "nope")); err == nil || !strings.HasPrefix(err.Error(), "--images: ") {
		t.Fatalf("missing: %v", err)
	}
}
