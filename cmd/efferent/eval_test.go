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
	var rep struct {
		Overall struct{ Episodes, Successes int } `json:"overall"`
	}
	readReport(t, out, &rep)
	if rep.Overall.Episodes != 20 || rep.Overall.Successes != 20 {
		t.Fatalf("report: %+v, want 20/20", rep.Overall)
	}
	for _, f := range []string{"report.txt", "success.png", "actions.png"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Fatalf("%s: %v", f, err)
		}
	}
}

// readReport decodes the report.json that an eval command wrote to out
// into rep (a struct of the keys the test reads, as a user's script would).
func readReport(t *testing.T, out string, rep any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, rep); err != nil {
		t.Fatalf("%s/report.json: %v", out, err)
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
