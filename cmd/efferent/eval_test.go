package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// `efferent eval --policy expert` end to end through the command: every
// episode succeeds and the report files exist and parse.
func TestEvalCommandExpert(t *testing.T) {
	t.Setenv("EFFERENT_CONFIG", "")
	out := t.TempDir()
	args := []string{"eval", "--suite", "goal", "--episodes", "2", "--policy", "expert", "--no-render", "--out", out, "--log-level", "warn"}
	if code := execute(args); code != 0 {
		t.Fatalf("efferent %v exited %d", args, code)
	}
	data, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Overall struct{ Episodes, Successes int } `json:"overall"`
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Overall.Episodes != 20 || rep.Overall.Successes != 20 {
		t.Fatalf("report: %+v, want 20/20", rep.Overall)
	}
	for _, f := range []string{"report.txt", "success.png", "actions.png"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Fatalf("%s: %v", f, err)
		}
	}
}

func TestRunCommand(t *testing.T) {
	t.Setenv("EFFERENT_CONFIG", "")
	if code := execute([]string{"run", "--robot", "sim", "--fast", "--policy", "expert", "--log-level", "warn"}); code != 0 {
		t.Fatalf("run exited %d", code)
	}
	for _, bad := range [][]string{
		{"run", "--robot", "franka"},
		{"run", "--task", "fly to the moon"},
		{"eval", "--suite", "nope"},
		{"eval", "--policy", "/no/such/model"},
	} {
		if code := execute(append(bad, "--log-level", "error")); code == 0 {
			t.Errorf("efferent %v succeeded", bad)
		}
	}
}
