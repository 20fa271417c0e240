package eval

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/efferent/efferent/control"
	"github.com/efferent/efferent/policy"
	"github.com/efferent/efferent/rig"
	"github.com/efferent/efferent/sim"
	"github.com/efferent/efferent/sim/legged"
)

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

// LeggedTasks lists a legged suite's tasks as eval task references.
func LeggedTasks(suite string) ([]TaskRef, []legged.Task, error) {
	ts, err := legged.Tasks(suite)
	if err != nil {
		return nil, nil, err
	}
	refs := make([]TaskRef, len(ts))
	for i, t := range ts {
		refs[i] = TaskRef{Suite: t.Suite, Index: t.Index, Name: t.Name, Instruction: t.Instruction, MaxSteps: t.MaxSteps}
	}
	return refs, ts, nil
}

// SimConf configures SimEpisodes and LeggedEpisodes.
type SimConf struct {
	// NewPolicy opens worker's policy, once per worker (policies are not
	// safe for concurrent use). env is that worker's simulator (a *sim.Env
	// or a *legged.Env), for privileged policies such as the experts.
	// Required.
	NewPolicy func(worker int, env rig.Simulator) (policy.Policy, error)
	// Sim configures each worker's simulator (ImageSize, NoRender; the
	// legged simulator takes the same); NewRenderer gives each tabletop
	// its renderer, NewLeggedRenderer each legged simulator its own (nil
	// with Sim.NoRender).
	Sim               sim.Conf
	NewRenderer       func() (sim.Renderer, error)
	NewLeggedRenderer func() (legged.Renderer, error)
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
	return episodes(conf, func() (rig.Simulator, any, error) {
		var r sim.Renderer
		if !conf.Sim.NoRender && conf.NewRenderer != nil {
			var err error
			if r, err = conf.NewRenderer(); err != nil {
				return nil, nil, err
			}
		}
		env, err := sim.New(conf.Sim, r)
		return env, r, err
	}, func(env rig.Simulator, ref TaskRef, episode int) error {
		for _, t := range tasks {
			if t.Suite == ref.Suite && t.Index == ref.Index {
				return env.(*sim.Env).Reset(t, episode%sim.NumInitStates)
			}
		}
		return fmt.Errorf("no simulator task %s/%d", ref.Suite, ref.Index)
	})
}

// LeggedEpisodes is SimEpisodes for the legged simulator's tasks.
func LeggedEpisodes(conf SimConf, tasks []legged.Task) (EpisodeFunc, func() error) {
	return episodes(conf, func() (rig.Simulator, any, error) {
		var r legged.Renderer
		if !conf.Sim.NoRender && conf.NewLeggedRenderer != nil {
			var err error
			if r, err = conf.NewLeggedRenderer(); err != nil {
				return nil, nil, err
			}
		}
		env, err := legged.New(legged.Conf{ImageSize: conf.Sim.ImageSize, NoRender: conf.Sim.NoRender}, r)
		return env, r, err
	}, func(env rig.Simulator, ref TaskRef, episode int) error {
		for _, t := range tasks {
			if t.Suite == ref.Suite && t.Index == ref.Index {
				return env.(*legged.Env).Reset(t, episode%legged.NumInitStates)
			}
		}
		return fmt.Errorf("no legged simulator task %s/%d", ref.Suite, ref.Index)
	})
}

// episodes runs episodes on one simulator per worker, made by newEnv (with
// its renderer, closed at the end when it has a Close method) on the
// worker's first episode, and reset to each episode's task by reset.
func episodes(conf SimConf, newEnv func() (rig.Simulator, any, error), reset func(env rig.Simulator, ref TaskRef, episode int) error) (EpisodeFunc, func() error) {
	if conf.TraceEpisodes == 0 {
		conf.TraceEpisodes = 1
	}
	type worker struct {
		env rig.Simulator
		pol policy.Policy
		r   any
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
		env, r, err := newEnv()
		if err != nil {
			closeRenderer(r)
			return nil, err
		}
		w := &worker{env: env, r: r}
		if w.pol, err = conf.NewPolicy(i, env); err != nil {
			closeRenderer(r)
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
		if err := reset(w.env, ref, episode); err != nil {
			return EpisodeResult{Err: err}
		}
		return rig.Episode(ctx, rig.EpisodeConf{Env: w.env, Policy: w.pol, Scheduler: conf.Scheduler, Virtual: true,
			InferLatency: conf.InferLatency, Trace: episode < conf.TraceEpisodes})
	}
	closeAll := func() error {
		mu.Lock()
		defer mu.Unlock()
		var errs []error
		for _, w := range workers {
			errs = append(errs, w.pol.Close())
			closeRenderer(w.r)
		}
		return errors.Join(errs...)
	}
	return run, closeAll
}

func closeRenderer(r any) {
	if c, ok := r.(interface{ Close() }); ok {
		c.Close()
	}
}
