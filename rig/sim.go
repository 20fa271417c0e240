package rig

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/control"
	"github.com/efferent/efferent/policy"
	"github.com/efferent/efferent/safety"
	"github.com/efferent/efferent/sim"
	"github.com/efferent/efferent/sim/legged"
)

func simEpoch() time.Time { return sim.SimEpoch }

// Simulator is one episode of a built-in simulator as the control loop
// drives it: the tabletop's *sim.Env or the legged base's *legged.Env.
type Simulator interface {
	Observe(obs *efferent.Observation) error
	Step(action []float64) error
	Done() bool
	Success() bool
	Steps() int
}

// SimRobot adapts a simulator to control.Robot: the loop's setpoints are
// the simulator's actions, one per step.
type SimRobot struct {
	Env Simulator
	// Observed, if set, is called after each observation (the viewer's
	// view of the simulator for people).
	Observed func()
}

// Observe fills obs from the simulator. The sim's virtual timestamps are
// dropped so the loop stamps observations with its own clock (the same
// time base as the scheduler, also when the loop runs in real time).
func (r SimRobot) Observe(obs *efferent.Observation) error {
	if err := r.Env.Observe(obs); err != nil {
		return err
	}
	if r.Observed != nil {
		r.Observed()
	}
	obs.Time = time.Time{}
	return nil
}

// Apply steps the simulator with the setpoint's action.
func (r SimRobot) Apply(sp *efferent.Setpoint) error { return r.Env.Step(sp.Values) }

// Done reports success or the step budget spent.
func (r SimRobot) Done() bool { return r.Env.Done() }

// EpisodeConf configures one closed-loop episode in the simulator.
type EpisodeConf struct {
	// Env must be Reset to the episode's task and initial state already:
	// a *sim.Env (LIBERO's action space and limits) or a *legged.Env (the
	// quadruped's command vector and its envelope).
	Env Simulator
	// Policy drives it (required).
	Policy policy.Policy
	// Scheduler: Kinds default to LIBERO's; Mode defaults to replan with
	// 5 steps (openpi's LIBERO client).
	Scheduler control.SchedulerConf
	// Virtual runs the episode in virtual time, as fast as the CPU allows
	// and deterministic. Otherwise it runs in real time on Clock.
	Virtual bool
	// Clock is the real-time clock. nil: the system clock.
	Clock efferent.Clock
	// InferLatency: virtual time only; modelled inference latency.
	InferLatency time.Duration
	// SyncInference runs inference on the tick that asks for it, also in
	// real time (the loop's Virtual mode on a real clock). For policies
	// that answer in microseconds with one-step chunks (the expert), where
	// asynchronous inference would leave every other tick without a chunk.
	SyncInference bool
	// Trace keeps the executed actions in the result.
	Trace bool
	// OnTick, if set, is also called after every step (progress lines).
	OnTick func(sp *efferent.Setpoint, v efferent.Verdict)
	// Gates: the stages before and after the simulator's limits (teleop,
	// e-stop, watchdog). Limits is always SimLimits.
	Gates Gates
	// Observed, if set, is called after each observation of Env (the
	// viewer's third-person view).
	Observed func()
	// OnLoop, if set, is called with the episode's control loop before it
	// runs (for its Stats: efferent run's /metrics). The loop is closed
	// when Episode returns; its Stats stay readable.
	OnLoop func(*control.Loop)
}

// EpisodeResult is what one episode produced.
type EpisodeResult struct {
	Success bool
	// Steps is how many control steps the episode took.
	Steps int
	// InferLatencies are the durations of the episode's inference calls.
	InferLatencies []time.Duration
	// Actions is the trace of executed actions, one row per step; optional
	// (nil), kept only when EpisodeConf.Trace is set.
	Actions [][]float64
	// ExpiredChunks counts the chunks the scheduler dropped because all
	// of their actions were already in the past when they arrived (the
	// inference latency outlasted the chunk); DroppedChunks the others
	// thrown away unexecuted (stale: answering an older observation than
	// one accepted; invalid; discarded after a stale input); HeldTicks the
	// control steps whose setpoint held the arm (no chunk covered the step,
	// or a gate held it). None of them is an error by itself.
	ExpiredChunks, DroppedChunks, HeldTicks int
	// GapHeldTicks are the HeldTicks after the arm first moved: between
	// chunks (a chunk that came too late) or for a gate; the others were
	// the wait for the first chunk, which any latency costs once.
	GapHeldTicks int
	// SlowTicks are the control steps executed from a chunk played
	// slower than the policy rate (async and rtc, when the latency spans
	// more than the scheduler's MaxLagSteps): the arm moved, slower.
	SlowTicks int
	// Err says the episode could not run (simulator crash, lost
	// connection): it counts as a failure and is listed in the report.
	Err error
}

// Episode runs the simulator closed loop until success, the task's step
// budget, or ctx's end.
func Episode(ctx context.Context, c EpisodeConf) EpisodeResult {
	if c.Env == nil || c.Policy == nil {
		return EpisodeResult{Err: errors.New("rig: EpisodeConf needs Env and Policy")}
	}
	space, limits, err := simSpace(c.Env)
	if err != nil {
		return EpisodeResult{Err: err}
	}
	_, leg := c.Env.(*legged.Env)
	takes := "LIBERO's end-effector deltas (the tabletop)"
	if leg {
		takes = "a quadruped's command vector (the legged base)"
	}
	if err := spaceMismatch(c.Policy.Metadata().ActionSpace, !leg, leg, takes); err != nil {
		return EpisodeResult{Err: fmt.Errorf("policy %s: %w", c.Policy.Metadata().Name, err)}
	}
	gates := c.Gates
	gates.Limits = limits
	timed := &timedPolicy{Policy: c.Policy}
	var res EpisodeResult
	lc := LoopConf{
		Robot: SimRobot{Env: c.Env, Observed: c.Observed}, Policy: timed, Space: space, Gates: gates, Scheduler: c.Scheduler,
		Clock: c.Clock, Virtual: c.Virtual || c.SyncInference,
		OnTick: func(sp *efferent.Setpoint, v efferent.Verdict) {
			if c.Trace {
				res.Actions = append(res.Actions, append([]float64(nil), sp.Values...))
			}
			if c.OnTick != nil {
				c.OnTick(sp, v)
			}
		},
	}
	switch {
	case c.Virtual:
		lc.Clock, lc.InferLatency = efferent.NewVirtualClock(sim.SimEpoch), c.InferLatency
	case lc.Clock == nil:
		lc.Clock = efferent.SystemClock{} // real time, also with SyncInference
	}
	loop, err := NewLoop(lc)
	if err != nil {
		return EpisodeResult{Err: err}
	}
	defer loop.Close()
	if c.OnLoop != nil {
		c.OnLoop(loop)
	}
	runErr := loop.Run(ctx)
	res.Success, res.Steps, res.InferLatencies = c.Env.Success(), c.Env.Steps(), timed.lat
	st := loop.Stats()
	res.ExpiredChunks = int(st.Chunks.Expired)
	res.DroppedChunks = int(st.Chunks.Stale + st.Chunks.Invalid + st.Discarded)
	res.HeldTicks = int(st.Holds)
	res.GapHeldTicks = int(st.Holds - st.StartHolds)
	res.SlowTicks = int(st.Chunks.SlowTicks)
	switch {
	case runErr != nil:
		res.Err = runErr
	case st.InferErrors > 0 && !res.Success:
		// A policy that failed every call leaves the arm holding until the
		// step budget runs out; say why instead of reporting a plain miss.
		res.Err = fmt.Errorf("%d of %d inferences failed, last: %s", st.InferErrors, st.Inferences, st.LastChunkError)
	case st.Chunks.Accepted == 0 && st.Chunks.Expired > 0 && !res.Success:
		// Every chunk came after its last action (latency ≥ the chunk's
		// length): the arm never moved. Say so instead of a plain miss.
		res.Err = fmt.Errorf("all %d chunks expired before they arrived (the inference latency outlasts the chunk): the arm never moved",
			st.Chunks.Expired)
	}
	return res
}

// simSpace is a simulator's action space and the limits of its actions:
// the one place that tells the two simulators apart.
func simSpace(env Simulator) (Space, *safety.LimitGate, error) {
	if _, ok := env.(*legged.Env); ok {
		g, err := LeggedLimits()
		return Quadruped(), g, err
	}
	g, err := SimLimits()
	return LIBERO(), g, err
}
