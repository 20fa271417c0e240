package main

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/models"
	"github.com/efferent/efferent/rig"
	"github.com/efferent/efferent/safety"
	"github.com/efferent/efferent/sim"
	"github.com/efferent/efferent/sim/render"
)

// TestRealTimeMatchesVirtualTime: the bundled model drives the simulator
// in real time at 20 Hz with the defaults (`make run`) and holds no tick
// between chunks: the next inference is observed at the tick where the
// last chunk ends and waited for, so each episode takes the steps it takes
// in virtual time (within 5 %), and the gate holds nothing.
func TestRealTimeMatchesVirtualTime(t *testing.T) {
	if testing.Short() {
		t.Skip("about 10 s of real-time episodes")
	}
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	pols, err := rig.ResolvePolicy(ctx, models.Default, rig.PolicyConf{Open: Config{}.openModel, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	r := render.New()
	defer r.Close()
	env, err := sim.New(sim.Conf{}, r)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := pols.OpenSim(0, env)
	if err != nil {
		t.Fatal(err)
	}
	defer pol.Close()
	task, ok := sim.FindTask("put the red block in the blue bowl")
	if !ok {
		t.Fatal("no task")
	}
	for init := range 3 {
		steps := map[bool]int{}
		for _, real := range []bool{false, true} {
			if err := env.Reset(task, init); err != nil {
				t.Fatal(err)
			}
			var held, noChunk int
			res := rig.Episode(ctx, rig.EpisodeConf{Env: env, Policy: pol, Virtual: !real,
				OnTick: func(sp *efferent.Setpoint, v efferent.Verdict) {
					if sp.Hold {
						held++
					}
					if v.Reason == safety.ReasonNoChunk {
						noChunk++
					}
				}})
			if res.Err != nil {
				t.Fatal(res.Err)
			}
			steps[real] = res.Steps
			t.Logf("init %d, real time %v: success %v in %d steps, %d held (%d no_chunk)", init, real, res.Success, res.Steps, held, noChunk)
			// The first tick of an episode may wait out the cold first
			// inference; none after it.
			if real && noChunk > 1 {
				t.Errorf("init %d: %d ticks held for want of a chunk in real time", init, noChunk)
			}
		}
		if d := steps[true] - steps[false]; d*20 > steps[false] || -d*20 > steps[false] {
			t.Errorf("init %d: %d steps in real time, %d in virtual time (more than 5 %% apart)", init, steps[true], steps[false])
		}
	}
}
