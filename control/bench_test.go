package control_test

import (
	"context"
	"math"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/control"
	"github.com/efferent/efferent/safety"
)

// benchKinds: a 7-d action like LIBERO's but with absolute position dims,
// so that every kind is exercised: 3 absolute, 3 delta, 1 binary.
var benchKinds = []safety.Kind{abs, abs, abs, dlt, dlt, dlt, bin}

// steadyTicks returns one 1 kHz controller tick of a scheduler fed 50-step
// 20 Hz chunks whenever it asks for one: the steady state that both the
// tick benchmark and the zero-allocation test measure.
func steadyTicks(tb testing.TB, mode control.Mode) func() {
	s := newSched(tb, control.SchedulerConf{Mode: mode, Kinds: benchKinds, MaxH: 50, StepPeriod: step, ControlPeriod: tick})
	c := mkChunk(50, 7, 0, t0, func(k, j int) float64 { return math.Sin(0.1*float64(k) + float64(j)) })
	sp := efferent.Setpoint{Values: make([]float64, 7)}
	i, seq := 0, uint64(0)
	return func() {
		now := at(i, tick)
		if s.NeedInference(now) {
			s.Requested(now)
			seq++
			c.Seq, c.ObsTime = seq, now
			if err := s.Push(now, c); err != nil {
				tb.Fatal(err)
			}
		}
		s.Tick(now, &sp)
		i++
	}
}

// BenchmarkSchedulerTick measures one 1 kHz controller tick from 50-step
// 20 Hz chunks, per mode, including the amortised cost of NeedInference,
// Requested and Push when a chunk is due (every 250 ticks in replan, every
// 50 in ensemble, every 25 steps' threshold in async).
func BenchmarkSchedulerTick(b *testing.B) {
	for _, mode := range allModes {
		b.Run(string(mode), func(b *testing.B) {
			run := steadyTicks(b, mode)
			for range 10_000 {
				run()
			}
			b.ReportAllocs()
			for b.Loop() {
				run()
			}
		})
	}
}

// BenchmarkSchedulerPush measures Push alone (a 50×7 chunk; ensemble mode
// with its store full recomputes 52 steps from up to 50 chunks).
func BenchmarkSchedulerPush(b *testing.B) {
	for _, mode := range allModes {
		b.Run(string(mode), func(b *testing.B) {
			s := newSched(b, control.SchedulerConf{Mode: mode, Kinds: benchKinds, MaxH: 50, StepPeriod: step, ControlPeriod: tick})
			c := mkChunk(50, 7, 0, t0, func(k, j int) float64 { return math.Sin(0.1*float64(k) + float64(j)) })
			n := 0
			push := func() {
				now := at(n, step)
				c.Seq, c.ObsTime = uint64(n+1), now
				if err := s.Push(now, c); err != nil {
					b.Fatal(err)
				}
				n++
			}
			for range 100 {
				push()
			}
			b.ReportAllocs()
			for b.Loop() {
				push()
			}
		})
	}
}

// BenchmarkLoopJitter1kHz runs the real loop (inference on its own
// goroutine with a policy that takes 20 ms, async mode) at 1 kHz for 10 s
// (EFFERENT_JITTER_SECONDS overrides) on the wall clock, once per
// invocation whatever b.N, and reports how late ticks started (wake-up
// time − deadline): p50/p99/max in µs, and the overruns (deadlines
// skipped). Two clocks: efferent.SystemClock (Go timers) and
// PreciseClock{Spin: 100 µs}. Benchmarks only run with -bench, so
// `go test` never spends these seconds.
func BenchmarkLoopJitter1kHz(b *testing.B) {
	b.Run("SystemClock", func(b *testing.B) { benchJitter(b, efferent.SystemClock{}) })
	b.Run("PreciseClock", func(b *testing.B) { benchJitter(b, control.PreciseClock{Spin: 100 * time.Microsecond}) })
}

func benchJitter(b *testing.B, clock efferent.Clock) {
	secs := 10.0
	if v, err := strconv.ParseFloat(os.Getenv("EFFERENT_JITTER_SECONDS"), 64); err == nil && v > 0 {
		secs = v
	}
	ticks := int(secs * 1000)
	robot := &fakeRobot{doneAfter: ticks}
	l, err := control.New(control.LoopConf{
		Clock:     clock,
		Policy:    &fakePolicy{h: 50, delay: 20 * time.Millisecond},
		Robot:     robot,
		Gate:      wideGate(b),
		Scheduler: control.SchedulerConf{Mode: control.ModeAsync, Kinds: loopKinds},
		RateHz:    1000,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	b.ResetTimer()
	if err := l.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	st := l.Stats()
	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(us(st.LateP50), "p50-µs")
	b.ReportMetric(us(st.LateP99), "p99-µs")
	b.ReportMetric(us(st.LateMax), "max-µs")
	b.ReportMetric(float64(st.Overruns), "overruns")
	b.ReportMetric(float64(st.Ticks), "ticks")
	b.ReportMetric(float64(st.Holds), "holds")
	b.Logf("%d ticks in %.0f s: late p50 %v p99 %v max %v, %d overruns, %d holds, %d inferences (p50 %v), chunks %+v",
		st.Ticks, secs, st.LateP50, st.LateP99, st.LateMax, st.Overruns, st.Holds, st.Inferences, st.InferP50, st.Chunks)
}
