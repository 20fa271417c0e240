package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// `efferent eval premise --suite quadruped-goto` measures the legged
// base's check: every sample of the suite counted, each false premise
// refused (none of its goals is hidden from the surround cameras).
func TestEvalPremiseLeggedCommand(t *testing.T) {
	t.Setenv("EFFERENT_CONFIG", "")
	out := t.TempDir()
	args := []string{"eval", "premise", "--suite", "quadruped-goto", "--episodes", "1", "--out", out, "--log-level", "warn"}
	if code := execute(args); code != 0 {
		t.Fatalf("efferent %v exited %d", args, code)
	}
	data, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Overall struct {
			TrueOK       int `json:"true_ok"`
			FalseRefused int `json:"false_refused"`
		} `json:"overall"`
		Samples []struct{} `json:"samples"`
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Samples) != 16 || rep.Overall.FalseRefused != 8 || rep.Overall.TrueOK != 8 {
		t.Fatalf("report: %d samples, %+v", len(rep.Samples), rep.Overall)
	}
	if code := execute([]string{"eval", "premise", "--suite", "quadruped,goal", "--log-level", "error"}); code == 0 {
		t.Error("a mix of the two simulators' suites was accepted")
	}
}
