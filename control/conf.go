package control

import (
	"fmt"
	"math"
	"time"

	"github.com/efferent/efferent/safety"
)

// Mode is how the scheduler turns a stream of chunks into setpoints.
type Mode string

const (
	// ModeReplan is openpi/LIBERO execute-then-replan: execute the first
	// ReplanSteps actions of each chunk from the tick it arrives, then ask
	// for a new one; the robot holds while waiting.
	ModeReplan Mode = "replan"
	// ModeEnsemble is ACT's temporal ensembling: a new chunk every policy
	// step; the action for a step is the weighted average of every chunk's
	// prediction for it, weight exp(−m·i), i the chunk's age index among
	// those predicting the step (oldest i = 0). Binary dims are averaged
	// too, as ACT does.
	ModeEnsemble Mode = "ensemble"
	// ModeAsync overlaps inference with execution: the next inference
	// starts when RemainingSteps ≤ AsyncThreshold; a new chunk is aligned
	// by its ObsTime (the elapsed part is skipped: it runs from the step
	// in progress at its arrival), its delta dims are reanchored by the
	// motion executed since its observation, and it is blended into the
	// rest of the old one over BlendSteps. A chunk entirely in the past
	// when it arrives is dropped and counted (SchedulerStats.Expired).
	ModeAsync Mode = "async"
	// ModeRTC is real-time chunking (Black et al. 2025): executed like
	// async (aligned by ObsTime, the elapsed part skipped, delta dims
	// reanchored), but each observation carries the executing plan's
	// actions from its time on (Scheduler.Guide, efferent.ActionGuide),
	// so that the policy makes the new chunk continue the old one: no
	// blending by default. It needs a policy that reads the guide
	// (policy.Metadata.Guides: the flow layout's prefix + step graphs).
	ModeRTC Mode = "rtc"
)

// Modes are the scheduling modes, in the order the docs list them.
func Modes() []Mode { return []Mode{ModeReplan, ModeEnsemble, ModeAsync, ModeRTC} }

// Overlapping reports whether m executes a chunk while the next is
// inferred, aligning chunks by their ObsTime (async and rtc).
func (m Mode) Overlapping() bool { return m == ModeAsync || m == ModeRTC }

// SchedulerConf configures a Scheduler. Zero values mean the documented
// defaults.
type SchedulerConf struct {
	// Mode: "replan" (default), "ensemble", "async" or "rtc".
	Mode Mode `yaml:"mode"`
	// Kinds gives each action dimension's kind (absolute, delta, binary);
	// its length is the action dimension D. Required.
	Kinds []safety.Kind `yaml:"kinds"`
	// MaxH is the longest chunk that will be pushed; storage is allocated
	// for it once. Required (a Loop defaults it to the policy's Horizon).
	MaxH int `yaml:"max_h"`
	// StepPeriod is the time between a chunk's actions (the policy rate,
	// e.g. 50 ms at 20 Hz). Required (a Loop defaults it to the policy's
	// StepPeriod). A chunk whose own StepPeriod is set and differs is
	// rejected.
	StepPeriod time.Duration `yaml:"step_period"`
	// ControlPeriod is the controller tick (e.g. 1 ms at 1 kHz). Default:
	// StepPeriod (one tick per action, where every kind is the identity).
	// A Loop sets it from its RateHz. Must not exceed StepPeriod. Delta
	// values are scaled by ControlPeriod/StepPeriod; when StepPeriod is a
	// multiple of ControlPeriod the ticks of a step sum to its delta
	// exactly.
	ControlPeriod time.Duration `yaml:"control_period"`
	// ReplanSteps (replan mode) is how many actions of each chunk are
	// executed before asking again. Default 5 (openpi's LIBERO client).
	// A chunk shorter than that is executed whole.
	ReplanSteps int `yaml:"replan_steps"`
	// EnsembleM (ensemble mode) is m in the weights exp(−m·i). Default
	// 0.01 (ACT) when zero; any other finite value is used as given (a
	// negative m favours newer chunks; use e.g. 1e-12 for practically
	// uniform weights).
	EnsembleM float64 `yaml:"ensemble_m"`
	// AsyncThreshold (async and rtc modes): the next inference is requested when
	// RemainingSteps ≤ AsyncThreshold (or when, with the expected latency,
	// nothing would be left by the time the chunk comes). Default
	// max(MaxH − ReplanSteps, MaxH/2, 1): at 0 ms a new chunk every
	// ReplanSteps steps, the cadence replan asks at, and never later than
	// half the chunk. Measured (spatial+object, 200 episodes): with 16-step
	// chunks 11 beat 8 at 0, 150 and 300 ms for efferent-flow (27.0 / 31.5
	// / 32.0 % against 20.5 / 26.0 / 30.0 %) and efferent-long (54.5 /
	// 54.5 / 46.0 % against 37.5 / 32.0 / 46.0 %); with 5-step chunks it is
	// 2, measured best of 1–4 (README). Must be ≤ MaxH.
	AsyncThreshold int `yaml:"async_threshold"`
	// BlendSteps (async and rtc modes) is how many steps a new chunk is blended
	// into the rest of the old one with linearly rising weights
	// 1/(B+1) … B/(B+1), starting at the step in progress at its arrival
	// (binary dims switch when the weight reaches 1/2); from B steps after
	// the arrival on the new chunk runs exactly (TestAsyncBlendConverges).
	// Default 2 in async mode (measured best of 0–3 with AsyncThreshold
	// 2, see README), none in rtc mode (the policy already makes the new
	// chunk continue the old); negative disables blending (the new chunk
	// takes over at once).
	BlendSteps int `yaml:"blend_steps"`
	// GuideBeyond (rtc mode) is how many steps past the inference delay
	// the executing chunk guides the next one (efferent.ActionGuide.Steps
	// ≤ Delay + GuideBeyond): the frozen steps, then GuideBeyond steps of
	// decaying guidance, the rest free. Default 2 (measured with
	// efferent-flow on spatial+object: 22 % at 0 ms and 5.5 % at 150 ms,
	// against 11 % and 2 % guided as far as the executing chunk reaches;
	// see docs/latency.md); negative: as far as the executing chunk
	// reaches (the paper's H − s).
	GuideBeyond int `yaml:"guide_beyond"`
	// MaxLagSteps (async and rtc modes) bounds how many of a chunk's steps
	// the arm advances while the next chunk is inferred. When the
	// expected latency (SetLead) spans more steps than this, chunks play
	// slower than the policy rate: at a period of latency/MaxLagSteps,
	// rounded up to whole controller ticks, so the arm moves along the
	// same path at a lower speed (delta dims move less per tick) and a
	// chunk that arrives starts at most MaxLagSteps into its own plan.
	// A policy trusts the first part of its chunks; what it predicts
	// further ahead from an old frame is what sank async at 300 ms (see
	// docs/latency.md, "Slowing down"). Default: the policy's declared
	// tolerance (manifest action.max_lag_steps, policy.Metadata) when the
	// Loop fills it, else MaxH/DefaultMaxLagDiv; negative: never slow
	// down.
	MaxLagSteps float64 `yaml:"max_lag_steps"`
	// Hold gives the hold values of absolute and binary dims until the
	// first setpoint has been emitted (afterwards they are the last
	// emitted values; delta dims always hold at 0). Default: zeros. The
	// Hold flag tells the actuator to keep still regardless.
	Hold []float64 `yaml:"hold"`
}

// Defaults used when a SchedulerConf field is zero.
const (
	DefaultReplanSteps = 5
	DefaultEnsembleM   = 0.01
	DefaultBlendSteps  = 2
	DefaultGuideBeyond = 2
	// DefaultMaxLagDiv: MaxLagSteps defaults to MaxH/DefaultMaxLagDiv,
	// the share of a chunk the measured models tolerate being stale
	// (efferent-long and efferent-flow: 3 of 16 steps, efferent-tiny: 1.5
	// of 5; docs/latency.md).
	DefaultMaxLagDiv = 5
)

// WithDefaults returns c with zero fields set to their defaults.
func (c SchedulerConf) WithDefaults() SchedulerConf {
	if c.Mode == "" {
		c.Mode = ModeReplan
	}
	if c.ControlPeriod == 0 {
		c.ControlPeriod = c.StepPeriod
	}
	if c.ReplanSteps == 0 {
		c.ReplanSteps = DefaultReplanSteps
	}
	if c.EnsembleM == 0 {
		c.EnsembleM = DefaultEnsembleM
	}
	if c.AsyncThreshold == 0 {
		c.AsyncThreshold = max(c.MaxH-c.ReplanSteps, c.MaxH/2, 1)
	}
	if c.BlendSteps == 0 && c.Mode == ModeRTC {
		c.BlendSteps = -1
	}
	if c.GuideBeyond == 0 {
		c.GuideBeyond = DefaultGuideBeyond
	}
	if c.MaxLagSteps == 0 {
		c.MaxLagSteps = float64(c.MaxH) / DefaultMaxLagDiv
	}
	if c.BlendSteps == 0 {
		// A chunk shorter than the default blend blends over its length.
		c.BlendSteps = DefaultBlendSteps
		if c.MaxH > 0 {
			c.BlendSteps = min(DefaultBlendSteps, c.MaxH)
		}
	}
	return c
}

// Validate checks a configuration (after WithDefaults); the error names
// the field.
func (c SchedulerConf) Validate() error {
	switch c.Mode {
	case ModeReplan, ModeEnsemble, ModeAsync, ModeRTC:
	default:
		return fmt.Errorf("control: SchedulerConf.Mode %q: want replan, ensemble, async or rtc", c.Mode)
	}
	if len(c.Kinds) == 0 {
		return fmt.Errorf("control: SchedulerConf.Kinds: required (one kind per action dimension)")
	}
	for i, k := range c.Kinds {
		if !k.Valid() {
			return fmt.Errorf("control: SchedulerConf.Kinds[%d] = %d: want absolute, delta or binary", i, uint8(k))
		}
	}
	if c.MaxH < 1 || c.MaxH > 1<<16 {
		return fmt.Errorf("control: SchedulerConf.MaxH = %d: want 1..65536", c.MaxH)
	}
	if c.StepPeriod <= 0 {
		return fmt.Errorf("control: SchedulerConf.StepPeriod = %v: want > 0", c.StepPeriod)
	}
	if c.ControlPeriod <= 0 || c.ControlPeriod > c.StepPeriod {
		return fmt.Errorf("control: SchedulerConf.ControlPeriod = %v: want > 0 and ≤ StepPeriod (%v)", c.ControlPeriod, c.StepPeriod)
	}
	if c.ReplanSteps < 1 {
		return fmt.Errorf("control: SchedulerConf.ReplanSteps = %d: want ≥ 1", c.ReplanSteps)
	}
	if math.IsNaN(c.EnsembleM) || math.IsInf(c.EnsembleM, 0) {
		return fmt.Errorf("control: SchedulerConf.EnsembleM = %g: want a finite value", c.EnsembleM)
	}
	if c.AsyncThreshold < 1 || c.AsyncThreshold > c.MaxH {
		return fmt.Errorf("control: SchedulerConf.AsyncThreshold = %d: want 1..MaxH (%d)", c.AsyncThreshold, c.MaxH)
	}
	if c.Mode.Overlapping() && c.BlendSteps > c.MaxH {
		return fmt.Errorf("control: SchedulerConf.BlendSteps = %d: want ≤ MaxH (%d)", c.BlendSteps, c.MaxH)
	}
	if math.IsNaN(c.MaxLagSteps) || c.MaxLagSteps > float64(c.MaxH) {
		return fmt.Errorf("control: SchedulerConf.MaxLagSteps = %g: want ≤ MaxH (%d); negative never slows down", c.MaxLagSteps, c.MaxH)
	}
	if c.Hold != nil {
		if len(c.Hold) != len(c.Kinds) {
			return fmt.Errorf("control: SchedulerConf.Hold: %d values, want %d (len(Kinds)) or none", len(c.Hold), len(c.Kinds))
		}
		for i, v := range c.Hold {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("control: SchedulerConf.Hold[%d] = %g: want a finite value", i, v)
			}
		}
	}
	return nil
}
