package rig

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/models"
	"github.com/efferent/efferent/policy"
	"github.com/efferent/efferent/record"
	"github.com/efferent/efferent/robot"
	"github.com/efferent/efferent/safety/premise"
	"github.com/efferent/efferent/server"
	"github.com/efferent/efferent/sim"
	"github.com/efferent/efferent/viewer"
)

// Run drives a robot with a policy: the built-in simulator's episodes, or
// a ROS robot until ctx ends.
func Run(ctx context.Context, c Conf, p Parts) error {
	if p.Log == nil {
		p.Log = slog.Default()
	}
	if err := c.Validate(); err != nil {
		return err
	}
	if c.Robot != "" && c.Robot != "sim" {
		prof, err := robot.Load(c.Robot)
		if err != nil {
			return fmt.Errorf("--robot: %w", err)
		}
		if prof.Command.Type != robot.TypeSim {
			return runROS(ctx, &c, &p, prof)
		}
	}
	return runSim(ctx, &c, &p)
}

// simRun is one simulator run: the parts its episodes share.
type simRun struct {
	c     *Conf
	p     *Parts
	log   *slog.Logger
	w     *world
	pol   policy.Policy // with its taps
	name  string        // the policy's
	keys  []string      // the model's cameras
	view  *simViewer
	rec   *record.Recorder
	check *premise.Checker
	loops *loopTotals
	gates Gates // the e-stop, and the teleop gate with the viewer
	tick  func(sp *efferent.Setpoint, v efferent.Verdict)
}

// runSim drives a built-in simulator for the configured episodes: the
// tabletop, or the legged base when the task is one of its.
func runSim(ctx context.Context, c *Conf, p *Parts) (err error) {
	log := p.Log
	instr := c.Task
	if instr == "" {
		instr = DefaultTask
	}
	task, ok := findSimTask(instr)
	if !ok {
		return fmt.Errorf("--task %q: no such simulator task (list them with `efferent sim tasks`)", instr)
	}
	if task.Legged && (c.Policy == "" || c.Policy == "auto") && (c.Model == "" || c.Model == models.Default) {
		// The default model drives the tabletop; "auto" on the legged
		// base means the model trained for it.
		log.Info("the legged base's task: auto drives it with the legged model", "model", models.Quadruped)
		c.Model = models.Quadruped
	}
	w, err := newWorld(task, p)
	if err != nil {
		return err
	}
	defer w.close()
	estop := NewEStop(ctx, log)
	r := &simRun{c: c, p: p, log: log, w: w, loops: &loopTotals{}, gates: Gates{EStop: estop}}
	srvConf := c.Server
	srvConf.EStop = estop
	if c.Serve {
		// The robot's series beside the server's at /metrics.
		coll, err := simCollector(r.loops, estop)
		if err != nil {
			return err
		}
		srvConf.Collectors = append(srvConf.Collectors, coll)
	}
	if c.Viewer {
		if r.view, err = newSimViewer(ctx, c, p, estop, c.Serve, task, w.space()); err != nil {
			return err
		}
		defer r.view.Close()
		if c.Serve {
			srvConf.Routes = r.view.v.Routes()
		}
		r.gates.Teleop = r.view.mux
	}
	if c.Serve {
		stop, err := r.serve(ctx, srvConf)
		if err != nil {
			return err
		}
		defer stop()
	}
	pols, err := ResolvePolicy(ctx, c.Policy, PolicyConf{Model: c.Model, Token: c.Server.AuthToken, Open: p.Open, Log: log})
	if err != nil {
		return err
	}
	pol, err := pols.OpenSim(0, w.env())
	if err != nil {
		return err
	}
	defer pol.Close()
	r.name, r.keys = pols.Name, pol.Metadata().ImageKeys
	log.Info("driving the simulator", "task", task.Instruction, "suite", task.Suite, "policy", r.name,
		"rate_hz", w.stepHz(), "virtual_time", c.Fast, "max_steps", task.MaxSteps)
	if r.rec, err = openRecorder(c.Record, record.Run{Robot: w.robotName(), Policy: r.name, RateHz: w.stepHz(), Virtual: c.Fast,
		Scheduler: c.Scheduler, Teleop: r.view != nil}, log); err != nil {
		return err
	}
	defer func() {
		if cerr := closeRecorder(r.rec, log); cerr != nil && err == nil {
			err = cerr
		}
	}()
	r.taps(pol)
	if c.Premise == nil || *c.Premise {
		if r.check, err = w.premiseChecker(p.Detector); err != nil {
			return err
		}
	}
	return r.episodes(ctx, task)
}

// serve starts the server beside the run; stop ends it.
func (r *simRun) serve(ctx context.Context, conf server.Conf) (stop func(), err error) {
	if r.p.NewServer == nil {
		return nil, errors.New("rig: Parts.NewServer: required for Conf.Serve")
	}
	srv, err := r.p.NewServer(conf, r.c.Model)
	if err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	if r.view != nil {
		LogViewerURL(r.log, srv.Addr().String(), conf.AuthToken != "")
	}
	return func() {
		_ = srv.Close()
		<-done
	}, nil
}

// taps wraps the policy and the tick with the recorder and the viewer.
func (r *simRun) taps(pol policy.Policy) {
	r.pol = pol
	r.tick = func(*efferent.Setpoint, efferent.Verdict) {}
	if r.rec != nil {
		r.pol = record.Policy{Policy: pol, Rec: r.rec}
		r.tick = r.rec.Setpoint
	}
	if v := r.view; v != nil {
		v.rec.Store(r.rec)
		r.pol = viewer.Policy{Policy: r.pol, V: v.v}
		recTick := r.tick
		r.tick = func(sp *efferent.Setpoint, vd efferent.Verdict) {
			recTick(sp, vd)
			v.v.Tick(sp, vd)
			v.lastTick.Store(sp.Time.UnixNano())
		}
	}
}

// episodes runs them, counting successes and refused instructions.
func (r *simRun) episodes(ctx context.Context, task simTask) error {
	c, log := r.c, r.log
	successes, refused := 0, 0
	expired, dropped, held := 0, 0, 0 // over the episodes that ran
	for ep := 0; c.Episodes == 0 || ep < c.Episodes; ep++ {
		in := (c.Init + ep) % sim.NumInitStates
		if r.view != nil {
			if next := r.view.task(task); next.Name != task.Name {
				task = next
				log.Info("instruction changed", "task", task.Name, "instruction", task.Instruction, "max_steps", task.MaxSteps)
			}
		}
		if err := r.w.reset(task, in); err != nil {
			return err
		}
		decision, err := r.premise(task)
		if err != nil {
			return err
		}
		if decision != "" {
			refused++
			log.Info("episode skipped: instruction refused", "episode", ep+1, "init", in, "premise", decision)
			if !c.Fast {
				// In real time a refused instruction is not retried
				// faster than a person could change the scene.
				select {
				case <-ctx.Done():
					log.Info("interrupted", "episodes_done", ep, "successes", successes, "refused", refused)
					return nil
				case <-time.After(time.Second):
				}
			}
			continue
		}
		res, switched, err := r.episode(ctx, ep, task, in)
		expired, dropped, held = expired+res.ExpiredChunks, dropped+res.DroppedChunks, held+res.HeldTicks
		if switched {
			log.Info("episode ended early: the instruction changed", "episode", ep+1, "steps", res.Steps)
			continue
		}
		if err != nil || ctx.Err() != nil {
			if errors.Is(err, context.Canceled) || ctx.Err() != nil {
				log.Info("interrupted", "episodes_done", ep, "successes", successes, "refused", refused)
				return nil
			}
			return fmt.Errorf("episode %d: %w", ep+1, err)
		}
		if res.Success {
			successes++
		}
	}
	log.Info("done", "episodes", c.Episodes, "successes", successes, "refused", refused,
		"expired_chunks", expired, "dropped_chunks", dropped, "held_ticks", held)
	return nil
}

// premise checks the task's instruction on the reset scene: the
// decision when it is refused, "" when the policy may act.
func (r *simRun) premise(task simTask) (premise.Decision, error) {
	if r.check == nil {
		return "", nil
	}
	keys, observe := r.w.premiseCameras(r.keys)
	v, err := CheckPremise(r.check.NewSession(), task.Instruction, keys, observe, r.log)
	if err != nil {
		return "", err
	}
	if r.rec != nil {
		r.rec.Event(record.Event{Time: time.Now().UnixNano(), Kind: record.EventPremise, Task: task.Name,
			Instruction: task.Instruction, Detail: v.String()})
	}
	if r.view != nil {
		r.view.v.Premise(task.Instruction, string(v.Decision), v.Reason())
	}
	if v.Allows() {
		return "", nil
	}
	return v.Decision, nil
}

// episode runs episode ep from initial state in; switched: it was ended by
// an instruction change from the viewer.
func (r *simRun) episode(ctx context.Context, ep int, task simTask, in int) (res EpisodeResult, switched bool, err error) {
	c := r.c
	prog := &progress{w: r.p.Progress, env: r.w.env(), maxSteps: task.MaxSteps, episode: ep + 1, every: 10}
	start := time.Now()
	gates := r.gates
	if !c.Fast {
		if gates.Watchdog, err = Watchdog(c.Watchdog, c.Scheduler.WithDefaults().ReplanSteps, r.w.stepHz()); err != nil {
			return res, false, err
		}
	}
	if r.rec != nil {
		r.rec.Event(record.Event{Time: time.Now().UnixNano(), Kind: record.EventEpisodeStart, Task: task.Name,
			Instruction: task.Instruction, Detail: fmt.Sprintf("init %d", in)})
	}
	epCtx, endEpisode := ctx, func() {}
	if r.view != nil {
		epCtx, endEpisode = r.view.episode(ctx)
		r.view.start(ep+1, task, in)
	}
	var observed func()
	if r.view != nil {
		observed = r.view.thirdPerson(r.w)
	}
	res = Episode(epCtx, EpisodeConf{Env: r.w.env(), Policy: r.pol, Virtual: c.Fast, SyncInference: r.name == "expert",
		Scheduler: c.Scheduler, Gates: gates, OnLoop: r.loops.add, Observed: observed,
		OnTick: func(sp *efferent.Setpoint, v efferent.Verdict) { prog.tick(sp, v); r.tick(sp, v) }})
	// Ended by an instruction change (not by the run's end, nor after it
	// finished by itself).
	switched = errors.Is(res.Err, context.Canceled) && epCtx.Err() != nil && ctx.Err() == nil
	endEpisode()
	prog.finish()
	if r.rec != nil {
		ok := res.Success
		r.rec.Event(record.Event{Time: time.Now().UnixNano(), Kind: record.EventEpisodeEnd, Task: task.Name, Success: &ok,
			Detail: fmt.Sprintf("steps %d", res.Steps)})
	}
	if r.view != nil {
		detail := ""
		if switched {
			detail = "ended early: instruction changed"
		}
		r.view.end(ep+1, task, res, detail)
	}
	if !switched && res.Err == nil && ctx.Err() == nil {
		logEpisode(r.log, ep+1, in, res, time.Since(start), prog)
	}
	return res, switched, res.Err
}
