package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/efferent/efferent/sim"
	"github.com/efferent/efferent/tokenizer"
	"github.com/efferent/efferent/tokenizer/chunks"
	"github.com/efferent/efferent/tokenizer/vq"
)

// writeTestEpisode writes the parts of an episode directory that the
// tokenizer reads: actions.npy (float32 [T,7]) and meta.json.
func writeTestEpisode(t *testing.T, dir string, steps int, phase float64, success bool) {
	t.Helper()
	actions := make([][]float64, steps)
	for s := range actions {
		actions[s] = make([]float64, sim.ActionDim)
		for j := range actions[s] {
			actions[s][j] = 0.3 * math.Sin(phase+0.2*float64(s)+float64(j))
		}
		actions[s][chunks.GripperDim] = -1
		if s > steps/2 {
			actions[s][chunks.GripperDim] = 1
		}
	}
	if err := sim.WriteDemoActions(dir, sim.DemoMeta{Suite: "spatial", Success: success}, actions); err != nil {
		t.Fatal(err)
	}
}

func testDemos(t *testing.T) string {
	demos := t.TempDir()
	for i, steps := range []int{20, 25, 30} {
		writeTestEpisode(t, filepath.Join(demos, "spatial", "0_"+string(rune('0'+i))), steps, float64(i), true)
	}
	writeTestEpisode(t, filepath.Join(demos, "spatial", "0_3"), 40, 3, false)    // failed: skipped
	writeTestEpisode(t, filepath.Join(demos, "spatial", "0_4.tmp"), 40, 4, true) // being written: skipped
	if err := os.WriteFile(filepath.Join(demos, "README"), []byte("not an episode"), 0o644); err != nil {
		t.Fatal(err)
	}
	return demos
}

func readStats(t *testing.T, path string) chunks.Stats {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s chunks.Stats
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTokenizerFitCommand(t *testing.T) {
	t.Setenv("EFFERENT_CONFIG", "")
	demos := testDemos(t)
	out := filepath.Join(t.TempDir(), "tok")
	args := []string{"tokenizer", "fit", "--demos", demos, "--chunk", "3", "--levels", "2", "--codes", "8", "--holdout", "0", "--out", out}
	if code := execute(args); code != 0 {
		t.Fatalf("efferent %v exited %d", args, code)
	}
	data, err := os.ReadFile(filepath.Join(out, "codebook.json"))
	if err != nil {
		t.Fatal(err)
	}
	cb, err := vq.ParseCodebook(data)
	if err != nil {
		t.Fatal(err)
	}
	if cb.Horizon != 3 || cb.Dim != 7 || cb.Levels != 2 || cb.Codes != 8 || cb.LatentDim != 21 {
		t.Fatalf("codebook %d×%d, %d levels × %d codes, latent %d", cb.Horizon, cb.Dim, cb.Levels, cb.Codes, cb.LatentDim)
	}
	s := readStats(t, filepath.Join(out, "stats.json"))
	if len(s.Q01) != 7 || len(s.Q99) != 7 || len(s.Mask) != 7 || s.Chunk != 3 || s.Dim != 7 ||
		s.Episodes != 3 || s.Chunks != 75 || s.HeldoutEpisodes != 0 || s.Codebook != cb.Checksum() {
		t.Fatalf("stats: %+v", s)
	}
	for j, m := range s.Mask {
		if m != (j != chunks.GripperDim) || !(s.Q01[j] <= s.Q99[j]) {
			t.Fatalf("stats dim %d: mask %v q01 %v q99 %v", j, m, s.Q01[j], s.Q99[j])
		}
	}
	// The codebook and stats make a working detokenizer.
	n, err := tokenizer.NewNormalizer(s.Q01, s.Q99, s.Mask)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vq.New(cb, vq.Conf{Base: 1023, Norm: n}); err != nil {
		t.Fatal(err)
	}

	if code := execute([]string{"tokenizer", "check", "--codebook", filepath.Join(out, "codebook.json"),
		"--stats", filepath.Join(out, "stats.json"), "--demos", demos}); code != 0 {
		t.Fatalf("check exited %d", code)
	}

	// Hold out half: the split is the documented hash rule.
	out2 := t.TempDir()
	if code := execute([]string{"tokenizer", "fit", "--demos", demos, "--chunk", "2", "--levels", "1", "--codes", "4",
		"--holdout", "0.5", "--out", out2, "--include-failures"}); code != 0 {
		t.Fatalf("fit --holdout 0.5 exited %d", code)
	}
	s2 := readStats(t, filepath.Join(out2, "stats.json"))
	held := 0
	for _, rel := range []string{"spatial/0_0", "spatial/0_1", "spatial/0_2", "spatial/0_3"} {
		if chunks.HeldOut(rel, 0.5) {
			held++
		}
	}
	if s2.Episodes+s2.HeldoutEpisodes != 4 || s2.HeldoutEpisodes != held || len(s2.Heldout) != held {
		t.Fatalf("holdout: %d train, %d held out %v; want %d held out", s2.Episodes, s2.HeldoutEpisodes, s2.Heldout, held)
	}
}

func TestTokenizerCommandErrors(t *testing.T) {
	t.Setenv("EFFERENT_CONFIG", "")
	demos := testDemos(t)
	out := t.TempDir()
	if code := execute([]string{"tokenizer", "fit", "--demos", demos, "--chunk", "4", "--levels", "1", "--codes", "2", "--out", out, "--holdout", "0"}); code != 0 {
		t.Fatalf("fit exited %d", code)
	}
	cbPath, statsPath := filepath.Join(out, "codebook.json"), filepath.Join(out, "stats.json")
	for _, bad := range [][]string{
		{"fit"},
		{"fit", "--demos", filepath.Join(demos, "nope")},
		{"fit", "--demos", cbPath},
		{"fit", "--demos", demos, "--chunk", "0"},
		{"fit", "--demos", demos, "--codes", "0"},
		{"fit", "--demos", demos, "--holdout", "1"},
		{"fit", "--demos", demos, "--seed", "0"},
		{"fit", "--demos", demos, "--max-chunks", "10"},
		{"fit", "--demos", t.TempDir()},
		{"check", "--stats", statsPath, "--demos", demos},
		{"check", "--codebook", cbPath, "--demos", demos},
		{"check", "--codebook", statsPath, "--stats", statsPath, "--demos", demos},
		{"check", "--codebook", cbPath, "--stats", cbPath, "--demos", demos},
	} {
		if code := execute(append([]string{"tokenizer"}, bad...)); code == 0 {
			t.Errorf("efferent tokenizer %v succeeded", bad)
		}
	}
	// A stats file for another chunk length does not match the codebook.
	s := readStats(t, statsPath)
	s.Chunk = 5
	data, _ := json.Marshal(s)
	other := filepath.Join(t.TempDir(), "stats.json")
	if err := os.WriteFile(other, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := execute([]string{"tokenizer", "check", "--codebook", cbPath, "--stats", other, "--demos", demos}); code == 0 {
		t.Error("check with mismatched stats succeeded")
	}

	// A corrupt actions.npy is named in the error.
	bad := filepath.Join(demos, "spatial", "0_1", "actions.npy")
	if err := os.WriteFile(bad, []byte("\x93NUMPY\x01\x00garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := chunks.LoadEpisodes(demos, false, 5, 1000); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("err = %v, want one naming %s", err, bad)
	}
	// So is a meta.json that disagrees with the actions.
	writeTestEpisode(t, filepath.Join(demos, "spatial", "0_1"), 20, 1, true)
	meta := filepath.Join(demos, "spatial", "0_1", "meta.json")
	mb, _ := json.Marshal(sim.DemoMeta{Format: sim.DemoFormat, Steps: 21, Success: true})
	if err := os.WriteFile(meta, mb, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := chunks.LoadEpisodes(demos, false, 5, 1000); err == nil || !strings.Contains(err.Error(), "meta.json says 21 steps") {
		t.Fatalf("err = %v", err)
	}
}
