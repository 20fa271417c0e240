package main

import "testing"

// `efferent eval premise` end to end, on a tabletop suite and on a legged
// one: the report counts every sample of the suite and parses (the legged
// base's goto suite decided exactly: none of its goals is hidden from the
// surround cameras); bad flags, and a mix of the two simulators' suites,
// are refused.
func TestEvalPremiseCommand(t *testing.T) {
	t.Setenv("EFFERENT_CONFIG", "")
	for _, c := range []struct {
		suite string
		tasks int
		exact bool // every true premise ok, every false one refused
	}{
		{"long", 10, false},
		{"quadruped-goto", 8, true},
	} {
		out := t.TempDir()
		args := []string{"eval", "premise", "--suite", c.suite, "--episodes", "1", "--out", out, "--log-level", "warn"}
		if code := execute(args); code != 0 {
			t.Fatalf("efferent %v exited %d", args, code)
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
		readReport(t, out, &rep)
		o := rep.Overall
		if len(rep.Samples) != 2*c.tasks || o.TrueOK+o.TrueRefused+o.TrueClarify != c.tasks || o.FalseRefused+o.FalseOK+o.FalseClarify != c.tasks {
			t.Fatalf("%s report: %d samples, %+v", c.suite, len(rep.Samples), o)
		}
		if c.exact && (o.TrueOK != c.tasks || o.FalseRefused != c.tasks) {
			t.Fatalf("%s report: %+v, want every true premise ok and every false one refused", c.suite, o)
		}
	}
	for _, bad := range [][]string{
		{"eval", "premise", "--suite", "nope"},
		{"eval", "premise", "--frames", "0"},
		{"eval", "premise", "--episodes", "51", "--suite", "goal", "--out", t.TempDir()},
		{"eval", "premise", "--suite", "quadruped,goal"},
	} {
		if code := execute(append(bad, "--log-level", "error")); code == 0 {
			t.Errorf("efferent %v succeeded", bad)
		}
	}
}
