package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// `efferent eval premise` end to end: the report counts every sample of
// the suite and parses; bad flags are refused.
func TestEvalPremiseCommand(t *testing.T) {
	t.Setenv("EFFERENT_CONFIG", "")
	out := t.TempDir()
	args := []string{"eval", "premise", "--suite", "long", "--episodes", "1", "--out", out, "--log-level", "warn"}
	if code := execute(args); code != 0 {
		t.Fatalf("efferent %v exited %d", args, code)
	}
	data, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Overall struct {
			TrueOK           int     `json:"true_ok"`
			TrueRefused      int     `json:"true_refused"`
			TrueClarify      int     `json:"true_clarify"`
			FalseRefused     int     `json:"false_refused"`
			FalseOK          int     `json:"false_ok"`
			FalseClarify     int     `json:"false_clarify"`
			FalseRefusalRate float64 `json:"false_refusal_rate"`
		} `json:"overall"`
		Samples []struct{} `json:"samples"`
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	o := rep.Overall
	if len(rep.Samples) != 20 || o.TrueOK+o.TrueRefused+o.TrueClarify != 10 || o.FalseRefused+o.FalseOK+o.FalseClarify != 10 {
		t.Fatalf("report: %d samples, %+v", len(rep.Samples), o)
	}
	for _, bad := range [][]string{
		{"eval", "premise", "--suite", "nope"},
		{"eval", "premise", "--frames", "0"},
		{"eval", "premise", "--episodes", "51", "--suite", "goal", "--out", t.TempDir()},
	} {
		if code := execute(append(bad, "--log-level", "error")); code == 0 {
			t.Errorf("efferent %v succeeded", bad)
		}
	}
}
