package eval_test

import (
	"context"
	"testing"

	"github.com/efferent/efferent/eval"
	"github.com/efferent/efferent/policy"
	"github.com/efferent/efferent/rig"
	"github.com/efferent/efferent/sim"
	"github.com/efferent/efferent/sim/legged"
	"github.com/efferent/efferent/sim/render"
)

// The legged simulator's expert, run through the real loop, scheduler and
// the quadruped's limit gate (not by stepping the simulator), solves every
// suite, with the egocentric camera rendered; and the commands that left
// the loop stayed within the locomotion controller's envelope.
func TestLeggedExpertThroughLoop(t *testing.T) {
	episodes := 2
	if testing.Short() {
		episodes = 1
	}
	var refs []eval.TaskRef
	var tasks []legged.Task
	for _, s := range legged.Suites() {
		r, ts, err := eval.LeggedTasks(s)
		if err != nil {
			t.Fatal(err)
		}
		refs, tasks = append(refs, r...), append(tasks, ts...)
	}
	conf := eval.SimConf{
		Sim:               sim.Conf{ImageSize: 64},
		NewLeggedRenderer: func() (legged.Renderer, error) { return render.NewLegged(), nil },
		NewPolicy: func(_ int, env rig.Simulator) (policy.Policy, error) {
			return rig.LeggedExpertPolicy(env.(*legged.Env)), nil
		},
	}
	run, closeAll := eval.LeggedEpisodes(conf, tasks)
	rep, err := eval.Run(context.Background(), eval.Conf{Workers: 2, Episodes: episodes}, refs, run)
	if err != nil {
		t.Fatal(err)
	}
	if err := closeAll(); err != nil {
		t.Fatal(err)
	}
	if rep.Overall.ErrorCount != 0 || rep.Overall.Successes != rep.Overall.Episodes {
		t.Fatalf("expert through the loop: %d/%d, %d errors", rep.Overall.Successes, rep.Overall.Episodes, rep.Overall.ErrorCount)
	}
	lo, hi := legged.CommandLimits()
	if len(rep.Traces) == 0 {
		t.Fatal("no action trace in the report")
	}
	for _, tr := range rep.Traces {
		for _, row := range tr.Actions {
			for i, v := range row {
				if v < lo[i] || v > hi[i] {
					t.Fatalf("%s: command %v leaves the envelope in dim %d", tr.Task.Name, row, i)
				}
			}
		}
	}
}
