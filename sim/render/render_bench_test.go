package render

import (
	"testing"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/sim"
)

// BenchmarkRender draws both cameras of a spatial scene (7 objects).
func BenchmarkRender(b *testing.B) {
	r := New()
	defer r.Close()
	e, err := sim.New(sim.Conf{}, r)
	if err != nil {
		b.Fatal(err)
	}
	ts, _ := sim.Tasks(sim.SuiteSpatial)
	if err := e.Reset(ts[0], 0); err != nil {
		b.Fatal(err)
	}
	w := e.World()
	agent := sim.AgentCamera(sim.DefaultImageSize)
	var a, wr efferent.Image
	b.ReportAllocs()
	for b.Loop() {
		if err := r.Render(w, agent, &a); err != nil {
			b.Fatal(err)
		}
		wc := sim.WristCamera(&w.Gripper, sim.DefaultImageSize)
		if err := r.Render(w, wc, &wr); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStepObserve is the steady-state control loop with rendering:
// expert action, Step, Observe (both cameras).
func BenchmarkStepObserve(b *testing.B) {
	r := New()
	defer r.Close()
	e, err := sim.New(sim.Conf{}, r)
	if err != nil {
		b.Fatal(err)
	}
	ts, _ := sim.Tasks(sim.SuiteLong)
	x := sim.NewExpert()
	act := make([]float64, sim.ActionDim)
	var obs efferent.Observation
	reset := func() {
		if err := e.Reset(ts[0], 0); err != nil {
			b.Fatal(err)
		}
		x.Reset()
	}
	reset()
	b.ReportAllocs()
	for b.Loop() {
		if e.Done() {
			reset()
		}
		if err := e.Observe(&obs); err != nil {
			b.Fatal(err)
		}
		x.Act(e.World(), act)
		if err := e.Step(act); err != nil {
			b.Fatal(err)
		}
	}
}
