package sim

import "testing"

// BenchmarkStep is physics only: the expert's action and one Step.
func BenchmarkStep(b *testing.B) {
	e := newEnv(b, Conf{NoRender: true})
	tk := task(b, SuiteLong, 0)
	x := NewExpert()
	a := make([]float64, ActionDim)
	reset := func() {
		e.Reset(tk, 0)
		x.Reset()
	}
	reset()
	b.ReportAllocs()
	for b.Loop() {
		if e.Done() {
			b.StopTimer()
			reset()
			b.StartTimer()
		}
		x.Act(e.World(), a)
		if err := e.Step(a); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReset is loading an initial state (layout generation).
func BenchmarkReset(b *testing.B) {
	e := newEnv(b, Conf{NoRender: true})
	tk := task(b, SuiteObject, 0)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := e.Reset(tk, i%NumInitStates); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
