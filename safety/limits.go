package safety

import (
	"fmt"
	"math"
	"sync/atomic"

	"github.com/efferent/efferent"
)

// LimitsConf configures a LimitGate. D, the setpoint dimension, is
// len(Min); every other per-dimension slice that is given must have length
// D.
type LimitsConf struct {
	// Min and Max bound each dimension (required; Min[i] ≤ Max[i]; ±Inf
	// means unbounded on that side, NaN is an error). For absolute dims
	// they are position limits; for delta dims the allowed range of the
	// per-tick value (already scaled to the controller tick); for binary
	// dims the range of the command (e.g. −1..1 for a gripper).
	Min, Max []float64
	// MaxStep bounds |value − previous value| between consecutive
	// setpoints for absolute dims (0 = unbounded). Must be 0 for delta
	// and binary dims. Default nil: unbounded everywhere.
	MaxStep []float64
	// Kinds gives each dimension's kind. Default nil: all Absolute.
	Kinds []Kind
	// Initial is the robot's state in setpoint units (e.g. the measured
	// joint positions), the "previous value" of the first setpoint and
	// the hold values before any setpoint has passed. Default nil: the
	// first setpoint is not step-limited, and until one passes the hold
	// values of absolute and binary dims are 0 brought into [Min, Max]
	// (the Hold flag tells the actuator to keep still regardless). Set it,
	// or call Reset, whenever the robot's state is known.
	Initial []float64
}

// Validate checks the configuration; the error names the field.
func (c LimitsConf) Validate() error {
	d := len(c.Min)
	if d == 0 {
		return fmt.Errorf("safety: LimitsConf.Min: required (one value per dimension)")
	}
	if len(c.Max) != d {
		return fmt.Errorf("safety: LimitsConf.Max: %d values, Min has %d", len(c.Max), d)
	}
	if c.MaxStep != nil && len(c.MaxStep) != d {
		return fmt.Errorf("safety: LimitsConf.MaxStep: %d values, want %d (or none)", len(c.MaxStep), d)
	}
	if c.Kinds != nil && len(c.Kinds) != d {
		return fmt.Errorf("safety: LimitsConf.Kinds: %d values, want %d (or none)", len(c.Kinds), d)
	}
	if c.Initial != nil && len(c.Initial) != d {
		return fmt.Errorf("safety: LimitsConf.Initial: %d values, want %d (or none)", len(c.Initial), d)
	}
	for i := range d {
		lo, hi := c.Min[i], c.Max[i]
		if math.IsNaN(lo) || math.IsNaN(hi) {
			return fmt.Errorf("safety: LimitsConf.Min/Max[%d]: NaN", i)
		}
		if lo > hi {
			return fmt.Errorf("safety: LimitsConf.Min[%d] = %g > Max[%d] = %g", i, lo, i, hi)
		}
		k := Absolute
		if c.Kinds != nil {
			k = c.Kinds[i]
			if !k.Valid() {
				return fmt.Errorf("safety: LimitsConf.Kinds[%d] = %d: want absolute, delta or binary", i, uint8(k))
			}
		}
		if c.MaxStep != nil {
			s := c.MaxStep[i]
			if math.IsNaN(s) || s < 0 {
				return fmt.Errorf("safety: LimitsConf.MaxStep[%d] = %g: want ≥ 0 (0 = unbounded)", i, s)
			}
			if s != 0 && k != Absolute {
				return fmt.Errorf("safety: LimitsConf.MaxStep[%d] = %g: only absolute dims have a step bound (dim %d is %s)", i, s, i, k)
			}
		}
		if c.Initial != nil && (math.IsNaN(c.Initial[i]) || math.IsInf(c.Initial[i], 0)) {
			return fmt.Errorf("safety: LimitsConf.Initial[%d] = %g: want a finite value", i, c.Initial[i])
		}
	}
	return nil
}

// LimitCounts are a LimitGate's counters. A setpoint clamped for both
// reasons counts under both.
type LimitCounts struct {
	Allowed       uint64 // passed unchanged
	NaN           uint64 // refused: NaN or ±Inf
	Dimension     uint64 // refused: wrong number of values
	NoChunk       uint64 // held: the scheduler asked for a hold
	PositionLimit uint64 // clamped into [Min, Max]
	StepLimit     uint64 // clamped to MaxStep from the previous value
}

// LimitGate is the first safety gate: position (or per-tick delta) limits,
// a bound on the step between consecutive absolute setpoints, and refusal
// of NaN/Inf and wrongly sized setpoints.
//
// Check processes a setpoint in this order:
//
//  1. wrong length → Refused "dimension" (Dim −1), hold;
//  2. any NaN/±Inf → Refused "nan" (Dim = first such dimension), hold;
//  3. sp.Hold already set → Held with sp.HoldReason, or "no_chunk" when it
//     is empty, values replaced by the gate's
//     own hold values (the last values that passed, so a hold never moves
//     the robot outside its limits);
//  4. each value clamped into [Min, Max] ("position_limit"), then, for
//     absolute dims with a MaxStep, clamped to within MaxStep of the
//     previous value ("step_limit"; when the previous value lies outside
//     [Min, Max] the step bound wins, so a robot found outside the
//     envelope is brought back gradually). The verdict is Clamped with the
//     reason and Dim of the first dimension changed (position_limit when
//     both applied to it), or Allowed.
//
// "Hold" means: sp.Hold = true and sp.Values = hold values, which are the
// previous values for absolute and binary dims and 0 for delta dims. When
// sp.Values is too short to hold D values and lacks the capacity, it is
// left empty (length 0) with sp.Hold set.
//
// The previous values are those of the last Allowed or Clamped setpoint.
type LimitGate struct {
	min, max, maxStep, prev []float64
	kinds                   []Kind
	havePrev                bool
	counts                  [numReasons]atomic.Uint64
}

const (
	cntAllowed = iota
	cntNaN
	cntDimension
	cntNoChunk
	cntPosition
	cntStep
	numReasons
)

// NewLimits returns a LimitGate for conf.
func NewLimits(conf LimitsConf) (*LimitGate, error) {
	if err := conf.Validate(); err != nil {
		return nil, err
	}
	d := len(conf.Min)
	g := &LimitGate{
		min:     append([]float64(nil), conf.Min...),
		max:     append([]float64(nil), conf.Max...),
		maxStep: make([]float64, d),
		prev:    make([]float64, d),
		kinds:   make([]Kind, d),
	}
	copy(g.maxStep, conf.MaxStep)
	copy(g.kinds, conf.Kinds)
	if conf.Initial != nil {
		copy(g.prev, conf.Initial)
		g.havePrev = true
	}
	return g, nil
}

// Dim returns the setpoint dimension D.
func (g *LimitGate) Dim() int { return len(g.min) }

// Reset sets the previous values, e.g. to the robot's measured state at the
// start of an episode (nil forgets them, as if no setpoint had passed). Call
// it from the goroutine that calls Check.
func (g *LimitGate) Reset(prev []float64) error {
	if prev == nil {
		g.havePrev = false
		return nil
	}
	if len(prev) != len(g.prev) {
		return fmt.Errorf("safety: Reset: %d values, want %d", len(prev), len(g.prev))
	}
	for i, v := range prev {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("safety: Reset: value %d is %g", i, v)
		}
	}
	copy(g.prev, prev)
	g.havePrev = true
	return nil
}

// Counts returns the counters; safe from any goroutine.
func (g *LimitGate) Counts() LimitCounts {
	return LimitCounts{
		Allowed:       g.counts[cntAllowed].Load(),
		NaN:           g.counts[cntNaN].Load(),
		Dimension:     g.counts[cntDimension].Load(),
		NoChunk:       g.counts[cntNoChunk].Load(),
		PositionLimit: g.counts[cntPosition].Load(),
		StepLimit:     g.counts[cntStep].Load(),
	}
}

// Check implements Gate.
func (g *LimitGate) Check(sp *efferent.Setpoint) efferent.Verdict {
	n := len(g.min)
	if len(sp.Values) != n {
		g.hold(sp)
		g.counts[cntDimension].Add(1)
		return efferent.Verdict{Kind: efferent.Refused, Reason: ReasonDimension, Dim: -1}
	}
	for i, v := range sp.Values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			g.hold(sp)
			g.counts[cntNaN].Add(1)
			return efferent.Verdict{Kind: efferent.Refused, Reason: ReasonNaN, Dim: i}
		}
	}
	if sp.Hold {
		g.hold(sp)
		g.counts[cntNoChunk].Add(1)
		return efferent.Verdict{Kind: efferent.Held, Reason: holdReason(sp), Dim: -1}
	}
	first, reason := -1, ""
	var posHit, stepHit bool
	vals := sp.Values[:n]
	for i, v := range vals {
		r := ""
		if v < g.min[i] {
			v, r = g.min[i], ReasonPositionLimit
		} else if v > g.max[i] {
			v, r = g.max[i], ReasonPositionLimit
		}
		if ms := g.maxStep[i]; ms > 0 && g.havePrev {
			p := g.prev[i]
			if v > p+ms {
				v = p + ms
				if r == "" {
					r = ReasonStepLimit
				}
				stepHit = true
			} else if v < p-ms {
				v = p - ms
				if r == "" {
					r = ReasonStepLimit
				}
				stepHit = true
			}
		}
		if r != "" {
			vals[i] = v
			if r == ReasonPositionLimit {
				posHit = true
			}
			if first < 0 {
				first, reason = i, r
			}
		}
	}
	copy(g.prev, vals)
	g.havePrev = true
	if first < 0 {
		g.counts[cntAllowed].Add(1)
		return efferent.Verdict{Kind: efferent.Allowed, Dim: -1}
	}
	if posHit {
		g.counts[cntPosition].Add(1)
	}
	if stepHit {
		g.counts[cntStep].Add(1)
	}
	return efferent.Verdict{Kind: efferent.Clamped, Reason: reason, Dim: first}
}

// hold replaces sp's values with the hold values and sets sp.Hold.
func (g *LimitGate) hold(sp *efferent.Setpoint) {
	sp.Hold = true
	n := len(g.min)
	if cap(sp.Values) < n {
		sp.Values = sp.Values[:0]
		return
	}
	sp.Values = sp.Values[:n]
	for i := range n {
		switch {
		case g.kinds[i] == Delta:
			sp.Values[i] = 0
		case g.havePrev:
			sp.Values[i] = g.prev[i]
		default:
			sp.Values[i] = min(max(0, g.min[i]), g.max[i])
		}
	}
}
