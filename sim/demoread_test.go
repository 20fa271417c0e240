package sim

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeActionsEpisode writes the two files ReadDemoActions reads: steps
// actions of value v each, and a meta.json saying metaSteps steps.
func writeActionsEpisode(t *testing.T, dir string, steps, metaSteps int, v float32) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var data []byte
	for range steps * ActionDim {
		data = binary.LittleEndian.AppendUint32(data, math.Float32bits(v))
	}
	var buf bytes.Buffer
	if err := WriteNPY(&buf, DescrFloat32, []int{steps, ActionDim}, data); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "actions.npy"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	meta, _ := json.Marshal(DemoMeta{Format: DemoFormat, Suite: SuiteSpatial, Steps: metaSteps, Success: true})
	if err := os.WriteFile(filepath.Join(dir, "meta.json"), meta, 0o644); err != nil {
		t.Fatal(err)
	}
}

// ReadDemoActions needs neither the images nor the state, and checks
// what it reads as ReadDemo does.
func TestReadDemoActions(t *testing.T) {
	dir := t.TempDir()
	ep := filepath.Join(dir, "ep")
	writeActionsEpisode(t, ep, 3, 3, 0.25)
	d, err := ReadDemoActions(ep)
	if err != nil {
		t.Fatal(err)
	}
	if d.T != 3 || len(d.Actions) != 3*ActionDim || d.Actions[5] != 0.25 || d.Agent != nil || d.State != nil || !d.Meta.Success {
		t.Fatalf("demo %+v", d)
	}
	if _, err := ReadDemo(ep); err == nil || !strings.Contains(err.Error(), "agent.npy") {
		t.Fatalf("ReadDemo without images: %v", err)
	}
	for _, c := range []struct {
		name  string
		write func(ep string)
		want  string
	}{
		{"steps", func(ep string) { writeActionsEpisode(t, ep, 3, 4, 0) }, "actions.npy: 3 actions, meta.json says 4 steps"},
		{"empty", func(ep string) { writeActionsEpisode(t, ep, 0, 0, 0) }, "with T >= 1"},
		{"nan", func(ep string) { writeActionsEpisode(t, ep, 2, 2, float32(math.NaN())) }, "actions.npy: step 0 dim 0 is NaN"},
		{"inf", func(ep string) { writeActionsEpisode(t, ep, 2, 2, float32(math.Inf(1))) }, "step 0 dim 0 is +Inf"},
		{"corrupt", func(ep string) {
			writeActionsEpisode(t, ep, 2, 2, 0)
			os.WriteFile(filepath.Join(ep, "actions.npy"), []byte("\x93NUMPY\x01\x00garbage"), 0o644)
		}, filepath.Join("corrupt", "actions.npy")},
		{"format", func(ep string) {
			writeActionsEpisode(t, ep, 2, 2, 0)
			os.WriteFile(filepath.Join(ep, "meta.json"), []byte(`{"format": "other/9", "steps": 2}`), 0o644)
		}, `meta.json: format "other/9"`},
		{"json", func(ep string) {
			writeActionsEpisode(t, ep, 2, 2, 0)
			os.WriteFile(filepath.Join(ep, "meta.json"), []byte(`{`), 0o644)
		}, "meta.json: unexpected end"},
		{"large meta", func(ep string) {
			writeActionsEpisode(t, ep, 2, 2, 0)
			os.WriteFile(filepath.Join(ep, "meta.json"), make([]byte, MaxDemoMeta+1), 0o644)
		}, "meta.json is larger than"},
	} {
		ep := filepath.Join(dir, c.name)
		c.write(ep)
		if _, err := ReadDemoActions(ep); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want one containing %q", c.name, err, c.want)
		}
	}
}

// FindDemos finds nested episodes in path order, skips *.tmp directories
// and does not descend into an episode.
func TestFindDemos(t *testing.T) {
	root := t.TempDir()
	for _, rel := range []string{"b/1_0", "a/0_1", "a/0_0", "a/0_0/inner", "a/0_2.tmp", "c/0_0"} {
		writeActionsEpisode(t, filepath.Join(root, rel), 1, 1, 0)
	}
	os.Remove(filepath.Join(root, "c", "0_0", "meta.json"))
	os.Mkdir(filepath.Join(root, "c", "0_0", "meta.json"), 0o755) // not a regular file
	os.WriteFile(filepath.Join(root, "README"), []byte("not an episode"), 0o644)
	dirs, err := FindDemos(root)
	if err != nil {
		t.Fatal(err)
	}
	var rels []string
	for _, d := range dirs {
		r, _ := filepath.Rel(root, d)
		rels = append(rels, filepath.ToSlash(r))
	}
	if want := []string{"a/0_0", "a/0_1", "b/1_0"}; !slices.Equal(rels, want) {
		t.Fatalf("found %v, want %v", rels, want)
	}
	// The root may itself be an episode, even one being written.
	if dirs, err := FindDemos(filepath.Join(root, "a", "0_2.tmp")); err != nil || len(dirs) != 1 {
		t.Fatalf("root episode: %v, %v", dirs, err)
	}
	if dirs, err := FindDemos(t.TempDir()); err != nil || len(dirs) != 0 {
		t.Fatalf("empty root: %v, %v", dirs, err)
	}
	if _, err := FindDemos(filepath.Join(root, "README")); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("file root: %v", err)
	}
	if _, err := FindDemos(filepath.Join(root, "nope")); !os.IsNotExist(err) {
		t.Fatalf("missing root: %v", err)
	}
}
