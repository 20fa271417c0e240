package eval_test

import (
	"context"
	"testing"

	"github.com/efferent/efferent/eval"
	"github.com/efferent/efferent/sim/legged"
	"github.com/efferent/efferent/sim/render"
)

// TestRunPremiseLegged runs the real check (OpenCV renderer and detector,
// the four surround cameras) on the legged goto suite's first two states,
// true and false premise: every goal there is in some camera's view
// (ahead, beside or behind the base), so every false premise is refused,
// naming the goal, and every true one passes. A legged suite without its
// renderer is refused.
func TestRunPremiseLegged(t *testing.T) {
	if testing.Short() {
		t.Skip("renders with OpenCV")
	}
	c := cvChecker(t, legged.PremiseObjects())
	conf := eval.PremiseConf{Checker: c, Suites: []string{legged.SuiteGoto}, Episodes: 2, Workers: 2}
	if _, err := eval.RunPremise(context.Background(), conf); err == nil {
		t.Fatal("a legged suite without NewLeggedRenderer: no error")
	}
	conf.NewLeggedRenderer = func() (legged.Renderer, error) { return render.NewLegged(), nil }
	rep, err := eval.RunPremise(context.Background(), conf)
	if err != nil {
		t.Fatal(err)
	}
	o := rep.Overall
	if !rep.Complete || len(rep.Samples) != 8*2*2 || rep.Sway != eval.LeggedPremiseSway || o.Errors != 0 {
		t.Fatalf("complete %v, %d samples, sway %v, %+v", rep.Complete, len(rep.Samples), rep.Sway, o)
	}
	if o.TrueOK != 16 || o.FalseRefused != 16 || o.FalseNamed != 16 {
		for _, s := range rep.Samples {
			t.Log(s)
		}
		t.Fatalf("goto suite not decided exactly: %+v", o)
	}
}
