package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/control"
	"github.com/efferent/efferent/eval"
	"github.com/efferent/efferent/policy"
	"github.com/efferent/efferent/record"
	robotpkg "github.com/efferent/efferent/robot"
	"github.com/efferent/efferent/safety"
	"github.com/efferent/efferent/safety/premise"
	"github.com/efferent/efferent/sim"
	"github.com/efferent/efferent/sim/render"
	"github.com/efferent/efferent/viewer"
)

// addSchedulerFlags adds the chunk-scheduling flags of run and eval.
func addSchedulerFlags(f *pflag.FlagSet) {
	f.String("mode", "replan", "chunk scheduling: replan, ensemble or async")
	f.Int("replan-steps", 5, "actions executed from each chunk before asking again (replan mode)")
}

// schedulerConf reads them; the scheduler validates the values.
func schedulerConf(f *pflag.FlagSet) control.SchedulerConf {
	mode, _ := f.GetString("mode")
	replan, _ := f.GetInt("replan-steps")
	return control.SchedulerConf{Mode: control.Mode(mode), ReplanSteps: replan}
}

// defaultTask is what `make run` shows.
const defaultTask = "put the red block in the blue bowl"

func runCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Drive a robot closed loop with a policy: the built-in simulator, or a ROS robot",
		Long: `run drives the built-in simulator (--robot sim) with a policy through the
control loop and safety gate, in real time at the policy rate (or as fast as
possible with --fast), printing a progress line. With --serve it also serves
the configured model over the openpi protocol on --addr; with --viewer, a
web page at http://ADDR/viewer/ shows the cameras, the policy's chunks and
the executed actions, the safety verdicts, and lets a teleoperator drive
beside the policy or take over (keyboard, gamepad), press the e-stop and
change the instruction. ` + "`make run`" + ` starts both.

--robot franka or quadruped (or a profile YAML: see robot/profiles) drives a
ROS 1 robot instead: state and cameras from its topics (--camera
ros:/topic), commands published at the profile's rate (1 kHz for the Franka,
50 Hz for the quadruped) until interrupted; --task is the instruction.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd.Flags())
			if err != nil {
				return err
			}
			return runRobot(cmd, cfg)
		},
	}
	f := cmd.Flags()
	f.String("robot", "sim", "robot to drive: sim (the built-in simulator), franka or quadruped (over ROS 1), or a profile YAML file")
	addROSFlags(f)
	// No default shown: a ROS robot needs its own instruction (the
	// simulator's default task would be a wrong one), and the backquoted
	// word is the placeholder pflag prints.
	f.String("task", "", "the `instruction`: for --robot sim a simulator task's, or its name (list them: efferent sim tasks; default \""+defaultTask+"\"); for a ROS robot what it should do (required)")
	f.String("policy", "auto", policyHelp)
	f.Int("episodes", 1, "episodes to run, each from the next fixed initial state; 0 runs until interrupted")
	f.Int("init", 0, "initial state of the first episode (0..49)")
	f.Bool("fast", false, "run in virtual time, as fast as the CPU allows (deterministic)")
	addSchedulerFlags(f)
	addRecordFlags(f)
	// Default false so that --help does not claim it is on for ROS robots:
	// the simulator turns it on unless --premise=false is given.
	f.Bool("premise", false, "check the instruction against the camera frames before moving (the simulator's false-premise checker); a refused instruction never moves the robot (default: on for --robot sim, off for ROS robots, whose objects the shipped checker does not know)")
	f.Duration("watchdog", 0, "hold the robot when no new chunk arrives for this long (default: two replanning periods, at least 150 ms)")
	f.Bool("serve", false, "also serve the model over the openpi protocol on --addr")
	addViewerFlags(f)
	f.String("out", "", "with --viewer: directory for the comparison of the policy with the teleoperator, per episode (comparison-epN.png/.html/.json; default next to --record's file, else none)")
	f.String("addr", "127.0.0.1:8000", "listen address for --serve, --viewer and --metrics (host:port)")
	f.Bool("metrics", false, "ROS robots: serve Prometheus series at http://ADDR/metrics (the loop's counters, holds by reason, the e-stop, each input's age, the ROS link); also served with --viewer. The simulator with --serve has them on the server's /metrics")
	addAuthFlags(f)
	addModelFlags(f)
	return cmd
}

func runRobot(cmd *cobra.Command, cfg Config) (err error) {
	f := cmd.Flags()
	log := cfg.Log.logger()
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	robotRef, _ := f.GetString("robot")
	instr, _ := f.GetString("task")
	ref, _ := f.GetString("policy")
	episodes, _ := f.GetInt("episodes")
	init, _ := f.GetInt("init")
	fast, _ := f.GetBool("fast")
	serveToo, _ := f.GetBool("serve")
	viewerOn, _ := f.GetBool("viewer")

	if robotRef != "sim" {
		prof, err := robotpkg.Load(robotRef)
		if err != nil {
			return fmt.Errorf("--robot: %w", err)
		}
		if prof.Command.Type != robotpkg.TypeSim {
			return runROS(ctx, f, cfg, prof, log)
		}
	}
	if instr == "" {
		instr = defaultTask
	}
	task, ok := sim.FindTask(instr)
	if !ok {
		return fmt.Errorf("--task %q: no such simulator task (list them with `efferent sim tasks`)", instr)
	}
	if episodes < 0 || init < 0 || init >= sim.NumInitStates {
		return fmt.Errorf("--episodes %d / --init %d: want episodes ≥ 0 and init in 0..%d", episodes, init, sim.NumInitStates-1)
	}
	estop := newEStop(ctx, log)
	cfg.Server.EStop = estop
	loops := &loopTotals{}
	if serveToo {
		// The robot's series beside the server's at /metrics.
		coll, err := simCollector(loops, estop)
		if err != nil {
			return err
		}
		cfg.Server.Collectors = append(cfg.Server.Collectors, coll)
	}
	var view *simViewer
	if viewerOn {
		if view, err = newSimViewer(ctx, f, cfg, log, estop, fast, serveToo); err != nil {
			return err
		}
		defer view.Close()
		if serveToo {
			cfg.Server.Routes = view.v.Routes()
		}
	}
	if serveToo {
		srv, err := startServer(ctx, cfg, log)
		if err != nil {
			return err
		}
		done := make(chan error, 1)
		go func() { done <- srv.Run(ctx) }()
		defer func() {
			_ = srv.Close()
			<-done
		}()
		if view != nil {
			logViewerURL(log, srv.Addr().String(), cfg.Server.AuthToken != "")
		}
	}
	newPolicy, name, err := policyFactory(ctx, ref, cfg, log)
	if err != nil {
		return err
	}
	r := render.New()
	defer r.Close()
	env, err := sim.New(sim.Conf{}, r)
	if err != nil {
		return err
	}
	pol, err := newPolicy(0, env)
	if err != nil {
		return err
	}
	defer pol.Close()
	log.Info("driving the simulator", "task", task.Instruction, "suite", task.Suite, "policy", name,
		"rate_hz", env.Conf().StepHz, "virtual_time", fast, "max_steps", task.MaxSteps)
	var clock efferent.Clock = efferent.SystemClock{}
	if fast {
		clock = nil
	}
	rec, err := openRecorder(f, runInfo{Robot: "sim", Policy: name, RateHz: env.Conf().StepHz, Virtual: fast,
		Scheduler: schedulerConf(f), Teleop: view != nil}, log)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := closeRecorder(rec, log); cerr != nil && err == nil {
			err = cerr
		}
	}()
	var runPol policy.Policy = pol
	tick := func(sp *efferent.Setpoint, v efferent.Verdict) {}
	if rec != nil {
		runPol = record.Policy{Policy: pol, Rec: rec}
		tick = rec.Setpoint
	}
	if view != nil {
		view.rec.Store(rec)
		runPol = viewer.Policy{Policy: runPol, V: view.v}
		recTick := tick
		tick = func(sp *efferent.Setpoint, v efferent.Verdict) {
			recTick(sp, v)
			view.v.Tick(sp, v)
			view.lastTick.Store(sp.Time.UnixNano())
		}
	}
	var checker *premise.Checker
	if on, _ := f.GetBool("premise"); on || !f.Changed("premise") {
		if checker, err = simPremiseChecker(0); err != nil {
			return err
		}
	}
	successes, refused := 0, 0
	for ep := 0; episodes == 0 || ep < episodes; ep++ {
		in := (init + ep) % sim.NumInitStates
		if view != nil {
			if next := view.task(task); next.Name != task.Name {
				task = next
				log.Info("instruction changed", "task", task.Name, "instruction", task.Instruction, "max_steps", task.MaxSteps)
			}
		}
		if err := env.Reset(task, in); err != nil {
			return err
		}
		if checker != nil {
			v, err := checkInstruction(checker.NewSession(), task.Instruction, pol.Metadata().ImageKeys, eval.SimRobot{Env: env}.Observe, log)
			if err != nil {
				return err
			}
			if rec != nil {
				rec.Event(record.Event{Time: time.Now().UnixNano(), Kind: record.EventPremise, Task: task.Name,
					Instruction: task.Instruction, Detail: v.String()})
			}
			if view != nil {
				view.v.Premise(task.Instruction, string(v.Decision), v.Reason())
			}
			if !v.Allows() {
				refused++
				log.Info("episode skipped: instruction refused", "episode", ep+1, "init", in, "premise", v.Decision)
				if !fast {
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
		}
		prog := &progress{w: os.Stderr, env: env, episode: ep + 1, every: 10}
		start := time.Now()
		guards, err := realtimeGuards(f, estop, schedulerConf(f), env.Conf().StepHz, fast)
		if err != nil {
			return err
		}
		if rec != nil {
			rec.Event(record.Event{Time: time.Now().UnixNano(), Kind: record.EventEpisodeStart, Task: task.Name,
				Instruction: task.Instruction, Detail: fmt.Sprintf("init %d", in)})
		}
		epCtx, endEpisode := ctx, func() {}
		if view != nil {
			// The teleop gate comes first: the teleoperator's commands pass
			// the e-stop, watchdog and limits like the policy's.
			guards = append([]safety.Gate{view.mux}, guards...)
			epCtx, endEpisode = view.episode(ctx)
			view.start(ep+1, task, in)
		}
		res := eval.Episode(epCtx, eval.EpisodeConf{Env: env, Policy: runPol, Clock: clock, SyncInference: name == "expert",
			Scheduler: schedulerConf(f), Guards: guards, OnLoop: loops.add,
			OnTick: func(sp *efferent.Setpoint, v efferent.Verdict) { prog.tick(sp, v); tick(sp, v) }})
		// Ended by an instruction change (not by the run's end, nor after
		// it finished by itself).
		switched := errors.Is(res.Err, context.Canceled) && epCtx.Err() != nil && ctx.Err() == nil
		endEpisode()
		prog.finish()
		if rec != nil {
			ok := res.Success
			rec.Event(record.Event{Time: time.Now().UnixNano(), Kind: record.EventEpisodeEnd, Task: task.Name, Success: &ok,
				Detail: fmt.Sprintf("steps %d", res.Steps)})
		}
		if view != nil {
			detail := ""
			if switched {
				detail = "ended early: instruction changed"
			}
			view.end(ep+1, task, res, detail)
		}
		if switched {
			log.Info("episode ended early: the instruction changed", "episode", ep+1, "steps", res.Steps)
			continue
		}
		if errors.Is(res.Err, context.Canceled) || ctx.Err() != nil {
			log.Info("interrupted", "episodes_done", ep, "successes", successes, "refused", refused)
			return nil
		}
		if res.Err != nil {
			return fmt.Errorf("episode %d: %w", ep+1, res.Err)
		}
		if res.Success {
			successes++
		}
		logEpisode(log, ep+1, in, res, time.Since(start), prog)
	}
	log.Info("done", "episodes", episodes, "successes", successes, "refused", refused)
	return nil
}

func logEpisode(log *slog.Logger, n, init int, res eval.EpisodeResult, wall time.Duration, p *progress) {
	var p50 time.Duration
	if len(res.InferLatencies) > 0 {
		sorted := slices.Clone(res.InferLatencies)
		slices.Sort(sorted)
		p50 = eval.Percentile(sorted, 50)
	}
	log.Info("episode finished", "episode", n, "init", init, "success", res.Success, "steps", res.Steps,
		"wall", wall.Round(time.Millisecond), "inferences", len(res.InferLatencies), "infer_p50", p50,
		"held", p.held, "clamped", p.clamped, "refused", p.refused)
}

// progress draws one status line, redrawn in place, from the tick tap.
type progress struct {
	w                      io.Writer
	env                    *sim.Env
	episode, every, n      int
	held, clamped, refused int
	drawn                  bool
}

func (p *progress) tick(_ *efferent.Setpoint, v efferent.Verdict) {
	switch v.Kind {
	case efferent.Held:
		p.held++
	case efferent.Clamped:
		p.clamped++
	case efferent.Refused:
		p.refused++
	}
	p.n++
	if p.n%p.every == 0 {
		p.draw()
	}
}

func (p *progress) draw() {
	fmt.Fprintf(p.w, "\repisode %d  step %d/%d  success %-5v  held %d  clamped %d  refused %d ",
		p.episode, p.env.Steps(), p.env.Task().MaxSteps, p.env.Success(), p.held, p.clamped, p.refused)
	p.drawn = true
}

func (p *progress) finish() {
	if p.n > 0 {
		p.draw()
	}
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}
