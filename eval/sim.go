package eval

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/control"
	"github.com/efferent/efferent/policy"
	"github.com/efferent/efferent/safety"
	"github.com/efferent/efferent/sim"
)

// ActionKinds are the kinds of the simulator's 7-d LIBERO action for the
// scheduler and the gate: six deltas and a binary gripper.
func ActionKinds() []safety.Kind {
	return []safety.Kind{safety.Delta, safety.Delta, safety.Delta, safety.Delta, safety.Delta, safety.Delta, safety.Binary}
}

// NewSimGate returns the first safety gate for the simulator: every action
// entry within sim.ActionLimits, NaN/Inf refused (the arm holds).
func NewSimGate() (*safety.LimitGate, error) {
	lo, hi := sim.ActionLimits()
	return safety.NewLimits(safety.LimitsConf{Min: lo[:], Max: hi[:], Kinds: ActionKinds()})
}

// SimRobot adapts a simulator Env to control.Robot: the loop's setpoints
// are the sim's actions, one per step.
type SimRobot struct{ Env *sim.Env }

// Observe fills obs from the simulator. The sim's virtual timestamps are
// dropped so the loop stamps observations with its own clock (the same
// time base as the scheduler, also when the loop runs in real time).
func (r SimRobot) Observe(obs *efferent.Observation) error {
	if err := r.Env.Observe(obs); err != nil {
		return err
	}
	obs.Time = time.Time{}
	return nil
}

// Apply steps the simulator with the setpoint's action.
func (r SimRobot) Apply(sp *efferent.Setpoint) error { return r.Env.Step(sp.Values) }

// Done reports success or the step budget spent.
func (r SimRobot) Done() bool { return r.Env.Done() }

// maxRemoteHorizon bounds the chunk length of a policy that does not know
// it in advance (openpi servers do not announce it).
const maxRemoteHorizon = 256

// EpisodeConf configures one closed-loop episode in the simulator.
type EpisodeConf struct {
	// Env must be Reset to the episode's task and initial state already.
	Env *sim.Env
	// Policy drives it (required).
	Policy policy.Policy
	// Scheduler: Kinds default to ActionKinds; Mode defaults to replan
	// with 5 steps (openpi's LIBERO client).
	Scheduler control.SchedulerConf
	// Clock: nil runs in virtual time, as fast as the CPU allows and
	// deterministic (Virtual loop); otherwise the loop runs in real time
	// on this clock.
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
	// Guards, if set, run before the simulator's limits gate (an e-stop,
	// a watchdog: see safety.Chain). Default none.
	Guards []safety.Gate
	// OnLoop, if set, is called with the episode's control loop before it
	// runs (for its Stats: efferent run's /metrics). The loop is closed
	// when Episode returns; its Stats stay readable.
	OnLoop func(*control.Loop)
}

// Episode runs the simulator closed loop until success, the task's step
// budget, or ctx's end.
func Episode(ctx context.Context, c EpisodeConf) EpisodeResult {
	if c.Env == nil || c.Policy == nil {
		return EpisodeResult{Err: errors.New("eval: EpisodeConf needs Env and Policy")}
	}
	limits, err := NewSimGate()
	if err != nil {
		return EpisodeResult{Err: err}
	}
	var gate safety.Gate = limits
	if len(c.Guards) > 0 {
		gate = append(safety.Chain(append([]safety.Gate(nil), c.Guards...)), limits)
	}
	if c.Scheduler.Kinds == nil {
		c.Scheduler.Kinds = ActionKinds()
	}
	if c.Scheduler.MaxH == 0 && c.Policy.Metadata().Horizon == 0 {
		// A remote policy learns its chunk length from its first reply;
		// reserve room for any reasonable chunk (longer ones are refused
		// with an error naming the length).
		c.Scheduler.MaxH = maxRemoteHorizon
	}
	timed := &timedPolicy{Policy: c.Policy}
	var res EpisodeResult
	lc := control.LoopConf{
		Clock: c.Clock, Policy: timed, Robot: SimRobot{c.Env}, Gate: gate, Scheduler: c.Scheduler,
		OnTick: func(sp *efferent.Setpoint, v efferent.Verdict) {
			if c.Trace {
				res.Actions = append(res.Actions, append([]float64(nil), sp.Values...))
			}
			if c.OnTick != nil {
				c.OnTick(sp, v)
			}
		},
	}
	if c.Clock == nil {
		lc.Clock, lc.Virtual, lc.InferLatency = efferent.NewVirtualClock(sim.SimEpoch), true, c.InferLatency
	} else if c.SyncInference {
		lc.Virtual = true
	}
	loop, err := control.New(lc)
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
	switch {
	case runErr != nil:
		res.Err = runErr
	case st.InferErrors > 0 && !res.Success:
		// A policy that failed every call leaves the arm holding until the
		// step budget runs out; say why instead of reporting a plain miss.
		res.Err = fmt.Errorf("%d of %d inferences failed, last: %s", st.InferErrors, st.Inferences, st.LastChunkError)
	}
	return res
}

// SimTasks lists a suite's tasks as eval task references.
func SimTasks(suite string) ([]TaskRef, []sim.Task, error) {
	ts, err := sim.Tasks(suite)
	if err != nil {
		return nil, nil, err
	}
	refs := make([]TaskRef, len(ts))
	for i, t := range ts {
		refs[i] = TaskRef{Suite: t.Suite, Index: t.Index, Name: t.Name, Instruction: t.Instruction, MaxSteps: t.MaxSteps}
	}
	return refs, ts, nil
}

// SimConf configures SimEpisodes.
type SimConf struct {
	// NewPolicy opens worker's policy, once per worker (policies are not
	// safe for concurrent use). env is that worker's simulator, for
	// privileged policies such as ExpertPolicy. Required.
	NewPolicy func(worker int, env *sim.Env) (policy.Policy, error)
	// Sim configures each worker's simulator; NewRenderer gives each its
	// renderer (nil with Sim.NoRender).
	Sim         sim.Conf
	NewRenderer func() (sim.Renderer, error)
	// Scheduler, InferLatency: as in EpisodeConf (virtual time).
	Scheduler    control.SchedulerConf
	InferLatency time.Duration
	// TraceEpisodes: episodes below this index keep their action trace.
	// Default 1.
	TraceEpisodes int
}

// SimEpisodes returns an EpisodeFunc that runs episode e of a task from the
// task's fixed initial state e (mod sim.NumInitStates), as LIBERO does, in
// virtual time, and a function that closes every worker's policy and
// renderer.
func SimEpisodes(conf SimConf, tasks []sim.Task) (EpisodeFunc, func() error) {
	if conf.TraceEpisodes == 0 {
		conf.TraceEpisodes = 1
	}
	type worker struct {
		env *sim.Env
		pol policy.Policy
		r   sim.Renderer
	}
	var (
		mu      sync.Mutex
		workers = map[int]*worker{}
	)
	get := func(i int) (*worker, error) {
		mu.Lock()
		defer mu.Unlock()
		if w, ok := workers[i]; ok {
			return w, nil
		}
		w := &worker{}
		if !conf.Sim.NoRender && conf.NewRenderer != nil {
			r, err := conf.NewRenderer()
			if err != nil {
				return nil, err
			}
			w.r = r
		}
		env, err := sim.New(conf.Sim, w.r)
		if err != nil {
			return nil, err
		}
		w.env = env
		if w.pol, err = conf.NewPolicy(i, env); err != nil {
			return nil, fmt.Errorf("worker %d: %w", i, err)
		}
		workers[i] = w
		return w, nil
	}
	run := func(ctx context.Context, wi int, ref TaskRef, episode int) EpisodeResult {
		w, err := get(wi)
		if err != nil {
			return EpisodeResult{Err: err}
		}
		var task *sim.Task
		for i := range tasks {
			if tasks[i].Suite == ref.Suite && tasks[i].Index == ref.Index {
				task = &tasks[i]
			}
		}
		if task == nil {
			return EpisodeResult{Err: fmt.Errorf("no simulator task %s/%d", ref.Suite, ref.Index)}
		}
		if err := w.env.Reset(*task, episode%sim.NumInitStates); err != nil {
			return EpisodeResult{Err: err}
		}
		return Episode(ctx, EpisodeConf{Env: w.env, Policy: w.pol, Scheduler: conf.Scheduler,
			InferLatency: conf.InferLatency, Trace: episode < conf.TraceEpisodes})
	}
	closeAll := func() error {
		mu.Lock()
		defer mu.Unlock()
		var errs []error
		for _, w := range workers {
			errs = append(errs, w.pol.Close())
			if c, ok := w.r.(interface{ Close() }); ok {
				c.Close()
			}
		}
		return errors.Join(errs...)
	}
	return run, closeAll
}
