package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// `efferent eval` with lists of modes and latencies runs the latency
// matrix: a report per cell, and the matrix files.
func TestEvalCommandMatrix(t *testing.T) {
	t.Setenv("EFFERENT_CONFIG", "")
	out := t.TempDir()
	args := []string{"eval", "--mode", "replan,async", "--latency", "0,50", "--suite", "spatial", "--episodes", "1",
		"--policy", "expert", "--no-render", "--out", out, "--log-level", "error"}
	if code := execute(args); code != 0 {
		t.Fatalf("efferent %v exited %d", args, code)
	}
	data, err := os.ReadFile(filepath.Join(out, "matrix.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Baseline string `json:"baseline"`
		Cells    []struct {
			Dir      string `json:"dir"`
			Episodes int    `json:"episodes"`
		} `json:"cells"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, c := range m.Cells {
		dirs = append(dirs, c.Dir)
		if c.Episodes != 10 {
			t.Errorf("%s: %d episodes, want 10", c.Dir, c.Episodes)
		}
		if _, err := os.Stat(filepath.Join(out, c.Dir, "report.json")); err != nil {
			t.Error(err)
		}
	}
	if want := []string{"replan-0ms", "replan-50ms", "async-0ms", "async-50ms"}; !slices.Equal(dirs, want) || m.Baseline != "replan@0ms" {
		t.Fatalf("cells %v baseline %q, want %v and replan@0ms", dirs, m.Baseline, want)
	}
	for _, f := range []string{"matrix.txt", "matrix.md", "matrix.png"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Fatalf("%s: %v", f, err)
		}
	}
	for _, bad := range [][]string{
		{"eval", "--latency", "0,fast", "--policy", "expert", "--no-render"},
		{"eval", "--latency", "-50ms", "--policy", "expert", "--no-render"},
		{"eval", "--mode", "replan,warp", "--policy", "expert", "--no-render"},
		{"eval", "--suite", "spatial,nope", "--policy", "expert", "--no-render"},
	} {
		if code := execute(append(bad, "--out", t.TempDir(), "--log-level", "error")); code == 0 {
			t.Errorf("efferent %v succeeded", bad)
		}
	}
}
