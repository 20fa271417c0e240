package safety

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/efferent/efferent"
)

func newTestMotion(t testing.TB, conf MotionConf) *MotionGate {
	t.Helper()
	g, err := NewMotion(conf)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// oneAxis is a 1 kHz joint with a lab envelope.
func oneAxis() MotionConf {
	return MotionConf{Period: time.Millisecond, Axes: []Axis{{Min: -1, Max: 1, Velocity: 0.5, Acceleration: 3, Jerk: 300}}}
}

// A smooth input inside every bound passes unchanged, tick after tick: the
// gate must not distort ordinary motion.
func TestMotionPassesSmoothInput(t *testing.T) {
	g := newTestMotion(t, oneAxis())
	sp := efferent.Setpoint{Values: make([]float64, 1)}
	// x = c·(ωt − sin ωt) starts at rest with zero acceleration; with
	// c = 0.05, ω = 2: v ≤ 2cω = 0.2, a ≤ cω² = 0.2, j ≤ cω³ = 0.4.
	for k := 1; k <= 5000; k++ {
		w := 2 * float64(k) * 1e-3
		want := 0.05 * (w - math.Sin(w))
		sp.Values[0] = want
		if v := g.Check(&sp); v.Kind != efferent.Allowed || sp.Values[0] != want {
			t.Fatalf("tick %d: %v, value %g, want %g unchanged", k, v, sp.Values[0], want)
		}
	}
	if c := g.Counts(); c.Allowed != 5000 {
		t.Fatalf("counts %+v", c)
	}
}

// A step in the target is approached at the limits and reached without
// overshoot; the verdicts name the limit the input broke.
func TestMotionStepConvergesWithoutOvershoot(t *testing.T) {
	conf := oneAxis()
	g := newTestMotion(t, conf)
	check := newMotionChecker(t, MotionConf{Period: conf.Period, Axes: conf.Axes, Initial: []float64{0}})
	sp := efferent.Setpoint{Values: make([]float64, 1)}
	reached := -1
	var reasons []string
	for k := range 3000 {
		sp.Values[0] = 0.5
		v := g.Check(&sp)
		check.observe(&sp)
		if sp.Values[0] > 0.5+1e-12 {
			t.Fatalf("tick %d: overshoot to %.12g", k, sp.Values[0])
		}
		if len(reasons) == 0 || reasons[len(reasons)-1] != v.Reason {
			reasons = append(reasons, v.Reason)
		}
		if reached < 0 && math.Abs(sp.Values[0]-0.5) < 1e-9 {
			reached = k
		}
	}
	// Minimum time: ~0.5/0.5 s cruising plus the ramps.
	if reached < 1000 || reached > 1400 {
		t.Fatalf("reached the target after %d ticks, want about 1000–1400", reached)
	}
	// A jump of 0.5 in one tick breaks the velocity bound, the input's
	// next two ticks its acceleration and jerk (they include the jump);
	// then the input is fine and the gate is converging, until it passes
	// the input through unchanged.
	if want := []string{ReasonVelocityLimit, ReasonAccelerationLimit, ReasonJerkLimit, ReasonConverging}; !slices.Equal(reasons[:4], want) {
		t.Fatalf("verdict reasons %q, want %q first", reasons, want)
	}
	for _, r := range reasons[4:] {
		if r != "" && r != ReasonConverging {
			t.Fatalf("verdict reasons %q: %q after the jump", reasons, r)
		}
	}
	if reasons[len(reasons)-1] != "" {
		t.Fatalf("verdict reasons %q: never passing again", reasons)
	}
	if check.bad != 0 {
		t.Fatal("limits exceeded")
	}
}

// A hold mid-motion is a category-2 stop: the axis decelerates within the
// limits (not a jump to zero velocity), then holds with sp.Hold set and
// the position it stopped at.
func TestMotionHoldIsControlledStop(t *testing.T) {
	conf := oneAxis()
	conf.Initial = []float64{-0.8}
	g := newTestMotion(t, conf)
	check := newMotionChecker(t, conf)
	sp := efferent.Setpoint{Values: make([]float64, 1)}
	for range 2000 { // get moving at full speed toward +1
		sp.Values[0], sp.Hold = 1, false
		g.Check(&sp)
		check.observe(&sp)
	}
	if v := g.axes[0].v; math.Abs(v-0.5) > 1e-9 {
		t.Fatalf("velocity %g before the hold, want 0.5", v)
	}
	x0 := sp.Values[0]
	ticks := 0
	for sp.Hold = true; ; sp.Hold = true {
		v := g.Check(&sp)
		check.observe(&sp)
		ticks++
		if v.Kind != efferent.Held || v.Reason != ReasonNoChunk {
			t.Fatalf("verdict %v", v)
		}
		if sp.Hold {
			break
		}
		if ticks > 1000 {
			t.Fatal("no stop within 1 s")
		}
	}
	// Braking from 0.5 m/s at 3 m/s² takes ~167 ms and ~42 mm (plus the
	// jerk ramp).
	if ticks < 160 || ticks > 200 {
		t.Fatalf("stopped after %d ticks, want ~167–190", ticks)
	}
	if d := sp.Values[0] - x0; d < 0.040 || d > 0.050 {
		t.Fatalf("braking distance %.4f, want ~0.042–0.05", d)
	}
	// Held values stay put, and a fresh input resumes from there.
	stopped := sp.Values[0]
	sp.Values[0] = 123
	g.Check(&sp)
	if !sp.Hold || sp.Values[0] != stopped {
		t.Fatalf("after the stop: hold %v value %g, want the stop position %g", sp.Hold, sp.Values[0], stopped)
	}
	if check.bad != 0 {
		t.Fatal("limits exceeded while stopping")
	}
}

// With Reject, a jump is refused and the axis brakes; an input back near
// the robot resumes motion.
func TestMotionRejectsJump(t *testing.T) {
	conf := oneAxis()
	conf.OnVelocity = Reject
	g := newTestMotion(t, conf)
	sp := efferent.Setpoint{Values: []float64{1e-7}}
	if v := g.Check(&sp); v.Kind != efferent.Allowed {
		t.Fatalf("small move: %v", v)
	}
	sp.Values[0] = 0.9
	v := g.Check(&sp)
	if v.Kind != efferent.Refused || v.Reason != ReasonVelocityLimit || v.Dim != 0 {
		t.Fatalf("jump: %v, want refused velocity_limit on dim 0", v)
	}
	if sp.Values[0] > 1e-6 {
		t.Fatalf("jump: emitted %g, want braking near 1e-7", sp.Values[0])
	}
	for range 50 {
		sp.Values[0], sp.Hold = 0.9, false
		if v := g.Check(&sp); v.Kind != efferent.Refused {
			t.Fatalf("repeated jump: %v", v)
		}
	}
	if !sp.Hold {
		t.Fatal("after 50 refused ticks the axis should be at rest and holding")
	}
	sp.Hold = false
	if v := g.Check(&sp); v.Kind != efferent.Allowed {
		t.Fatalf("input at the robot's position: %v, want allowed", v)
	}
	if c := g.Counts(); c.Rejected != 51 {
		t.Fatalf("rejected %d, want 51", c.Rejected)
	}
}

// A rate axis (a twist component) holds by ramping its command to zero
// within its acceleration cap; a delta axis stops its integrated motion.
func TestMotionRateAndDeltaHold(t *testing.T) {
	conf := MotionConf{Period: 20 * time.Millisecond, Axes: []Axis{
		{Rate: true, Min: -1, Max: 1, Velocity: 2, Acceleration: 20},
		{Kind: Delta, Velocity: 0.25, Acceleration: 2, Jerk: 50, Scale: 0.05},
	}}
	g := newTestMotion(t, conf)
	sp := efferent.Setpoint{Values: make([]float64, 2)}
	for range 100 {
		sp.Values[0], sp.Values[1], sp.Hold = 0.8, 0.1, false // 0.8 m/s; 0.005 m per 20 ms tick
		g.Check(&sp)
	}
	if sp.Values[0] != 0.8 || math.Abs(sp.Values[1]-0.1) > 1e-12 {
		t.Fatalf("cruising: %v, want [0.8 0.1]", sp.Values)
	}
	prev := sp.Values[0]
	n := 0
	for sp.Hold = true; ; sp.Hold = true {
		g.Check(&sp)
		n++
		if d := prev - sp.Values[0]; d > 2*0.02+1e-12 || d < -1e-6 {
			t.Fatalf("tick %d: command %g after %g: a step or a reversal", n, sp.Values[0], prev)
		}
		prev = sp.Values[0]
		if sp.Hold {
			break
		}
		if n > 100 {
			t.Fatal("no stop within 2 s")
		}
	}
	if sp.Values[0] != 0 || sp.Values[1] != 0 {
		t.Fatalf("held values %v, want zeros", sp.Values)
	}
	if n < 20 || n > 30 { // 0.8 m/s at 2 m/s²: 0.4 s = 20 ticks, plus the deltas' jerk ramp
		t.Fatalf("stopped after %d ticks", n)
	}
}

// NaN, ±Inf and wrong sizes are refused and brake; the gate never emits
// them.
func TestMotionRefusesBadInput(t *testing.T) {
	g := newTestMotion(t, oneAxis())
	for _, tc := range []struct {
		vals   []float64
		reason string
	}{
		{[]float64{math.NaN()}, ReasonNaN},
		{[]float64{math.Inf(-1)}, ReasonNaN},
		{[]float64{0, 0}, ReasonDimension},
		{[]float64{}, ReasonDimension},
	} {
		sp := efferent.Setpoint{Values: append(make([]float64, 0, 2), tc.vals...)}
		v := g.Check(&sp)
		if v.Kind != efferent.Refused || v.Reason != tc.reason {
			t.Fatalf("%v: %v, want refused %s", tc.vals, v, tc.reason)
		}
		if len(sp.Values) != 1 || sp.Values[0] != 0 || !sp.Hold {
			t.Fatalf("%v: emitted %v hold %v, want [0] held", tc.vals, sp.Values, sp.Hold)
		}
	}
}

func TestMotionConfErrors(t *testing.T) {
	ok := oneAxis()
	for name, mut := range map[string]func(c *MotionConf){
		"Period":       func(c *MotionConf) { c.Period = 0 },
		"Axes":         func(c *MotionConf) { c.Axes = nil },
		"Initial":      func(c *MotionConf) { c.Initial = []float64{0, 0} },
		"Acceleration": func(c *MotionConf) { c.Axes[0].Acceleration = 0 },
		"Jerk":         func(c *MotionConf) { c.Axes[0].Jerk = -1 },
		"Min":          func(c *MotionConf) { c.Axes[0].Min = 2 },
		"Rate":         func(c *MotionConf) { c.Axes[0].Kind, c.Axes[0].Rate = Delta, true },
		"Velocity":     func(c *MotionConf) { c.Axes[0].Velocity = math.NaN() },
	} {
		c := ok
		c.Axes = slices.Clone(ok.Axes)
		mut(&c)
		if _, err := NewMotion(c); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// The property test's checker must be able to fail: the raw adversarial
// stream through the position-only LimitGate breaks the motion bounds.
func TestMotionCheckerCatchesViolations(t *testing.T) {
	conf := motionTestConf()
	lo, hi, kinds := make([]float64, 5), make([]float64, 5), make([]Kind, 5)
	for i, a := range conf.Axes {
		lo[i], hi[i], kinds[i] = a.Min, a.Max, a.Kind
		if a.Kind != Absolute {
			lo[i], hi[i] = -1, 1
		}
	}
	lg, err := NewLimits(LimitsConf{Min: lo, Max: hi, Kinds: kinds})
	if err != nil {
		t.Fatal(err)
	}
	quiet := &testing.T{} // collects the expected failures without failing this test
	check := newMotionChecker(quiet, conf)
	adv := &adversary{r: rand.New(rand.NewPCG(3, 4)), conf: conf, last: slices.Clone(conf.Initial), buf: make([]float64, 6)}
	for range 200 {
		adv.chunk(func(sp *efferent.Setpoint) { lg.Check(sp); check.observe(sp) })
	}
	if check.bad == 0 {
		t.Fatal("the checker found no violation in an unfiltered adversarial stream")
	}
}

func TestMotionCheckAllocatesNothing(t *testing.T) {
	conf := motionTestConf()
	g := newTestMotion(t, conf)
	adv := &adversary{r: rand.New(rand.NewPCG(5, 6)), conf: conf, last: slices.Clone(conf.Initial), buf: make([]float64, 6)}
	var sps []efferent.Setpoint
	for range 200 {
		adv.chunk(func(sp *efferent.Setpoint) {
			c := *sp
			c.Values = append(make([]float64, 0, 6), sp.Values...)
			sps = append(sps, c)
		})
	}
	work := efferent.Setpoint{Values: make([]float64, 0, 6)}
	i := 0
	if a := testing.AllocsPerRun(2000, func() {
		src := &sps[i%len(sps)]
		work.Time, work.Seq, work.Hold = src.Time, src.Seq, src.Hold
		work.Values = append(work.Values[:0], src.Values...)
		g.Check(&work)
		i++
	}); a != 0 {
		t.Fatalf("%v allocations per Check", a)
	}
}

// frankaJoints is the shipped Franka profile's joint envelope at 1 kHz.
func frankaJoints() MotionConf {
	lo := []float64{-2.8973, -1.7628, -2.8973, -3.0718, -2.8973, -0.0175, -2.8973}
	hi := []float64{2.8973, 1.7628, 2.8973, -0.0698, 2.8973, 3.7525, 2.8973}
	c := MotionConf{Period: time.Millisecond, Initial: []float64{0, -0.785, 0, -2.356, 0, 1.571, 0.785}}
	for i := range lo {
		c.Axes = append(c.Axes, Axis{Min: lo[i], Max: hi[i], Velocity: 0.5, Acceleration: 3, Jerk: 1500})
	}
	return c
}

// BenchmarkMotionCheck: one 7-joint tick, for an input that passes (a slow
// sinusoid: the common case) and for adversarial input that must be
// limited on every axis (random targets: the worst case). p50/p99 per
// tick; 0 allocations.
func BenchmarkMotionCheck(b *testing.B) {
	for _, tc := range []struct {
		name  string
		value func(k, i int, r *rand.Rand, home float64) float64
	}{
		{"pass", func(k, i int, _ *rand.Rand, home float64) float64 {
			w := float64(k) * 1e-3
			return home + 0.05*(w-math.Sin(w))
		}},
		{"limited", func(_, _ int, r *rand.Rand, home float64) float64 { return home + r.Float64() - 0.5 }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			conf := frankaJoints()
			g := newTestMotion(b, conf)
			r := rand.New(rand.NewPCG(7, 8))
			sp := efferent.Setpoint{Values: make([]float64, 7)}
			lat := make([]time.Duration, 0, 1<<16)
			b.ReportAllocs()
			for k := 0; b.Loop(); k++ {
				for i := range sp.Values {
					sp.Values[i] = tc.value(k, i, r, conf.Initial[i])
				}
				t0 := time.Now()
				g.Check(&sp)
				if len(lat) < cap(lat) {
					lat = append(lat, time.Since(t0))
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
			b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
		})
	}
}

// FuzzMotion: any sequence of values, holds and sizes keeps the emitted
// stream within the limits.
func FuzzMotion(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Add([]byte{0xff, 0xf8, 0, 0, 0, 0, 0, 1, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0}) // NaN, +Inf
	f.Fuzz(func(t *testing.T, data []byte) {
		conf := motionTestConf()
		g := newTestMotion(t, conf)
		check := newMotionChecker(t, conf)
		n := len(conf.Axes)
		sp := efferent.Setpoint{Values: make([]float64, 0, n+1)}
		for len(data) >= 2 {
			op := data[0]
			data = data[1:]
			sp.Values, sp.Hold = sp.Values[:n], op&1 == 1
			if op&2 != 0 {
				sp.Values = sp.Values[:n-1+int(op>>2&1)*2]
			}
			for i := range sp.Values {
				if len(data) < 8 {
					break
				}
				sp.Values[i] = math.Float64frombits(binary.LittleEndian.Uint64(data))
				if op&8 != 0 { // small, plausible values too
					sp.Values[i] = float64(int8(data[0])) / 64
				}
				data = data[8:]
			}
			g.Check(&sp)
			check.observe(&sp)
		}
		if check.bad != 0 {
			t.Fatal("limits exceeded")
		}
	})
}

// The rollout shortcut may only accept states whose braking run is safe.
func TestClearlySafeImpliesRollout(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	accepted := 0
	for k := range 1000000 {
		dt := []float64{1e-3, 2e-3, 20e-3}[k%3]
		vmax := 0.1 + 3*r.Float64()
		amax := 0.5 + 20*r.Float64()
		jerk := 0.0
		if k%4 != 0 {
			jerk = amax * (1 + 1000*r.Float64())
		}
		l := newAxisLimits(-1, 1, vmax, amax, jerk, dt)
		s := axis{axisLimits: l}
		x := 2*r.Float64() - 1
		v := (2*r.Float64() - 1) * vmax
		a := (2*r.Float64() - 1) * amax
		if s.clearlySafe(x, v, a, -1, 1) {
			accepted++
			if _, ok := s.rollout(x, v, a, -1, 1, vmax); !ok {
				t.Fatalf("x %g v %g a %g (vmax %g amax %g s %g dt %g): shortcut says safe, rollout does not", x, v, a, vmax, amax, l.s, dt)
			}
		}
	}
	if accepted < 10000 {
		t.Fatalf("the shortcut accepted only %d of 1000000 states", accepted)
	}
	t.Logf("shortcut accepted %d of 1000000 random states", accepted)
}
