package eval_test

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/efferent/efferent/eval"
	"github.com/efferent/efferent/safety/premise"
	premisecv "github.com/efferent/efferent/safety/premise/cv"
	"github.com/efferent/efferent/sim"
	"github.com/efferent/efferent/sim/render"
)

// TestPremiseTally: the rates follow from the counts, with false premises
// as the positive class and a refusal as the positive prediction.
func TestPremiseTally(t *testing.T) {
	s := func(suite string, fp bool, d premise.Decision, named ...string) eval.PremiseSample {
		x := eval.PremiseSample{Suite: suite, FalsePremise: fp, Decision: d, Named: named}
		if fp {
			x.Missing = "red block"
		}
		return x
	}
	r := eval.PremiseReport{Samples: []eval.PremiseSample{
		s("a", false, premise.OK), s("a", false, premise.OK), s("a", false, premise.Refuse, "plate"), s("a", false, premise.Clarify),
		s("a", true, premise.Refuse, "red block"), s("a", true, premise.Refuse, "plate"), s("a", true, premise.OK), s("a", true, premise.Clarify),
		s("b", true, premise.Refuse, "red block"), {Suite: "b", Error: "boom"},
	}}
	r.Tally()
	if len(r.Suites) != 2 || r.Suites[0].Name != "a" || r.Suites[1].Name != "b" {
		t.Fatalf("suites %+v", r.Suites)
	}
	a, o := r.Suites[0], r.Overall
	want := eval.PremiseCounts{Name: "a", TrueOK: 2, TrueRefused: 1, TrueClarify: 1, FalseRefused: 2, FalseOK: 1, FalseClarify: 1, FalseNamed: 1,
		Precision: 2.0 / 3, Recall: 0.5, FalseRefusalRate: 0.25, NoMotionTrueRate: 0.5}
	if a != want {
		t.Fatalf("suite a:\n got %+v\nwant %+v", a, want)
	}
	if o.FalseRefused != 3 || o.Errors != 1 || math.Abs(o.Precision-0.75) > 1e-12 || math.Abs(o.Recall-0.6) > 1e-12 || o.FalseRefusalRate != 0.25 {
		t.Fatalf("overall %+v", o)
	}
}

// TestRunPremiseSubset runs the real check (OpenCV renderer and detector)
// on two goal-suite tasks' first states, true and false premise, and
// checks the report: every sample counted once, rates consistent with the
// counts, the files written.
func TestRunPremiseSubset(t *testing.T) {
	if testing.Short() {
		t.Skip("renders with OpenCV")
	}
	c := cvChecker(t, sim.PremiseObjects())
	rep, err := eval.RunPremise(context.Background(), eval.PremiseConf{
		Checker: c, NewRenderer: func() (sim.Renderer, error) { return render.New(), nil },
		Suites: []string{sim.SuiteGoal}, Episodes: 2, Workers: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Complete || len(rep.Samples) != 10*2*2 || rep.Frames != premise.DefaultFrames {
		t.Fatalf("complete %v, %d samples, %d frames", rep.Complete, len(rep.Samples), rep.Frames)
	}
	o := rep.Overall
	trues := o.TrueOK + o.TrueRefused + o.TrueClarify
	falses := o.FalseRefused + o.FalseOK + o.FalseClarify
	if trues != 20 || falses != 20 || o.Errors != 0 {
		t.Fatalf("counts %+v", o)
	}
	if o.Recall != float64(o.FalseRefused)/20 || o.FalseRefusalRate != float64(o.TrueRefused)/20 {
		t.Fatalf("rates do not follow the counts: %+v", o)
	}
	// The goal suite's scene is in plain view: the check is exact there
	// (as eval premise measured over all 50 states).
	if o.FalseRefused != 20 || o.TrueOK != 20 || o.FalseNamed != 20 {
		t.Fatalf("goal suite not decided exactly: %+v", o)
	}
	dir := t.TempDir()
	if err := rep.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	txt, err := os.ReadFile(filepath.Join(dir, "report.txt"))
	if err != nil || !strings.Contains(string(txt), "goal") || !strings.Contains(string(txt), "100.0%") {
		t.Fatalf("report.txt: %v\n%s", err, txt)
	}
	if _, err := os.Stat(filepath.Join(dir, "report.json")); err != nil {
		t.Fatal(err)
	}
}

// cvChecker is the real checker for objs (either simulator's): their
// vocabulary and the OpenCV detector.
func cvChecker(t *testing.T, objs []sim.PremiseObject) *premise.Checker {
	t.Helper()
	voc, err := sim.VocabularyOf(objs)
	if err != nil {
		t.Fatal(err)
	}
	known := make([]premisecv.Known, len(objs))
	for i, o := range objs {
		known[i] = premisecv.Known{Color: o.Color, Category: o.Category, RGB: o.RGB}
	}
	det, err := premisecv.New(premisecv.Conf{Objects: known})
	if err != nil {
		t.Fatal(err)
	}
	c, err := premise.New(premise.Conf{Vocabulary: voc, Detector: det})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
