package control_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/control"
	"github.com/efferent/efferent/safety"
)

var allModes = []control.Mode{control.ModeReplan, control.ModeEnsemble, control.ModeAsync}

// TestIdentityWhenRatesEqual: with one tick per policy step, every kind
// emits the chunk's actions unchanged, in every mode.
func TestIdentityWhenRatesEqual(t *testing.T) {
	for _, mode := range allModes {
		t.Run(string(mode), func(t *testing.T) {
			s := newSched(t, control.SchedulerConf{Mode: mode, Kinds: []safety.Kind{abs, dlt, bin}, MaxH: 8, StepPeriod: step, ReplanSteps: 8})
			c := mkChunk(8, 3, 1, t0, func(k, j int) float64 { return math.Sin(float64(k*3+j)) * 0.37 })
			if err := s.Push(t0, c); err != nil {
				t.Fatal(err)
			}
			for k := range 8 {
				sp := tickAt(s, at(k, step))
				if sp.Hold || !slices.Equal(sp.Values, c.Row(k)) || sp.Seq != 1 || !sp.Time.Equal(at(k, step)) {
					t.Fatalf("step %d: %+v, want %v", k, sp, c.Row(k))
				}
			}
			if sp := tickAt(s, at(8, step)); !sp.Hold {
				t.Fatalf("after the chunk: %+v, want hold", sp)
			}
		})
	}
}

func TestHoldBeforeAnyChunk(t *testing.T) {
	s := newSched(t, control.SchedulerConf{Kinds: []safety.Kind{abs, dlt, bin}, MaxH: 4, StepPeriod: step, ControlPeriod: tick, Hold: []float64{0.3, 9, -1}})
	sp := tickAt(s, t0)
	if !sp.Hold || !slices.Equal(sp.Values, []float64{0.3, 0, -1}) || sp.Seq != 0 {
		t.Fatalf("%+v", sp)
	}
}

// TestReplan: 5 of each chunk's actions at 1 kHz, then a hold with the
// profile's hold values until the next chunk, which starts from its first
// action at the tick it arrives.
func TestReplan(t *testing.T) {
	s := newSched(t, control.SchedulerConf{Kinds: []safety.Kind{abs, dlt, bin}, MaxH: 10, StepPeriod: step, ControlPeriod: tick})
	if !s.NeedInference(t0) {
		t.Fatal("no inference wanted at start")
	}
	s.Requested(t0)
	if s.NeedInference(t0) {
		t.Fatal("inference wanted while one is outstanding")
	}
	a := mkChunk(10, 3, 1, t0, func(k, j int) float64 { return []float64{float64(k), 0.01 * float64(k+1), float64(k % 2)}[j] })
	if err := s.Push(t0, a); err != nil {
		t.Fatal(err)
	}
	var sum float64
	var sp efferent.Setpoint
	for i := range 250 {
		now := at(i, tick)
		if s.NeedInference(now) {
			t.Fatalf("tick %d: inference wanted before 5 steps ran", i)
		}
		s.Tick(now, &sp)
		if sp.Hold {
			t.Fatalf("tick %d: hold", i)
		}
		if i%50 == 0 && sp.Values[0] != float64(i/50) {
			t.Fatalf("tick %d: absolute %v, want action %d exactly", i, sp.Values[0], i/50)
		}
		if want := float64(i / 50 % 2); sp.Values[2] != want {
			t.Fatalf("tick %d: binary %v, want %v", i, sp.Values[2], want)
		}
		sum += sp.Values[1]
	}
	if want := 0.01 * (1 + 2 + 3 + 4 + 5); !near(sum, want, 1e-12) {
		t.Fatalf("delta sum over 5 steps = %v, want %v", sum, want)
	}
	last := slices.Clone(sp.Values)
	now := at(250, tick)
	if !s.NeedInference(now) {
		t.Fatal("no inference wanted after 5 steps")
	}
	s.Requested(now)
	for i := 250; i < 300; i++ {
		s.Tick(at(i, tick), &sp)
		if !sp.Hold || sp.Values[0] != last[0] || sp.Values[1] != 0 || sp.Values[2] != last[2] || sp.Seq != 1 {
			t.Fatalf("tick %d while waiting: %+v, want hold at %v", i, sp, last)
		}
	}
	b := mkChunk(10, 3, 2, at(250, tick), func(k, j int) float64 { return 100 + float64(k) })
	if err := s.Push(at(300, tick), b); err != nil {
		t.Fatal(err)
	}
	s.Tick(at(300, tick), &sp)
	if sp.Hold || sp.Values[0] != 100 || sp.Seq != 2 {
		t.Fatalf("first tick of the new chunk: %+v", sp)
	}
	if got := s.Stats(); got.Accepted != 2 || got.SkippedSteps != 0 {
		t.Fatalf("stats %+v", got)
	}
}

// TestReplanShortChunk: a chunk shorter than ReplanSteps runs whole.
func TestReplanShortChunk(t *testing.T) {
	s := newSched(t, control.SchedulerConf{Kinds: []safety.Kind{abs}, MaxH: 10, StepPeriod: step})
	_ = s.Push(t0, mkChunk(3, 1, 1, t0, func(k, j int) float64 { return float64(k) }))
	for k := range 3 {
		if sp := tickAt(s, at(k, step)); sp.Hold {
			t.Fatalf("step %d held", k)
		}
	}
	if sp := tickAt(s, at(3, step)); !sp.Hold || !s.NeedInference(at(3, step)) {
		t.Fatalf("after 3 steps: %+v", sp)
	}
}

// TestStaleChunkRejected: in every mode a chunk answering an older (or the
// same) observation is rejected, counted, and does not replace the newer.
func TestStaleChunkRejected(t *testing.T) {
	for _, mode := range allModes {
		t.Run(string(mode), func(t *testing.T) {
			s := newSched(t, control.SchedulerConf{Mode: mode, Kinds: []safety.Kind{abs}, MaxH: 10, StepPeriod: step})
			newer := mkChunk(10, 1, 5, at(1, step), func(k, j int) float64 { return 50 + float64(k) })
			if err := s.Push(at(1, step), newer); err != nil {
				t.Fatal(err)
			}
			older := mkChunk(10, 1, 4, at(0, step), func(k, j int) float64 { return -1 })
			if err := s.Push(at(2, step), older); !errors.Is(err, control.ErrStale) {
				t.Fatalf("older seq: err = %v, want ErrStale", err)
			}
			same := mkChunk(10, 1, 5, at(1, step), func(k, j int) float64 { return -1 })
			if err := s.Push(at(2, step), same); !errors.Is(err, control.ErrStale) {
				t.Fatalf("same seq: err = %v, want ErrStale", err)
			}
			oldTime := mkChunk(10, 1, 9, at(0, step), func(k, j int) float64 { return -1 })
			if err := s.Push(at(2, step), oldTime); !errors.Is(err, control.ErrStale) {
				t.Fatalf("older ObsTime, newer seq: err = %v, want ErrStale", err)
			}
			sp := tickAt(s, at(2, step))
			if sp.Values[0] != 51 || sp.Seq != 5 {
				t.Fatalf("after stale pushes: %+v, want the newer chunk's action 1", sp)
			}
			if st := s.Stats(); st.Stale != 3 || st.Accepted != 1 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

func TestInvalidChunk(t *testing.T) {
	s := newSched(t, control.SchedulerConf{Mode: control.ModeAsync, Kinds: []safety.Kind{abs, abs, bin}, MaxH: 10, StepPeriod: step})
	good := func() *efferent.Chunk { return mkChunk(6, 3, 1, t0, func(k, j int) float64 { return 1 }) }
	for _, tc := range []struct {
		name, want string
		mod        func(c *efferent.Chunk)
	}{
		{"nan", "action 3, dim 1 is NaN", func(c *efferent.Chunk) { c.Actions[3*3+1] = math.NaN() }},
		{"inf", "action 5, dim 2 is -Inf", func(c *efferent.Chunk) { c.Actions[5*3+2] = math.Inf(-1) }},
		{"wrong D", "D = 2, want 3", func(c *efferent.Chunk) { c.D = 2; c.H = 9 }},
		{"too long", "H = 11, want 1..10", func(c *efferent.Chunk) { c.H = 11; c.Actions = make([]float64, 33) }},
		{"empty", "H = 0", func(c *efferent.Chunk) { c.H = 0; c.Actions = nil }},
		{"short actions", "has 17 action values, want H·D = 18", func(c *efferent.Chunk) { c.Actions = c.Actions[:17] }},
		{"step period", "step period 100ms, the scheduler runs at 50ms", func(c *efferent.Chunk) { c.StepPeriod = 100 * time.Millisecond }},
		{"no ObsTime", "no ObsTime", func(c *efferent.Chunk) { c.ObsTime = time.Time{} }},
		{"future ObsTime", "ahead of now", func(c *efferent.Chunk) { c.ObsTime = t0.Add(time.Second) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good()
			tc.mod(c)
			err := s.Push(t0, c)
			if !errors.Is(err, control.ErrInvalidChunk) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrInvalidChunk with %q", err, tc.want)
			}
			if s.Covers(t0) {
				t.Fatal("an invalid chunk is executing")
			}
		})
	}
	if err := s.Push(t0, nil); !errors.Is(err, control.ErrInvalidChunk) {
		t.Fatalf("nil chunk: %v", err)
	}
	if st := s.Stats(); st.Invalid != 10 || st.Accepted != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestEnsembleWeights: at each step the action is the average of every
// chunk's prediction for it, weighted exp(−m·i), oldest i = 0.
func TestEnsembleWeights(t *testing.T) {
	const m = 0.5
	s := newSched(t, control.SchedulerConf{Mode: control.ModeEnsemble, Kinds: []safety.Kind{abs, bin}, MaxH: 4, StepPeriod: step, EnsembleM: m})
	w := func(i int) float64 { return math.Exp(-m * float64(i)) }
	// Chunk c (obs at step c) predicts 10·(c+1) + k for step c + k.
	pred := func(c, st int) float64 { return 10*float64(c+1) + float64(st-c) }
	for c := range 6 {
		now := at(c, step)
		if !s.NeedInference(now) {
			t.Fatalf("step %d: no inference wanted", c)
		}
		s.Requested(now)
		if s.NeedInference(now) {
			t.Fatalf("step %d: inference wanted twice in one step", c)
		}
		ch := mkChunk(4, 2, uint64(c+1), now, func(k, j int) float64 { return pred(c, c+k) })
		if err := s.Push(now, ch); err != nil {
			t.Fatal(err)
		}
		// Chunks predicting step c: max(0, c−3) … c, oldest first.
		var num, den float64
		for i, cc := 0, max(0, c-3); cc <= c; i, cc = i+1, cc+1 {
			num += w(i) * pred(cc, c)
			den += w(i)
		}
		sp := tickAt(s, now)
		if !near(sp.Values[0], num/den, 1e-12) || !near(sp.Values[1], num/den, 1e-12) {
			t.Fatalf("step %d: %v, want %v", c, sp.Values, num/den)
		}
	}
	// No new chunk: the stored ones still cover steps 6..8 (chunk 5 ends at
	// step 9), then the scheduler holds.
	for st := 6; st < 9; st++ {
		var num, den float64
		for i, cc := 0, st-3; cc <= 5; i, cc = i+1, cc+1 {
			num += w(i) * pred(cc, st)
			den += w(i)
		}
		if sp := tickAt(s, at(st, step)); sp.Hold || !near(sp.Values[0], num/den, 1e-12) {
			t.Fatalf("step %d: %+v, want %v", st, sp, num/den)
		}
	}
	if sp := tickAt(s, at(9, step)); !sp.Hold {
		t.Fatalf("step 9: %+v, want hold", sp)
	}
}

// TestEnsembleRequestsOncePerStep at 1 kHz, and the default m.
func TestEnsembleRequestsOncePerStep(t *testing.T) {
	s := newSched(t, control.SchedulerConf{Mode: control.ModeEnsemble, Kinds: []safety.Kind{abs}, MaxH: 4, StepPeriod: step, ControlPeriod: tick})
	n := 0
	for i := range 1000 {
		if now := at(i, tick); s.NeedInference(now) {
			if i%50 != 0 {
				t.Fatalf("request at tick %d, not a step boundary", i)
			}
			s.Requested(now)
			n++
		}
	}
	if n != 20 {
		t.Fatalf("%d requests in 20 steps", n)
	}
	// Default m = 0.01: two chunks predicting 0 and 1 for one step.
	s = newSched(t, control.SchedulerConf{Mode: control.ModeEnsemble, Kinds: []safety.Kind{abs}, MaxH: 4, StepPeriod: step})
	_ = s.Push(t0, mkChunk(4, 1, 1, t0, func(k, j int) float64 { return 0 }))
	_ = s.Push(at(1, step), mkChunk(4, 1, 2, at(1, step), func(k, j int) float64 { return 1 }))
	w1 := math.Exp(-0.01)
	if sp := tickAt(s, at(1, step)); !near(sp.Values[0], w1/(1+w1), 1e-12) {
		t.Fatalf("default m: %v, want %v", sp.Values[0], w1/(1+w1))
	}
}

// TestEnsembleLateChunk: a chunk arriving after its observation is aligned
// by ObsTime (its first actions, in the past, only count for steps not yet
// executed); a chunk entirely in the past is rejected.
func TestEnsembleLateChunk(t *testing.T) {
	s := newSched(t, control.SchedulerConf{Mode: control.ModeEnsemble, Kinds: []safety.Kind{abs}, MaxH: 4, StepPeriod: step})
	_ = s.Push(t0, mkChunk(4, 1, 1, t0, func(k, j int) float64 { return float64(k) }))
	late := mkChunk(4, 1, 2, at(1, step), func(k, j int) float64 { return 10 + float64(k) })
	if err := s.Push(at(3, step), late); err != nil {
		t.Fatal(err)
	}
	w1 := math.Exp(-0.01)
	// Step 3: chunk 1 predicts 3, chunk 2 (obs at step 1) predicts 12.
	if sp := tickAt(s, at(3, step)); !near(sp.Values[0], (3+w1*12)/(1+w1), 1e-12) {
		t.Fatalf("step 3: %v", sp.Values[0])
	}
	if sp := tickAt(s, at(4, step)); sp.Values[0] != 13 {
		t.Fatalf("step 4: %v, want 13", sp.Values[0])
	}
	expired := mkChunk(4, 1, 3, at(2, step), func(k, j int) float64 { return 0 })
	if err := s.Push(at(6, step), expired); !errors.Is(err, control.ErrExpired) {
		t.Fatalf("err = %v, want ErrExpired", err)
	}
	if st := s.Stats(); st.Expired != 1 || st.Accepted != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// TestAsyncSkipsElapsed: a chunk arriving 2 steps after its observation
// starts from its action 2; at 1 kHz, half-way through step 2 it starts
// half-way between actions 2 and 3.
func TestAsyncSkipsElapsed(t *testing.T) {
	s := newSched(t, control.SchedulerConf{Mode: control.ModeAsync, Kinds: []safety.Kind{abs, dlt}, MaxH: 10, StepPeriod: step})
	c := mkChunk(10, 2, 1, t0, func(k, j int) float64 { return float64(k + 1) })
	if err := s.Push(at(2, step), c); err != nil {
		t.Fatal(err)
	}
	if sp := tickAt(s, at(2, step)); !slices.Equal(sp.Values, []float64{3, 3}) {
		t.Fatalf("first tick: %v, want action 2", sp.Values)
	}
	if got := s.RemainingSteps(at(2, step)); got != 8 {
		t.Fatalf("remaining %d, want 8", got)
	}
	if st := s.Stats(); st.SkippedSteps != 2 {
		t.Fatalf("skipped %d, want 2", st.SkippedSteps)
	}

	s = newSched(t, control.SchedulerConf{Mode: control.ModeAsync, Kinds: []safety.Kind{abs, dlt}, MaxH: 10, StepPeriod: step, ControlPeriod: tick})
	now := t0.Add(2*step + step/2)
	if err := s.Push(now, c); err != nil {
		t.Fatal(err)
	}
	sp := tickAt(s, now)
	if !near(sp.Values[0], 3.5, 1e-12) || !near(sp.Values[1], 3.0/50, 1e-15) {
		t.Fatalf("mid-step: %v, want [3.5 0.06]", sp.Values)
	}
	if err := s.Push(at(20, step), mkChunk(10, 2, 2, at(10, step), func(k, j int) float64 { return 0 })); !errors.Is(err, control.ErrExpired) {
		t.Fatalf("all in the past: %v", err)
	}
}

// TestAsyncBlend: the next inference is requested at the threshold; the
// new chunk (2 steps late) is aligned by ObsTime and blended into the rest
// of the old one with weights 1/4, 1/2, 3/4 from the step in progress at
// its arrival on (binary dims switch at 1/2), then is executed as it is;
// its delta dim is reanchored by the motion it planned for the skipped steps.
func TestAsyncBlend(t *testing.T) {
	s := newSched(t, control.SchedulerConf{Mode: control.ModeAsync, Kinds: []safety.Kind{abs, dlt, bin}, MaxH: 16, StepPeriod: step, AsyncThreshold: 12, BlendSteps: 3})
	if !s.NeedInference(t0) {
		t.Fatal("no inference wanted at start")
	}
	s.Requested(t0)
	_ = s.Push(t0, mkChunk(16, 3, 1, t0, func(k, j int) float64 { return []float64{0, 0, -1}[j] }))
	for st := range 4 {
		if s.NeedInference(at(st, step)) {
			t.Fatalf("step %d: inference wanted with %d steps left", st, s.RemainingSteps(at(st, step)))
		}
		tickAt(s, at(st, step))
	}
	if !s.NeedInference(at(4, step)) { // 12 steps left
		t.Fatal("no inference wanted at the threshold")
	}
	s.Requested(at(4, step))
	if s.NeedInference(at(5, step)) {
		t.Fatal("inference wanted while one is outstanding")
	}
	b := mkChunk(16, 3, 2, at(4, step), func(k, j int) float64 { return []float64{1, 1, 1}[j] })
	if err := s.Push(at(6, step), b); err != nil {
		t.Fatal(err)
	}
	want := []struct{ a, g float64 }{
		{0.25, -1}, {0.5, 1}, {0.75, 1}, {1, 1}, {1, 1}, {1, 1},
	}
	for i, w := range want {
		sp := tickAt(s, at(6+i, step))
		wd := w.a
		if i == 0 {
			// Reanchored: b planned +1 +1 for steps 4 and 5, which ran the
			// old chunk's 0 0; the first step executed from b makes up for it.
			wd += 2
		}
		if !near(sp.Values[0], w.a, 1e-12) || !near(sp.Values[1], wd, 1e-12) || sp.Values[2] != w.g || sp.Seq != 2 {
			t.Fatalf("step %d: %v, want [%v %v %v]", 6+i, sp.Values, w.a, wd, w.g)
		}
	}
	if st := s.Stats(); st.SkippedSteps != 2 {
		t.Fatalf("skipped %d", st.SkippedSteps)
	}
}

// TestAsyncNoBlend: BlendSteps < 0 switches to the new chunk at once.
func TestAsyncNoBlend(t *testing.T) {
	s := newSched(t, control.SchedulerConf{Mode: control.ModeAsync, Kinds: []safety.Kind{abs}, MaxH: 16, StepPeriod: step, BlendSteps: -1})
	_ = s.Push(t0, mkChunk(16, 1, 1, t0, func(k, j int) float64 { return 0 }))
	_ = s.Push(at(6, step), mkChunk(16, 1, 2, at(4, step), func(k, j int) float64 { return 1 }))
	if sp := tickAt(s, at(6, step)); sp.Values[0] != 1 {
		t.Fatalf("%v, want 1", sp.Values)
	}
}

// TestInterpolationContinuity samples 20 Hz absolute actions of a smooth
// trajectory at 1 kHz and measures, at every step boundary and inside the
// steps, the jump in position and in finite-difference velocity. A C1
// curve has no velocity jump: the change of finite-difference velocity
// across a knot is of the order of acceleration × tick, as inside a step.
// For contrast, linear interpolation through the same samples jumps in
// velocity by |a[k+1] − 2a[k] + a[k−1]| / P at every knot.
func TestInterpolationContinuity(t *testing.T) {
	const h = 40 // 2 s of actions
	f := func(tt float64) float64 { return 0.4*math.Sin(2*math.Pi*0.5*tt) + 0.1*math.Cos(2*math.Pi*1.3*tt) }
	c := mkChunk(h, 1, 1, t0, func(k, j int) float64 { return f(float64(k) * step.Seconds()) })
	s := newSched(t, control.SchedulerConf{Mode: control.ModeAsync, Kinds: []safety.Kind{abs}, MaxH: h, StepPeriod: step, ControlPeriod: tick})
	if err := s.Push(t0, c); err != nil {
		t.Fatal(err)
	}
	ticks := (h - 1) * 50 // to the last knot
	x := make([]float64, ticks+1)
	var sp efferent.Setpoint
	for i := range x {
		s.Tick(at(i, tick), &sp)
		x[i] = sp.Values[0]
		if i%50 == 0 && x[i] != c.Actions[i/50] {
			t.Fatalf("tick %d: %v, curve does not pass through action %d (%v)", i, x[i], i/50, c.Actions[i/50])
		}
	}
	dt := tick.Seconds()
	var maxDx, maxDvKnot, maxDvIn, maxDvLinear, maxV float64
	for i := 2; i <= ticks; i++ {
		v1, v0 := (x[i]-x[i-1])/dt, (x[i-1]-x[i-2])/dt
		dv := math.Abs(v1 - v0)
		maxDx = max(maxDx, math.Abs(x[i]-x[i-1]))
		maxV = max(maxV, math.Abs(v1))
		switch {
		case (i-1)%50 == 0 && i > 51 && i < ticks-50: // x[i-1] is an interior knot: the stencil straddles it
			maxDvKnot = max(maxDvKnot, dv)
			k := (i - 1) / 50
			lin := math.Abs(c.Actions[k+1]-2*c.Actions[k]+c.Actions[k-1]) / step.Seconds()
			maxDvLinear = max(maxDvLinear, lin)
		case i > 50 && i < ticks-50:
			// Inside the interior steps (the first starts with a one-sided
			// tangent, the last brings the curve to rest).
			maxDvIn = max(maxDvIn, dv)
		}
	}
	t.Logf("1 kHz from 20 Hz: max |Δx| per tick %.3g (max |v| %.3g /s); max |Δv| per tick across knots %.3g /s, inside steps %.3g /s; linear interpolation would jump %.3g /s",
		maxDx, maxV, maxDvKnot, maxDvIn, maxDvLinear)
	// Position: no tick moves more than the speed allows (plus 1 %).
	if maxDx > 1.01*maxV*dt {
		t.Errorf("position jump %.3g > max speed × tick %.3g", maxDx, maxV*dt)
	}
	// Velocity: the change across a knot is of the same order as inside a
	// step (acceleration × tick), and over an order of magnitude below
	// linear interpolation's. (The first and last knots are left out: the
	// curve starts with a one-sided tangent and comes to rest at the
	// chunk's end, which is deliberate deceleration, not a jump.)
	if maxDvKnot > 2*maxDvIn || maxDvKnot > maxDvLinear/20 {
		t.Errorf("velocity jump across knots %.3g /s (inside %.3g, linear %.3g)", maxDvKnot, maxDvIn, maxDvLinear)
	}
}

// TestDeltaSumsToStepDelta: each of a step's 50 ticks gets 1/50 of the
// step's delta, so the ticks of every step sum to it.
func TestDeltaSumsToStepDelta(t *testing.T) {
	s := newSched(t, control.SchedulerConf{Mode: control.ModeAsync, Kinds: []safety.Kind{dlt, dlt}, MaxH: 8, StepPeriod: step, ControlPeriod: tick})
	c := mkChunk(8, 2, 1, t0, func(k, j int) float64 { return 0.013*float64(k+1) - 0.05*float64(j) })
	_ = s.Push(t0, c)
	var sp efferent.Setpoint
	for k := range 8 {
		var sum [2]float64
		for i := range 50 {
			s.Tick(at(k*50+i, tick), &sp)
			sum[0] += sp.Values[0]
			sum[1] += sp.Values[1]
		}
		for j := range 2 {
			if !near(sum[j], c.At(k, j), 1e-14) {
				t.Fatalf("step %d dim %d: ticks sum to %v, want %v", k, j, sum[j], c.At(k, j))
			}
		}
	}
	if s.Tick(at(400, tick), &sp); !sp.Hold || sp.Values[0] != 0 || sp.Values[1] != 0 {
		t.Fatalf("hold after the chunk: %+v, want zeros", sp)
	}
}

// TestTickAndPushAllocateNothing, in every mode, in steady state.
func TestTickAndPushAllocateNothing(t *testing.T) {
	for _, mode := range allModes {
		t.Run(string(mode), func(t *testing.T) {
			run := steadyTicks(t, mode)
			for range 5000 { // warm up: fill the ensemble store
				run()
			}
			if a := testing.AllocsPerRun(5000, run); a != 0 {
				t.Fatalf("%v allocations per tick", a)
			}
		})
	}
}

func TestSchedulerConfValidate(t *testing.T) {
	base := control.SchedulerConf{Kinds: []safety.Kind{abs}, MaxH: 10, StepPeriod: step}
	if _, err := control.NewScheduler(base); err != nil {
		t.Fatal(err)
	}
	d := base.WithDefaults()
	if d.Mode != control.ModeReplan || d.ReplanSteps != 5 || d.EnsembleM != 0.01 || d.BlendSteps != 2 || d.AsyncThreshold != 5 || d.ControlPeriod != step {
		t.Fatalf("defaults %+v", d)
	}
	for _, tc := range []struct {
		field string
		mod   func(c *control.SchedulerConf)
	}{
		{"Mode", func(c *control.SchedulerConf) { c.Mode = "chaos" }},
		{"Kinds", func(c *control.SchedulerConf) { c.Kinds = nil }},
		{"Kinds[0]", func(c *control.SchedulerConf) { c.Kinds = []safety.Kind{7} }},
		{"MaxH", func(c *control.SchedulerConf) { c.MaxH = 0 }},
		{"StepPeriod", func(c *control.SchedulerConf) { c.StepPeriod = 0 }},
		{"ControlPeriod", func(c *control.SchedulerConf) { c.ControlPeriod = time.Second }},
		{"ReplanSteps", func(c *control.SchedulerConf) { c.ReplanSteps = -1 }},
		{"EnsembleM", func(c *control.SchedulerConf) { c.EnsembleM = math.NaN() }},
		{"AsyncThreshold", func(c *control.SchedulerConf) { c.AsyncThreshold = 11 }},
		{"BlendSteps", func(c *control.SchedulerConf) { c.Mode, c.BlendSteps = control.ModeAsync, 11 }},
		{"Hold", func(c *control.SchedulerConf) { c.Hold = []float64{1, 2} }},
		{"Hold[0]", func(c *control.SchedulerConf) { c.Hold = []float64{math.Inf(1)} }},
	} {
		c := base
		tc.mod(&c)
		_, err := control.NewScheduler(c)
		if err == nil || !strings.Contains(err.Error(), "SchedulerConf."+tc.field+" ") && !strings.Contains(err.Error(), "SchedulerConf."+tc.field+":") {
			t.Errorf("%s: err = %v", tc.field, err)
		}
	}
}

// TestAsyncBlendConverges proves the blend's convergence on random cases:
// for any old and new chunk, any blend length B (0 = none, up to MaxH),
// any arrival latency and any kinds, the new chunk's action for the step in
// progress at its arrival is already (partly) executed, its weight at the
// j-th step from there is (j+1)/(B+1), and from B steps after the arrival
// on the output equals the new chunk exactly — at every step start, and at
// every controller tick from the step after (where the absolute dims'
// tangents see only new samples) — bit for bit what a scheduler that never
// saw the old chunk emits.
func TestAsyncBlendConverges(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	kinds := []safety.Kind{abs, dlt, bin, abs}
	const h = 8
	for trial := range 500 {
		B := rng.IntN(h + 1)
		conf := control.SchedulerConf{Mode: control.ModeAsync, Kinds: kinds, MaxH: h, StepPeriod: step, ControlPeriod: tick, BlendSteps: B}
		if B == 0 {
			conf.BlendSteps = -1
		}
		s := newSched(t, conf)
		fresh := newSched(t, conf)
		rnd := func(k, j int) float64 {
			if kinds[j] == bin {
				return float64(rng.IntN(2)*2 - 1)
			}
			return rng.NormFloat64()
		}
		oldC := mkChunk(h, len(kinds), 1, t0, rnd)
		obs := at(rng.IntN(h), step)              // the new chunk's observation
		late := time.Duration(rng.IntN(h)) * step // its latency, whole steps
		now := obs.Add(late)
		newC := mkChunk(h, len(kinds), 2, obs, rnd)
		if err := s.Push(t0, oldC); err != nil {
			t.Fatal(err)
		}
		for n := t0; n.Before(now); n = n.Add(tick) {
			tickAt(s, n)
		}
		if err := s.Push(now, newC); err != nil {
			t.Fatalf("trial %d: %v", trial, err)
		}
		if err := fresh.Push(now, newC); err != nil {
			t.Fatal(err)
		}
		kCur := int(late / step)
		for k := kCur; k < h; k++ {
			j := k - kCur
			for i := range int(step / tick) {
				n := obs.Add(time.Duration(k)*step + time.Duration(i)*tick)
				got, want := tickAt(s, n), tickAt(fresh, n)
				if got.Hold || got.Seq != 2 {
					t.Fatalf("trial %d (B %d, kCur %d): step %d tick %d held or old seq %d", trial, B, kCur, k, i, got.Seq)
				}
				if (j >= B && i == 0) || j > B {
					if !slices.Equal(got.Values, want.Values) {
						t.Fatalf("trial %d (B %d, kCur %d): step %d tick %d: %v, want the new chunk's %v", trial, B, kCur, k, i, got.Values, want.Values)
					}
				}
				if j < B && i == 0 && kinds[1] == dlt {
					// A delta dim at a step start is the blended sample:
					// o + w(a − o), w = (j+1)/(B+1), o the old chunk's.
					w := float64(j+1) / float64(B+1)
					a := newC.Actions[k*len(kinds)+1]
					o := 0.0
					if ok := int(n.Sub(t0)/step) < h; ok {
						o = oldC.Actions[int(n.Sub(t0)/step)*len(kinds)+1]
					} else {
						w = 1 // the old chunk is over: nothing to blend with
					}
					if wantD := (o + w*(a-o)) * float64(tick) / float64(step); !near(got.Values[1], wantD, 1e-12) {
						t.Fatalf("trial %d (B %d): step %d: delta %v, want weight %v: %v", trial, B, k, got.Values[1], w, wantD)
					}
				}
			}
		}
	}
}

// TestAsyncReanchorsDeltas: a delta chunk answering a request arrives late
// (whole steps, or mid-step at 1 kHz); without blending, the motion
// executed from its observation to the end of the first whole step run
// from it equals what the chunk planned for that span, and every later
// step is the chunk's own action.
func TestAsyncReanchorsDeltas(t *testing.T) {
	for _, c := range []struct {
		period time.Duration
		late   time.Duration
	}{{step, 2 * step}, {step, step}, {tick, 2*step + 20*tick}, {tick, 7 * tick}} {
		s := newSched(t, control.SchedulerConf{Mode: control.ModeAsync, Kinds: []safety.Kind{dlt, abs}, MaxH: 8, StepPeriod: step, ControlPeriod: c.period, BlendSteps: -1})
		perStep := int(step / c.period)
		_ = s.Push(t0, mkChunk(8, 2, 1, t0, func(k, j int) float64 { return 0.3 }))
		obs := at(2, step)
		var moved float64
		n := t0
		for ; n.Before(obs); n = n.Add(c.period) {
			tickAt(s, n)
		}
		s.Requested(obs)
		now := obs.Add(c.late)
		for ; n.Before(now); n = n.Add(c.period) {
			moved += tickAt(s, n).Values[0]
		}
		b := mkChunk(8, 2, 2, obs, func(k, j int) float64 { return []float64{-0.1 * float64(k+1), 5}[j] })
		if err := s.Push(now, b); err != nil {
			t.Fatal(err)
		}
		k1 := int((c.late + step - 1) / step) // the first whole step from b
		for ; n.Before(obs.Add(time.Duration(k1+1) * step)); n = n.Add(c.period) {
			moved += tickAt(s, n).Values[0]
		}
		var planned float64
		for k := 0; k <= k1; k++ {
			planned += b.Actions[k*2]
		}
		if !near(moved, planned, 1e-9) {
			t.Fatalf("late %v at %v: moved %v by the end of step %d, b planned %v", c.late, c.period, moved, k1, planned)
		}
		for k := k1 + 1; k < 8; k++ {
			var sum float64
			for range perStep {
				sum += tickAt(s, n).Values[0]
				n = n.Add(c.period)
			}
			if !near(sum, b.Actions[k*2], 1e-12) {
				t.Fatalf("late %v: step %d moved %v, want b's %v", c.late, k, sum, b.Actions[k*2])
			}
		}
	}
}

// TestAsyncSlowsDown: when the expected latency spans more than
// MaxLagSteps of a chunk, async plays chunks at latency/MaxLagSteps
// (rounded up to whole ticks) instead of the policy rate: the same
// actions, each over a longer step (delta dims spread thinner, so a step
// still sums to its delta), a late chunk entering at most MaxLagSteps
// into its plan, and every slowed tick counted.
func TestAsyncSlowsDown(t *testing.T) {
	kinds := []safety.Kind{dlt, abs, bin}
	conf := control.SchedulerConf{Mode: control.ModeAsync, Kinds: kinds, MaxH: 16, StepPeriod: step, ControlPeriod: tick, BlendSteps: -1, MaxLagSteps: 3}
	f := func(k, j int) float64 { return []float64{0.01 * float64(k+1), float64(k), float64(k % 2)}[j] }

	s := newSched(t, conf)
	s.SetLead(150 * time.Millisecond) // 3 steps: within the bound
	if err := s.Push(t0, mkChunk(16, 3, 1, t0, f)); err != nil {
		t.Fatal(err)
	}
	if p := s.PlayPeriod(); p != step {
		t.Fatalf("lead 150ms, 3 steps allowed: plays at %v, want the policy's %v", p, step)
	}
	tickAt(s, t0)
	if st := s.Stats(); st.SlowTicks != 0 {
		t.Fatalf("%d slow ticks at the policy rate", st.SlowTicks)
	}

	s = newSched(t, conf)
	s.SetLead(300 * time.Millisecond)
	c := mkChunk(16, 3, 1, t0, f)
	if err := s.Push(t0, c); err != nil {
		t.Fatal(err)
	}
	const slow = 100 * time.Millisecond // 300 ms / 3 steps
	if p := s.PlayPeriod(); p != slow {
		t.Fatalf("lead 300ms, 3 steps allowed: plays at %v, want %v", p, slow)
	}
	n := t0
	for k := range 4 {
		var sum float64
		for i := range int(slow / tick) {
			sp := tickAt(s, n)
			if sp.Hold {
				t.Fatalf("step %d, tick %d: held", k, i)
			}
			sum += sp.Values[0]
			if i == 0 && (sp.Values[1] != c.At(k, 1) || sp.Values[2] != c.At(k, 2)) {
				t.Fatalf("start of step %d at %v: %v, want the absolute and binary dims at action %d", k, n.Sub(t0), sp.Values, k)
			}
			if sp.Values[2] != c.At(k, 2) {
				t.Fatalf("step %d, tick %d: binary %v, want %v held for the whole slowed step", k, i, sp.Values[2], c.At(k, 2))
			}
			n = n.Add(tick)
		}
		if !near(sum, c.At(k, 0), 1e-12) {
			t.Fatalf("step %d: delta ticks sum to %v, want the action's %v", k, sum, c.At(k, 0))
		}
	}
	if got := s.RemainingSteps(n); got != 12 {
		t.Fatalf("after 400ms at %v a step: %d steps left, want 12", slow, got)
	}
	if st := s.Stats(); st.SlowTicks != uint64(4*slow/tick) {
		t.Fatalf("%d slow ticks, want %d", st.SlowTicks, 4*slow/tick)
	}

	// A chunk observed at n arrives 300 ms later: 3 slowed steps in, not 6.
	s.Requested(n)
	obs := n
	for end := n.Add(300 * time.Millisecond); n.Before(end); n = n.Add(tick) {
		tickAt(s, n)
	}
	b := mkChunk(16, 3, 2, obs, func(k, j int) float64 { return []float64{0, 100 + float64(k), 1}[j] })
	if err := s.Push(n, b); err != nil {
		t.Fatal(err)
	}
	if sp := tickAt(s, n); sp.Values[1] != b.At(3, 1) {
		t.Fatalf("late chunk: starts at %v, want its action 3 (%v)", sp.Values[1], b.At(3, 1))
	}
	if st := s.Stats(); st.SkippedSteps != 3 {
		t.Fatalf("skipped %d steps, want 3", st.SkippedSteps)
	}

	// A 20 Hz controller: 200 ms / 3 = 66.7 ms, rounded up to two ticks.
	c20 := conf
	c20.ControlPeriod = step
	s = newSched(t, c20)
	s.SetLead(200 * time.Millisecond)
	if err := s.Push(t0, mkChunk(16, 3, 1, t0, f)); err != nil {
		t.Fatal(err)
	}
	if p := s.PlayPeriod(); p != 2*step {
		t.Fatalf("20 Hz ticks, lead 200ms: plays at %v, want %v", p, 2*step)
	}
	if a, b := tickAt(s, t0).Values[0], tickAt(s, at(1, step)).Values[0]; a != c.At(0, 0)/2 || b != a {
		t.Fatalf("20 Hz ticks: step 0 moves %v then %v, want half of %v each", a, b, c.At(0, 0))
	}

	// Negative: never slow down; zero: MaxH/DefaultMaxLagDiv.
	for _, tc := range []struct {
		lag  float64
		want time.Duration
	}{{-1, step}, {0, 94 * tick}} { // 300 ms / 3.2 = 93.75 ms
		cc := conf
		cc.MaxLagSteps = tc.lag
		s = newSched(t, cc)
		s.SetLead(300 * time.Millisecond)
		if err := s.Push(t0, mkChunk(16, 3, 1, t0, f)); err != nil {
			t.Fatal(err)
		}
		if p := s.PlayPeriod(); p != tc.want {
			t.Fatalf("MaxLagSteps %v, lead 300ms: plays at %v, want %v", tc.lag, p, tc.want)
		}
	}
	for _, bad := range []float64{math.NaN(), 17} {
		cc := conf
		cc.MaxLagSteps = bad
		if _, err := control.NewScheduler(cc); err == nil || !strings.Contains(err.Error(), "MaxLagSteps") {
			t.Fatalf("MaxLagSteps %v: err %v, want one naming it", bad, err)
		}
	}
}

// TestGuideSlowed: in rtc mode a slowed chunk's guide is sampled at the
// period the next chunk will play at, and its delay counts those steps.
func TestGuideSlowed(t *testing.T) {
	s := newSched(t, control.SchedulerConf{Mode: control.ModeRTC, Kinds: []safety.Kind{abs}, MaxH: 16, StepPeriod: step, ControlPeriod: tick, GuideBeyond: -1, MaxLagSteps: 3})
	s.SetLead(300 * time.Millisecond)
	c := mkChunk(16, 1, 1, t0, func(k, j int) float64 { return float64(k) })
	if err := s.Push(t0, c); err != nil {
		t.Fatal(err)
	}
	var g efferent.ActionGuide
	s.Guide(at(2, 100*time.Millisecond), &g)
	if g.Delay != 3 || g.Steps != 14 {
		t.Fatalf("guide from slowed step 2: delay %d, %d steps; want 3, 14", g.Delay, g.Steps)
	}
	for k := range g.Steps {
		if got := g.Row(k)[0]; !near(got, float64(2+k), 1e-12) {
			t.Fatalf("guide row %d = %v, want action %d", k, got, 2+k)
		}
	}
}
