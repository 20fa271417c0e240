package safety

import (
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"time"

	"github.com/efferent/efferent"
)

// Verdict reasons of the MotionGate (besides ReasonNaN, ReasonDimension,
// ReasonNoChunk and ReasonPositionLimit).
const (
	// ReasonVelocityLimit: the input moved faster than the velocity bound.
	ReasonVelocityLimit = "velocity_limit"
	// ReasonAccelerationLimit: the input's acceleration exceeded the bound.
	ReasonAccelerationLimit = "acceleration_limit"
	// ReasonJerkLimit: the input's acceleration changed faster than the
	// jerk bound (a kink or a jump in velocity).
	ReasonJerkLimit = "jerk_limit"
	// ReasonConverging: the input itself is within every bound, but the
	// output still differs from it: the gate is catching up with an input
	// it limited earlier, or braking early for a position limit ahead.
	ReasonConverging = "converging"
)

// Response is what the MotionGate does when the input violates a limit.
type Response uint8

const (
	// Clamp follows the input as closely as the limits allow, smoothly:
	// the output stays continuous in position, velocity and acceleration
	// (Clamped verdict). The zero Response.
	Clamp Response = iota
	// Reject refuses the setpoint and brakes to a stop (Refused verdict);
	// motion resumes when the input is acceptable again.
	Reject
)

// String returns "clamp" or "reject".
func (r Response) String() string {
	if r == Reject {
		return "reject"
	}
	return "clamp"
}

// ParseResponse parses "clamp" or "reject" ("" is clamp).
func ParseResponse(s string) (Response, error) {
	switch strings.ToLower(s) {
	case "", "clamp":
		return Clamp, nil
	case "reject":
		return Reject, nil
	}
	return 0, fmt.Errorf("safety: response %q: want clamp or reject", s)
}

// Axis describes one setpoint dimension to the MotionGate. Physical
// position = value × Scale (absolute and rate axes) or the sum of value ×
// Scale over the ticks (delta axes); every bound is in physical units.
type Axis struct {
	// Kind: Absolute (the value is a position), Delta (the value is this
	// tick's increment; the gate limits the integrated position) or Binary
	// (passed through, e.g. a gripper). Default Absolute.
	Kind Kind
	// Rate marks an absolute axis whose value is itself a velocity command
	// (a twist component): holding brings the value to 0 smoothly, where a
	// position axis just stops. Its Velocity bound is then the command's
	// acceleration cap, and so on. Default false.
	Rate bool
	// Min and Max bound the position (for a rate axis, the command; for a
	// delta axis, the integrated position, which starts at Initial, e.g.
	// a workspace box around the measured end effector). ±Inf: unbounded.
	// Default 0, 0 means unbounded too.
	Min, Max float64
	// Velocity, Acceleration and Jerk bound the first three derivatives of
	// the position. Velocity 0 leaves the axis unlimited (its values pass
	// unchanged, as a Binary axis's); otherwise Acceleration must be > 0
	// too, and Jerk 0 means no jerk bound.
	Velocity, Acceleration, Jerk float64
	// Scale converts values to physical units (e.g. metres per policy
	// unit). Default 1.
	Scale float64
	// Lead (delta axes) bounds how far the integrated input may run ahead
	// of the output, as time at full Velocity: input beyond it is dropped,
	// not executed later. Default 100 ms: enough to catch up after a
	// clamp, never a stored-up lunge. A closed-loop policy on a real arm
	// wants little (efferent run sets 10 ms for end-effector deltas): what
	// it asked for and the limits held back would otherwise still be
	// executed after it has seen the arm arrive and asked to stop.
	Lead time.Duration
}

func (a Axis) limited() bool { return a.Kind != Binary && a.Velocity > 0 }

// MotionConf configures a MotionGate.
type MotionConf struct {
	// Period is the controller tick (required).
	Period time.Duration
	// Axes, one per setpoint dimension (required).
	Axes []Axis
	// What to do when the input exceeds each limit. Default Clamp for all.
	OnPosition, OnVelocity, OnAcceleration, OnJerk Response
	// Initial is each axis's physical position at the start (for a delta
	// axis, the origin of its integrated position; for a rate axis, the
	// current command). Default nil: zeros. Reset sets it later.
	Initial []float64
}

// Validate checks the configuration; the error names the field.
func (c MotionConf) Validate() error {
	if c.Period <= 0 {
		return fmt.Errorf("safety: MotionConf.Period: %v, want > 0", c.Period)
	}
	if len(c.Axes) == 0 {
		return fmt.Errorf("safety: MotionConf.Axes: required (one per dimension)")
	}
	if c.Initial != nil && len(c.Initial) != len(c.Axes) {
		return fmt.Errorf("safety: MotionConf.Initial: %d values, want %d (or none)", len(c.Initial), len(c.Axes))
	}
	for i, a := range c.Axes {
		if !a.Kind.Valid() {
			return fmt.Errorf("safety: MotionConf.Axes[%d].Kind = %d: want absolute, delta or binary", i, uint8(a.Kind))
		}
		for _, f := range []struct {
			name string
			v    float64
		}{{"Velocity", a.Velocity}, {"Acceleration", a.Acceleration}, {"Jerk", a.Jerk}, {"Scale", a.Scale}} {
			if math.IsNaN(f.v) || math.IsInf(f.v, 0) || f.v < 0 {
				return fmt.Errorf("safety: MotionConf.Axes[%d].%s = %g: want a finite value ≥ 0", i, f.name, f.v)
			}
		}
		if math.IsNaN(a.Min) || math.IsNaN(a.Max) || a.Min > a.Max {
			return fmt.Errorf("safety: MotionConf.Axes[%d]: Min %g, Max %g: want Min ≤ Max", i, a.Min, a.Max)
		}
		if a.Rate && a.Kind != Absolute {
			return fmt.Errorf("safety: MotionConf.Axes[%d]: Rate needs an absolute axis, not %s", i, a.Kind)
		}
		if a.Lead < 0 || a.Lead > time.Second {
			return fmt.Errorf("safety: MotionConf.Axes[%d].Lead = %v: want 0 (default) .. 1s", i, a.Lead)
		}
		if a.Velocity > 0 && a.Acceleration == 0 {
			return fmt.Errorf("safety: MotionConf.Axes[%d].Acceleration: required (> 0) with a Velocity bound", i)
		}
		if c.Initial != nil {
			if v := c.Initial[i]; math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("safety: MotionConf.Initial[%d] = %g: want a finite value", i, v)
			}
		}
	}
	return nil
}

// MotionCounts are a MotionGate's counters, one per verdict cause; a
// setpoint counts once, under its verdict's reason.
type MotionCounts struct {
	Allowed, NaN, Dimension, Hold                                uint64
	Position, Velocity, Acceleration, Jerk, Converging, Rejected uint64
}

const (
	mcAllowed = iota
	mcNaN
	mcDimension
	mcHold
	mcPosition
	mcVelocity
	mcAcceleration
	mcJerk
	mcConverging
	mcRejected
	mcCount
)

// inputHistory is what the gate saw of the input on one axis, to judge
// the input's own velocity, acceleration and jerk. Without one (at the
// start, after a stop) the input is judged against the emitted state: a
// jump away from where the robot is counts.
type inputHistory struct {
	y, v, a float64
	valid   bool
}

// axisState is one dimension of a MotionGate.
type axisState struct {
	conf    Axis
	axis    // limited axes only
	in      inputHistory
	target  float64 // delta axes: the integrated input
	lead    float64 // delta axes: how far the target may run ahead
	last    float64 // unlimited axes: the last value passed
	limited bool
}

// MotionGate limits each axis's position, velocity, acceleration and jerk
// and keeps its output continuous, whatever comes in: NaN, jumps, sign
// flips, holds, wrong sizes. It is the last gate of a chain: a hold from
// any gate before it (e-stop, watchdog, NaN refusal, no chunk) becomes a
// controlled stop within the limits — IEC 60204-1 category 2: decelerate,
// then hold (sp.Hold is set once every axis is at rest; until then the
// setpoints carry the braking trajectory, with the holding verdict).
//
// See brake.go for why the output provably never exceeds a limit. Check
// allocates nothing; the work per tick is a few braking simulations per
// axis whose input had to be limited, none when the input passes.
type MotionGate struct {
	axes   []axisState
	resp   [4]Response
	counts [mcCount]atomic.Uint64
}

// NewMotion returns a MotionGate for conf, at rest at conf.Initial.
func NewMotion(conf MotionConf) (*MotionGate, error) {
	if err := conf.Validate(); err != nil {
		return nil, err
	}
	dt := conf.Period.Seconds()
	g := &MotionGate{axes: make([]axisState, len(conf.Axes)),
		resp: [4]Response{conf.OnPosition, conf.OnVelocity, conf.OnAcceleration, conf.OnJerk}}
	for i, a := range conf.Axes {
		if a.Scale == 0 {
			a.Scale = 1
		}
		lo, hi := a.Min, a.Max
		if lo == 0 && hi == 0 {
			lo, hi = math.Inf(-1), math.Inf(1)
		}
		st := &g.axes[i]
		st.conf, st.limited = a, a.limited()
		if st.limited {
			st.axisLimits = newAxisLimits(lo, hi, a.Velocity, a.Acceleration, a.Jerk, dt)
			// A delta axis's integrated input may run ahead of the output
			// by Lead (0.1 s) at full speed: enough to catch up after a
			// clamp, never a stored-up lunge.
			lead := 0.1
			if a.Lead > 0 {
				lead = a.Lead.Seconds()
			}
			st.lead = lead * a.Velocity
		}
	}
	if err := g.Reset(conf.Initial); err != nil {
		return nil, err
	}
	return g, nil
}

// Dim returns the setpoint dimension.
func (g *MotionGate) Dim() int { return len(g.axes) }

// Reset puts every axis at rest at the given physical positions (nil:
// zeros), e.g. the robot's measured state. Call it from the goroutine that
// calls Check.
func (g *MotionGate) Reset(pos []float64) error {
	if pos != nil && len(pos) != len(g.axes) {
		return fmt.Errorf("safety: MotionGate.Reset: %d values, want %d", len(pos), len(g.axes))
	}
	for i := range g.axes {
		x := 0.0
		if pos != nil {
			x = pos[i]
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return fmt.Errorf("safety: MotionGate.Reset: value %d is %g", i, x)
			}
		}
		st := &g.axes[i]
		st.x, st.v, st.a = x, 0, 0
		st.target, st.last, st.in = x, x/st.conf.Scale, inputHistory{}
		if st.conf.Kind == Delta {
			st.last = 0
		}
	}
	return nil
}

// Rebase moves the integrated positions of the limited delta axes to pos
// (physical units; entries beyond len(pos), NaN or infinite, and those of
// other axes are left alone), keeping their velocity, acceleration and
// input history relative to them: the output is unchanged, only the
// position the bounds are judged at moves. It is for a robot that does not
// execute every increment it is sent (a driver bounding its command's lead
// or speed, an arm stopped by a table, the scene reset under it): without
// it the integrated position drifts from the robot's and the position
// bounds act where the robot is not. A position outside the bounds is
// taken at the nearest bound. Call it from the goroutine that calls Check.
func (g *MotionGate) Rebase(pos []float64) {
	for i := range min(len(pos), len(g.axes)) {
		st := &g.axes[i]
		x := pos[i]
		if st.conf.Kind != Delta || !st.limited || math.IsNaN(x) || math.IsInf(x, 0) {
			continue
		}
		d := min(max(x, st.lo), st.hi) - st.x
		st.x += d
		st.target += d
		if st.in.valid {
			st.in.y += d
		}
	}
}

// Positions appends each axis's physical position (the integrated one for
// delta axes) to dst.
func (g *MotionGate) Positions(dst []float64) []float64 {
	for i := range g.axes {
		st := &g.axes[i]
		if st.limited {
			dst = append(dst, st.x)
		} else {
			dst = append(dst, st.last*st.conf.Scale)
		}
	}
	return dst
}

// Counts returns the counters; safe from any goroutine.
func (g *MotionGate) Counts() MotionCounts {
	c := func(i int) uint64 { return g.counts[i].Load() }
	return MotionCounts{Allowed: c(mcAllowed), NaN: c(mcNaN), Dimension: c(mcDimension), Hold: c(mcHold),
		Position: c(mcPosition), Velocity: c(mcVelocity), Acceleration: c(mcAcceleration), Jerk: c(mcJerk),
		Converging: c(mcConverging), Rejected: c(mcRejected)}
}

// limit indexes: position, velocity, acceleration, jerk.
var limitReasons = [4]string{ReasonPositionLimit, ReasonVelocityLimit, ReasonAccelerationLimit, ReasonJerkLimit}

// Check implements Gate.
func (g *MotionGate) Check(sp *efferent.Setpoint) efferent.Verdict {
	n := len(g.axes)
	if len(sp.Values) != n {
		g.stop(sp)
		g.counts[mcDimension].Add(1)
		return efferent.Verdict{Kind: efferent.Refused, Reason: ReasonDimension, Dim: -1}
	}
	for i, v := range sp.Values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			g.stop(sp)
			g.counts[mcNaN].Add(1)
			return efferent.Verdict{Kind: efferent.Refused, Reason: ReasonNaN, Dim: i}
		}
	}
	if sp.Hold {
		g.stop(sp)
		g.counts[mcHold].Add(1)
		return efferent.Verdict{Kind: efferent.Held, Reason: holdReason(sp), Dim: -1}
	}
	// Judge the input first: a rejected limit stops every axis.
	first, firstLimit := -1, 0
	for i := range g.axes {
		st := &g.axes[i]
		if !st.limited {
			continue
		}
		if l := st.violation(sp.Values[i]); l >= 0 && (first < 0 || g.resp[l] == Reject && g.resp[firstLimit] != Reject) {
			first, firstLimit = i, l
		}
	}
	if first >= 0 && g.resp[firstLimit] == Reject {
		g.stop(sp)
		g.counts[mcRejected].Add(1)
		return efferent.Verdict{Kind: efferent.Refused, Reason: limitReasons[firstLimit], Dim: first}
	}
	changed := -1
	for i := range g.axes {
		st := &g.axes[i]
		v := sp.Values[i]
		if !st.limited {
			st.last = v
			continue
		}
		y, vt := st.accept(v)
		x0 := st.x
		if !st.track(y, vt) && changed < 0 {
			changed = i
		}
		sp.Values[i] = st.output(x0)
	}
	sp.Hold = false
	switch {
	case first >= 0:
		g.counts[mcPosition+firstLimit].Add(1)
		return efferent.Verdict{Kind: efferent.Clamped, Reason: limitReasons[firstLimit], Dim: first}
	case changed >= 0:
		g.counts[mcConverging].Add(1)
		return efferent.Verdict{Kind: efferent.Clamped, Reason: ReasonConverging, Dim: changed}
	}
	g.counts[mcAllowed].Add(1)
	return efferent.Verdict{Kind: efferent.Allowed, Dim: -1}
}

// stop brakes every limited axis one tick (rate axes toward 0) and writes
// the result into sp: the braking trajectory while anything moves, then the
// hold values with sp.Hold set. The input history is forgotten, so motion
// resumes from where the robot is.
func (g *MotionGate) stop(sp *efferent.Setpoint) {
	n := len(g.axes)
	if cap(sp.Values) < n {
		// Nothing to write the braking trajectory into: the state stays
		// where the robot was last sent (the control loop always passes
		// D values of capacity, so only a foreign caller gets here).
		sp.Values, sp.Hold = sp.Values[:0], true
		return
	}
	sp.Values = sp.Values[:n]
	moving := false
	for i := range g.axes {
		st := &g.axes[i]
		if !st.limited {
			if st.conf.Kind == Delta {
				st.last = 0
			}
			sp.Values[i] = st.last
			continue
		}
		x0 := st.x
		st.brakeTick()
		sp.Values[i] = st.output(x0)
		if !st.atRest() || st.conf.Rate && st.x != 0 {
			moving = true
		}
	}
	sp.Hold = !moving
}

// brakeTick is one tick of a controlled stop: a position axis brakes, a
// rate axis tracks 0.
func (st *axisState) brakeTick() {
	st.in.valid = false
	if !st.limited {
		return
	}
	if st.conf.Rate {
		st.track(0, 0)
	} else {
		st.brake()
	}
	st.target = st.x
}

// output is the value to emit for the new state (x0: the position before
// this tick).
func (st *axisState) output(x0 float64) float64 {
	if st.conf.Kind == Delta {
		return (st.x - x0) / st.conf.Scale
	}
	return st.x / st.conf.Scale
}

// violation returns the first limit (0 position, 1 velocity, 2
// acceleration, 3 jerk) that the input value breaks, judged on the input's
// own history (or on the emitted state where there is none yet: a jump
// away from where the robot is counts), or −1.
func (st *axisState) violation(value float64) int {
	y, vin, ain, ap := st.derivatives(value)
	const tol = 1 + 1e-9
	switch {
	case y < st.lo || y > st.hi:
		return 0
	case math.Abs(vin) > st.vmax*tol:
		return 1
	case math.Abs(ain) > st.amax*tol:
		return 2
	case math.Abs(ain-ap) > st.s*tol:
		return 3
	}
	return -1
}

// accept records an input value in the history and returns the target
// position and the target's velocity for track.
func (st *axisState) accept(value float64) (y, vt float64) {
	y, vin, ain, _ := st.derivatives(value)
	if st.conf.Kind == Delta {
		// The integrated input, kept within lead of the output.
		st.target = min(max(y, st.x-st.lead), st.x+st.lead)
		y = st.target
	}
	st.in = inputHistory{y: y, v: vin, a: ain, valid: true}
	// The target as far as the gate may follow it: a position beyond the
	// limits is aimed at the limit, standing still there.
	if lo, hi := st.envelope(); y < lo || y > hi {
		return min(max(y, lo), hi), 0
	}
	return y, min(max(vin, -st.vmax), st.vmax)
}

// derivatives returns the input's position, velocity and acceleration for
// value, and its previous acceleration, from the input history (or the
// emitted state without one).
func (st *axisState) derivatives(value float64) (y, vin, ain, ap float64) {
	dt, p := st.dt, value*st.conf.Scale
	yp, vp, ap := st.x, st.v, st.a
	if st.in.valid {
		yp, vp, ap = st.in.y, st.in.v, st.in.a
	}
	if st.conf.Kind == Delta {
		y, vin = st.target+p, p/dt
	} else {
		y, vin = p, (p-yp)/dt
	}
	return y, vin, (vin - vp) / dt, ap
}
