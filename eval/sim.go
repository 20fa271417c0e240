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
		return rig.Episode(ctx, rig.EpisodeConf{Env: w.env, Policy: w.pol, Scheduler: conf.Scheduler, Virtual: true,
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
