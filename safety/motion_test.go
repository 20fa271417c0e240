package safety

import (
	"flag"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/efferent/efferent"
)

var motionChunks = flag.Int("safety.chunks", 0,
	"random chunks per response for TestMotionNeverExceedsLimits (0: 20000 with -short, the full 1000000 otherwise)")

// motionTestConf is a 1 kHz arm-and-base mix: two Franka joints (one with
// a lab envelope, one at the hardware limits), an end-effector axis driven
// by deltas in a workspace box, a twist component and a gripper.
func motionTestConf() MotionConf {
	return MotionConf{
		Period: time.Millisecond,
		Axes: []Axis{
			{Min: -2.8973, Max: 2.8973, Velocity: 0.5, Acceleration: 3, Jerk: 1500},
			{Min: -3.0718, Max: -0.0698, Velocity: 2.175, Acceleration: 12.5, Jerk: 6250},
			{Kind: Delta, Min: 0.25, Max: 0.80, Velocity: 0.25, Acceleration: 2, Jerk: 100, Scale: 0.05},
			{Rate: true, Min: -1, Max: 1, Velocity: 2, Acceleration: 20},
			{Kind: Binary},
		},
		Initial: []float64{0, -2.356, 0.5, 0, 0},
	}
}

// motionTestConf50Hz is a quadruped-like mix at 50 Hz, where one tick is a
// large share of every ramp: three twist components, a joint and a delta
// axis.
func motionTestConf50Hz() MotionConf {
	return MotionConf{
		Period: 20 * time.Millisecond,
		Axes: []Axis{
			{Rate: true, Min: -1, Max: 1, Velocity: 2, Acceleration: 20},
			{Rate: true, Min: -0.5, Max: 0.5, Velocity: 2, Acceleration: 20},
			{Rate: true, Min: -1.5, Max: 1.5, Velocity: 3, Acceleration: 30},
			{Min: -1, Max: 1, Velocity: 1, Acceleration: 5, Jerk: 50},
			{Kind: Delta, Min: -0.3, Max: 0.3, Velocity: 0.5, Acceleration: 2, Jerk: 20},
		},
		Initial: []float64{0, 0, 0, 0.3, 0},
	}
}

// motionChecker follows a MotionGate's output as a robot would and counts
// every limit the emitted stream exceeds.
type motionChecker struct {
	t      *testing.T
	conf   MotionConf
	dt     float64
	pos    [][3]float64 // last three physical positions per axis (newest first)
	n      int          // ticks seen
	bad    int
	ticks  int
	report int
}

func newMotionChecker(t *testing.T, conf MotionConf) *motionChecker {
	c := &motionChecker{t: t, conf: conf, dt: conf.Period.Seconds(), pos: make([][3]float64, len(conf.Axes))}
	for i := range c.pos {
		x := conf.Initial[i]
		c.pos[i] = [3]float64{x, x, x} // at rest
	}
	return c
}

func (c *motionChecker) fail(format string, args ...any) {
	c.bad++
	if c.report < 10 {
		c.report++
		c.t.Errorf("tick %d: "+format, append([]any{c.ticks}, args...)...)
	}
}

// observe checks one emitted setpoint.
func (c *motionChecker) observe(sp *efferent.Setpoint) {
	c.ticks++
	if len(sp.Values) != len(c.conf.Axes) {
		c.fail("%d values emitted, want %d", len(sp.Values), len(c.conf.Axes))
		return
	}
	for i, a := range c.conf.Axes {
		v := sp.Values[i]
		if math.IsNaN(v) || math.IsInf(v, 0) {
			c.fail("axis %d: emitted %g", i, v)
			continue
		}
		if !a.limited() {
			continue
		}
		scale := a.Scale
		if scale == 0 {
			scale = 1
		}
		p := &c.pos[i]
		x := v * scale
		if a.Kind == Delta {
			x = p[0] + v*scale
		}
		if x < a.Min-1e-12 || x > a.Max+1e-12 {
			c.fail("axis %d: position %.9g outside [%g, %g]", i, x, a.Min, a.Max)
		}
		vel := (x - p[0]) / c.dt
		if a.Kind == Delta {
			vel = v * scale / c.dt // the increment itself: no cancellation
		}
		vp := (p[0] - p[1]) / c.dt
		vpp := (p[1] - p[2]) / c.dt
		acc, accp := (vel-vp)/c.dt, (vp-vpp)/c.dt
		jerk := (acc - accp) / c.dt
		if math.Abs(vel) > a.Velocity*(1+1e-6) {
			c.fail("axis %d: velocity %.9g > %g", i, vel, a.Velocity)
		}
		if math.Abs(acc) > a.Acceleration*(1+1e-6)+1e-6 {
			c.fail("axis %d: acceleration %.9g > %g", i, acc, a.Acceleration)
		}
		if a.Jerk > 0 && math.Abs(jerk) > a.Jerk*(1+1e-6)+1e-3 {
			c.fail("axis %d: jerk %.9g > %g", i, jerk, a.Jerk)
		}
		p[2], p[1], p[0] = p[1], p[0], x
	}
}

// adversary produces chunks of setpoints: smooth motion, random values in
// and beyond the limits, huge jumps, NaN and ±Inf, sign flips, holds,
// wrong sizes, stale (repeated, backwards-stamped) setpoints.
type adversary struct {
	r    *rand.Rand
	conf MotionConf
	now  time.Time
	seq  uint64
	last []float64
	buf  []float64
}

func (a *adversary) value(i int) float64 {
	ax := a.conf.Axes[i]
	switch {
	case ax.Kind == Binary:
		return float64(a.r.IntN(3) - 1)
	case ax.Kind == Delta:
		return (a.r.Float64()*2 - 1) * math.Pow(10, float64(a.r.IntN(4))-3) // up to ±1 unit per tick
	}
	span := ax.Max - ax.Min
	return ax.Min - 0.2*span + 1.4*span*a.r.Float64()
}

// chunk calls emit for each setpoint of one random chunk.
func (a *adversary) chunk(emit func(sp *efferent.Setpoint)) {
	n := len(a.conf.Axes)
	mode := a.r.IntN(10)
	length := 1 + a.r.IntN(8)
	a.seq++
	phase, freq := a.r.Float64()*6, 0.5+a.r.Float64()*20
	for k := range length {
		a.now = a.now.Add(time.Millisecond)
		vals := a.buf[:n]
		copy(vals, a.last)
		sp := efferent.Setpoint{Time: a.now, Seq: a.seq, Values: vals}
		switch mode {
		case 0: // smooth, possibly fast, oscillation inside the limits
			for i, ax := range a.conf.Axes {
				if ax.Kind == Absolute && !ax.Rate {
					mid, amp := (ax.Min+ax.Max)/2, (ax.Max-ax.Min)/2*0.9
					vals[i] = mid + amp*math.Sin(phase+freq*a.now.Sub(time.Time{}).Seconds())
				} else {
					vals[i] = a.value(i)
				}
			}
		case 1: // random values, in and beyond the limits
			for i := range vals {
				vals[i] = a.value(i)
			}
		case 2: // huge jumps
			i := a.r.IntN(n)
			vals[i] = math.Copysign(math.Pow(10, float64(a.r.IntN(300))), a.r.Float64()-0.5)
		case 3: // NaN or ±Inf in one dimension
			vals[a.r.IntN(n)] = [...]float64{math.NaN(), math.Inf(1), math.Inf(-1)}[a.r.IntN(3)]
		case 4: // sign flips every tick
			for i := range vals {
				vals[i] = a.last[i]
				if k%2 == 1 {
					vals[i] = -a.last[i]
				}
			}
		case 5: // the scheduler or a guard holds
			sp.Hold = true
		case 6: // wrong number of values
			sp.Values = a.buf[:n-1+2*a.r.IntN(2)]
		case 7: // stale: repeated values, timestamps going backwards
			sp.Time = a.now.Add(-time.Duration(a.r.IntN(1000)) * time.Millisecond)
			sp.Seq = a.seq - 1
		case 8: // out-of-band: every value far outside, as garbage tokens decode
			for i := range vals {
				vals[i] = a.value(i) * 1e3
			}
		case 9: // well-behaved: stay where the gate's output is
			for i, ax := range a.conf.Axes {
				if ax.Kind == Delta {
					vals[i] = 0
				}
			}
		}
		emit(&sp)
		copy(a.last, sp.Values) // the next chunk starts from what was emitted
	}
}

// TestMotionNeverExceedsLimits is the gate's property test: whatever comes
// in, the emitted stream stays within every position, velocity,
// acceleration and jerk bound (all continuous), with both responses.
func TestMotionNeverExceedsLimits(t *testing.T) {
	chunks := *motionChunks
	if chunks == 0 {
		chunks = 1_000_000
		if testing.Short() {
			chunks = 20_000
		}
	}
	for _, tc := range []struct {
		name string
		conf func() MotionConf
		resp Response
	}{
		{"arm-1kHz/clamp", motionTestConf, Clamp}, {"arm-1kHz/reject", motionTestConf, Reject},
		{"base-50Hz/clamp", motionTestConf50Hz, Clamp}, {"base-50Hz/reject", motionTestConf50Hz, Reject},
	} {
		resp := tc.resp
		t.Run(tc.name, func(t *testing.T) {
			conf := tc.conf()
			conf.OnPosition, conf.OnVelocity, conf.OnAcceleration, conf.OnJerk = Clamp, resp, resp, resp
			g, err := NewMotion(conf)
			if err != nil {
				t.Fatal(err)
			}
			check := newMotionChecker(t, conf)
			adv := &adversary{r: rand.New(rand.NewPCG(1, uint64(resp))), conf: conf, last: append([]float64(nil), conf.Initial...),
				buf: make([]float64, len(conf.Axes)+1)}
			var verdicts [4]int
			for range chunks {
				adv.chunk(func(sp *efferent.Setpoint) {
					v := g.Check(sp)
					verdicts[v.Kind]++
					check.observe(sp)
				})
			}
			t.Logf("%d chunks, %d ticks: %d allowed, %d clamped, %d held, %d refused; %d violations",
				chunks, check.ticks, verdicts[0], verdicts[1], verdicts[2], verdicts[3], check.bad)
			if check.bad != 0 {
				t.Fatalf("%d limit violations in the emitted stream", check.bad)
			}
			if verdicts[efferent.Allowed] == 0 || verdicts[efferent.Clamped] == 0 || verdicts[efferent.Refused] == 0 {
				t.Fatalf("the adversary did not exercise every verdict: %v", verdicts)
			}
		})
	}
}
