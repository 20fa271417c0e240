package chunks

import (
	"bytes"
	"io"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/efferent/efferent/sim"
	"github.com/efferent/efferent/tokenizer"
	"github.com/efferent/efferent/tokenizer/vq"
)

// writeEpisode writes the parts of an episode directory that the
// tokenizer reads: actions.npy (float32 [T,7]) and meta.json.
func writeEpisode(t *testing.T, dir string, steps int, phase float64, success bool) {
	t.Helper()
	actions := make([][]float64, steps)
	for s := range actions {
		actions[s] = make([]float64, sim.ActionDim)
		for j := range actions[s] {
			actions[s][j] = 0.3 * math.Sin(phase+0.2*float64(s)+float64(j))
		}
		actions[s][GripperDim] = -1
		if s > steps/2 {
			actions[s][GripperDim] = 1
		}
	}
	if err := sim.WriteDemoActions(dir, sim.DemoMeta{Suite: "spatial", Success: success}, actions); err != nil {
		t.Fatal(err)
	}
}

// demos writes three successful episodes (75 steps), a failed one and one
// still being written.
func demos(t *testing.T) string {
	root := t.TempDir()
	for i, steps := range []int{20, 25, 30} {
		writeEpisode(t, filepath.Join(root, "spatial", "0_"+string(rune('0'+i))), steps, float64(i), true)
	}
	writeEpisode(t, filepath.Join(root, "spatial", "0_3"), 40, 3, false)
	writeEpisode(t, filepath.Join(root, "spatial", "0_4.tmp"), 40, 4, true)
	return root
}

func TestLoadEpisodes(t *testing.T) {
	root := demos(t)
	eps, err := LoadEpisodes(root, false, 5, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(eps) != 3 || eps[0].Rel != "spatial/0_0" || eps[2].Steps() != 30 {
		t.Fatalf("episodes %d, first %q", len(eps), eps[0].Rel)
	}
	if eps, err := LoadEpisodes(root, true, 5, 1000); err != nil || len(eps) != 4 {
		t.Fatalf("with failures: %d, %v", len(eps), err)
	}
	for _, c := range []struct {
		root      string
		maxChunks int
		want      string
	}{
		{"", 1000, "--demos is required"},
		{filepath.Join(root, "nope"), 1000, "--demos: stat "},
		{filepath.Join(root, "spatial", "0_0", "meta.json"), 1000, "meta.json: not a directory"},
		{t.TempDir(), 1000, "no episode directories"},
		{root, 74, "more than --max-chunks 74 chunks"},
	} {
		if _, err := LoadEpisodes(c.root, false, 5, c.maxChunks); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("LoadEpisodes(%q, max %d) = %v, want an error containing %q", c.root, c.maxChunks, err, c.want)
		}
	}
	failed := t.TempDir()
	writeEpisode(t, filepath.Join(failed, "x"), 5, 0, false)
	if _, err := LoadEpisodes(failed, false, 5, 1000); err == nil || !strings.Contains(err.Error(), "1 failed ones skipped") {
		t.Errorf("only failures: %v", err)
	}
}

// Fit writes a codebook and stats that Check and a detokenizer accept, and
// holds out the episodes the hash rule names.
func TestFitCheck(t *testing.T) {
	root := demos(t)
	out := filepath.Join(t.TempDir(), "tok")
	c := FitConf{Demos: root, Chunk: 3, Levels: 2, Codes: 8, Iters: 10, Restarts: 1, Seed: 1, Holdout: 0.5, Out: out,
		IncludeFailures: true, MaxChunks: 1000}
	res, err := Fit(c, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	held := 0
	for _, rel := range []string{"spatial/0_0", "spatial/0_1", "spatial/0_2", "spatial/0_3"} {
		if HeldOut(rel, 0.5) {
			held++
		}
	}
	s, norm, err := LoadStats(res.StatsPath)
	if err != nil {
		t.Fatal(err)
	}
	if s.Episodes+s.HeldoutEpisodes != 4 || s.HeldoutEpisodes != held || len(s.Heldout) != held || (held > 0) != (res.Heldout != nil) ||
		s.Codebook != res.Codebook.Checksum() || s.Chunk != 3 || s.Mask[GripperDim] {
		t.Fatalf("stats %+v", s)
	}
	if _, err := vq.New(res.Codebook, vq.Conf{Base: 1023, Norm: norm}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	rep, err := Check(CheckConf{Codebook: res.CodebookPath, Stats: res.StatsPath, Demos: root, MaxChunks: 1000}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Chunks != 75 || !strings.Contains(buf.String(), "DEMOS RMS") {
		t.Fatalf("check on %d chunks:\n%s", rep.Chunks, buf.String())
	}
	for _, bad := range []FitConf{
		{Demos: root, Chunk: 0, Levels: 1, Codes: 2, Iters: 1, Restarts: 1, Seed: 1, MaxChunks: 10},
		{Demos: root, Chunk: 2, Levels: 1, Codes: 2, Iters: 1, Restarts: 1, Seed: 0, MaxChunks: 10},
		{Demos: root, Chunk: 2, Levels: 1, Codes: 2, Iters: 1, Restarts: 1, Seed: 1, Holdout: 1, MaxChunks: 10},
	} {
		if _, err := Fit(bad, io.Discard); err == nil {
			t.Errorf("Fit(%+v) succeeded", bad)
		}
	}
}

// Chunks repeat the episode's last action past its end.
func TestActionChunksPadding(t *testing.T) {
	d := sim.ActionDim
	acts := make([]float32, 2*d)
	for j := range d {
		acts[j], acts[d+j] = 0.1, 0.2
	}
	n, _ := tokenizer.NewNormalizer(make([]float64, d), []float64{1, 1, 1, 1, 1, 1, 1}, nil)
	chunks := Cut([]Episode{{Actions: acts}}, 3, n)
	if len(chunks) != 2 {
		t.Fatalf("%d chunks, want 2 (one per step)", len(chunks))
	}
	want := [][]float64{{0.1, 0.2, 0.2}, {0.2, 0.2, 0.2}} // per step, before normalising
	for c := range chunks {
		for k := range 3 {
			for j := range d {
				if w := 2*want[c][k] - 1; math.Abs(float64(chunks[c][k*d+j])-w) > 1e-6 {
					t.Fatalf("chunk %d step %d dim %d = %v, want %v", c, k, j, chunks[c][k*d+j], w)
				}
			}
		}
	}
}

// Quantiles are numpy's default (linear) method.
func TestQuantile(t *testing.T) {
	v := []float64{1, 2, 3, 4}
	for _, c := range []struct{ q, want float64 }{{0.01, 1.03}, {0.99, 3.97}, {0, 1}, {1, 4}, {0.5, 2.5}} {
		if got := Quantile(v, c.q); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("Quantile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
	if got := Quantile([]float64{7}, 0.99); got != 7 {
		t.Errorf("one value: %v", got)
	}
}
