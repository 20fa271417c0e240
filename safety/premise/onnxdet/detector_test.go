package onnxdet

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/policy/ort"
	"github.com/efferent/efferent/safety/premise"
)

func openToy(t *testing.T) *Detector {
	t.Helper()
	if testing.Short() {
		t.Skip("loads ONNX Runtime")
	}
	d, err := Open("testdata/toy-colour", ort.Conf{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// scene is a 120x80 grey frame with a red square in its left half.
func scene() efferent.Image {
	im := efferent.Image{H: 80, W: 120, C: 3, Pix: make([]byte, 80*120*3)}
	for y := range 80 {
		for x := range 120 {
			p := im.Pix[(y*120+x)*3:]
			p[0], p[1], p[2] = 128, 128, 128
			if x >= 10 && x < 50 && y >= 20 && y < 60 {
				p[0], p[1], p[2] = 230, 20, 20
			}
		}
	}
	return im
}

// The instruction's phrases go in as text queries; the red one is found
// (scored present, its box on the red square), the others are not.
func TestDetect(t *testing.T) {
	d := openToy(t)
	qs := []premise.Query{{Text: "red block"}, {Text: "blue bowl"}, {Text: "green ball"}}
	dets, err := d.Detect([]premise.Frame{{Camera: "agent", Image: scene()}}, qs)
	if err != nil {
		t.Fatal(err)
	}
	score := map[int]premise.Detection{}
	for _, det := range dets {
		score[det.Query] = det
	}
	if r := score[0]; r.Score < premise.DefaultPresent || r.Camera != "agent" || r.Box.Max.X > 70 || r.Box.Min.X < 0 {
		t.Fatalf("red block: %+v, want present in the left part", r)
	}
	for q := 1; q < 3; q++ {
		if s := score[q].Score; s > premise.DefaultAbsent {
			t.Fatalf("%s: score %g, want absent (≤ %g)", qs[q].Text, s, premise.DefaultAbsent)
		}
	}
}

// Through the checker: "put the red block in the blue bowl" on that scene is
// refused for the blue bowl.
func TestCheckerWithONNXDetector(t *testing.T) {
	d := openToy(t)
	voc, err := premise.NewVocabulary([]premise.Object{{Name: "red block", Color: "red", Category: "block"},
		{Name: "blue bowl", Color: "blue", Category: "bowl"}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := premise.New(premise.Conf{Vocabulary: voc, Detector: d, Frames: 2})
	if err != nil {
		t.Fatal(err)
	}
	frames := []premise.Frame{{Camera: "agent", Image: scene()}}
	v, err := c.Check("put the red block in the blue bowl", frames, frames)
	if err != nil {
		t.Fatal(err)
	}
	if v.Decision != premise.Refuse || len(v.Missing) != 1 || v.Missing[0] != "blue bowl" {
		t.Fatalf("verdict %+v, want refuse: blue bowl", v)
	}
	if v, _ := c.Check("pick up the red block", frames, frames); v.Decision != premise.OK {
		t.Fatalf("verdict %+v, want ok", v)
	}
}

func TestManifestErrors(t *testing.T) {
	good, err := os.ReadFile("testdata/toy-colour/detector.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct{ from, to, want string }{
		"format":    {"efferent-detector/1", "efferent-detector/9", "format"},
		"threshold": {"threshold: 0.5", "threshold: 2", "threshold"},
		"unknown":   {"threshold: 0.5", "threshold: 0.5\nthreshhold: 1", ": threshhold: unknown key; did you mean threshold?"},
		"nested":    {"height: 64", "height: 64, hieght: 64", "line 6: image.hieght: unknown key; did you mean height?"},
		"size":      {"height: 64", "height: 4", "image"},
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "detector.yaml"), []byte(strings.Replace(string(good), tc.from, tc.to, 1)), 0o644)
		if _, err := LoadManifest(dir); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %q", name, err, tc.want)
		}
	}
	if _, err := LoadManifest(t.TempDir()); err == nil {
		t.Error("missing manifest: no error")
	}
}

// FuzzLoadManifest: no detector.yaml makes the loader panic or accept an
// invalid manifest.
func FuzzLoadManifest(f *testing.F) {
	good, _ := os.ReadFile("testdata/toy-colour/detector.yaml")
	f.Add(good)
	f.Add([]byte("format: efferent-detector/1\nimage: {height: -1}\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, "detector.yaml"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := LoadManifest(dir)
		if err == nil && m.validate() != nil {
			t.Fatalf("accepted an invalid manifest: %+v", m)
		}
	})
}
