package eval

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/safety/premise"
	"github.com/efferent/efferent/sim"
	"github.com/efferent/efferent/sim/legged"
)

// PremiseConf configures RunPremise. Zero values mean the documented
// defaults.
type PremiseConf struct {
	// Checker decides (required); its Conf.Frames is how many frames each
	// sample renders.
	Checker *premise.Checker
	// NewRenderer makes one renderer per worker (required for the
	// tabletop's suites).
	NewRenderer func() (sim.Renderer, error)
	// NewLeggedRenderer makes one legged-scene renderer per worker
	// (required for the legged base's suites, which the checker sees
	// through legged.SurroundKeys: build it with rig.LeggedPremiseChecker).
	NewLeggedRenderer func() (legged.Renderer, error)
	// Suites to evaluate: the tabletop's or the legged base's (one
	// simulator at a time, as ParseSuites gives them). Default: the
	// tabletop's four.
	Suites []string
	// Episodes is the number of initial states per task (0 … Episodes−1,
	// the evaluation states). Default 10; at most sim.NumInitStates.
	Episodes int
	// Workers run samples in parallel. Default min(CPUs, 4).
	Workers int
	// Progress receives a progress line. Default nil: none.
	Progress io.Writer
}

// PremiseSway is how far the arm moves per frame while the checker looks:
// 0.1 of an action (5 mm), in a direction drawn per sample. A robot never
// holds perfectly still, and the frames differ (the arm occludes
// different things, the wrist camera moves); the objects stay untouched,
// since the arm starts 20 cm above the table.
const PremiseSway = 0.1

// LeggedPremiseSway is how far the legged base's body height moves per
// frame while the checker looks, in metres, up or down as drawn per
// sample: a standing quadruped is never perfectly still either, and its
// controller keeps the feet planted (the check sends the stop flag, so
// the base never moves across the floor).
const LeggedPremiseSway = 0.005

// PremiseSample is one instruction/scene pair and the checker's verdict.
type PremiseSample struct {
	Task         string           `json:"task"`
	Suite        string           `json:"suite"`
	Init         int              `json:"init"`
	FalsePremise bool             `json:"false_premise"`
	Missing      string           `json:"missing,omitempty"` // the removed object (false premises)
	Decision     premise.Decision `json:"decision"`
	Named        []string         `json:"named_missing,omitempty"` // what the checker said is missing
	Question     string           `json:"question,omitempty"`
	Error        string           `json:"error,omitempty"`
}

// PremiseCounts are the confusion counts of a set of samples: false
// premises are the positive class, a refusal the positive prediction.
type PremiseCounts struct {
	Name string `json:"name"`
	// True premises: decided ok, refused (a false refusal), asked.
	TrueOK      int `json:"true_ok"`
	TrueRefused int `json:"true_refused"`
	TrueClarify int `json:"true_clarify"`
	// False premises: refused (detected), passed as ok (missed), asked.
	FalseRefused int `json:"false_refused"`
	FalseOK      int `json:"false_ok"`
	FalseClarify int `json:"false_clarify"`
	// FalseNamed counts refusals of a false premise that named the object
	// actually removed (by its name, or by its kind alone when the
	// instruction names it so: "the box" for the white box).
	FalseNamed int `json:"false_named"`
	Errors     int `json:"errors"`
	// Precision = FalseRefused / all refusals; Recall (detection) =
	// FalseRefused / false premises; FalseRefusalRate = TrueRefused /
	// true premises; NoMotionTrueRate counts asking too, since neither
	// moves the robot.
	Precision        float64 `json:"precision"`
	Recall           float64 `json:"recall"`
	FalseRefusalRate float64 `json:"false_refusal_rate"`
	NoMotionTrueRate float64 `json:"no_motion_true_rate"`
}

func (c *PremiseCounts) add(s PremiseSample) {
	switch {
	case s.Error != "":
		c.Errors++
	case s.FalsePremise && s.Decision == premise.Refuse:
		c.FalseRefused++
		for _, n := range s.Named {
			// The removed object's name, or its kind said without the
			// colour ("back up to the box" for the white box).
			if n == s.Missing || strings.HasSuffix(s.Missing, " "+n) {
				c.FalseNamed++
				break
			}
		}
	case s.FalsePremise && s.Decision == premise.OK:
		c.FalseOK++
	case s.FalsePremise:
		c.FalseClarify++
	case s.Decision == premise.Refuse:
		c.TrueRefused++
	case s.Decision == premise.OK:
		c.TrueOK++
	default:
		c.TrueClarify++
	}
}

func (c *PremiseCounts) rates() {
	c.Precision = ratio(c.FalseRefused, c.FalseRefused+c.TrueRefused)
	c.Recall = ratio(c.FalseRefused, c.FalseRefused+c.FalseOK+c.FalseClarify)
	trues := c.TrueOK + c.TrueRefused + c.TrueClarify
	c.FalseRefusalRate = ratio(c.TrueRefused, trues)
	c.NoMotionTrueRate = ratio(c.TrueRefused+c.TrueClarify, trues)
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// PremiseReport is the outcome of RunPremise.
type PremiseReport struct {
	Suites          []PremiseCounts `json:"suites"`
	Overall         PremiseCounts   `json:"overall"`
	EpisodesPerTask int             `json:"episodes_per_task"`
	Frames          int             `json:"frames"`
	Present         float64         `json:"present_threshold"`
	Absent          float64         `json:"absent_threshold"`
	Sway            float64         `json:"sway"` // PremiseSway, or LeggedPremiseSway for the legged base's suites
	Complete        bool            `json:"complete"`
	WallSeconds     float64         `json:"wall_seconds"`
	// Samples are every sample, in (suite, task, variant, init) order.
	Samples []PremiseSample `json:"samples"`
}

// Tally computes the per-suite and overall counts and rates from Samples
// (suites in order of first appearance).
func (r *PremiseReport) Tally() {
	r.Suites, r.Overall = nil, PremiseCounts{Name: "overall"}
	at := map[string]int{}
	for _, s := range r.Samples {
		i, ok := at[s.Suite]
		if !ok {
			i = len(r.Suites)
			at[s.Suite] = i
			r.Suites = append(r.Suites, PremiseCounts{Name: s.Suite})
		}
		r.Suites[i].add(s)
		r.Overall.add(s)
	}
	for i := range r.Suites {
		r.Suites[i].rates()
	}
	r.Overall.rates()
}

// RunPremise renders, for every task of the suites and its false-premise
// variant, each of the first Episodes initial states, for Conf.Frames
// frames (the arm swaying by PremiseSway between them), runs the checker
// on the task's instruction and tallies its verdicts. ctx ends it early
// (Complete false; the samples so far are counted).
func RunPremise(ctx context.Context, conf PremiseConf) (*PremiseReport, error) {
	if len(conf.Suites) == 0 {
		conf.Suites = sim.Suites()
	}
	leg := Legged(conf.Suites)
	switch {
	case conf.Checker == nil:
		return nil, errors.New("eval: PremiseConf.Checker is required")
	case !leg && countLegged(conf.Suites) > 0:
		return nil, errors.New("eval: PremiseConf.Suites mixes the tabletop's and the legged base's suites")
	case leg && conf.NewLeggedRenderer == nil:
		return nil, errors.New("eval: PremiseConf.NewLeggedRenderer is required for the legged base's suites")
	case !leg && conf.NewRenderer == nil:
		return nil, errors.New("eval: PremiseConf.NewRenderer is required for the tabletop's suites")
	}
	if conf.Episodes == 0 {
		conf.Episodes = 10
	}
	if conf.Episodes < 1 || conf.Episodes > sim.NumInitStates {
		return nil, fmt.Errorf("eval: PremiseConf.Episodes = %d, want 1..%d", conf.Episodes, sim.NumInitStates)
	}
	if conf.Workers == 0 {
		conf.Workers = min(runtime.NumCPU(), 4)
	}
	var jobs []premiseJob
	var err error
	if leg {
		jobs, err = premiseJobs(conf.Suites, conf.Episodes, legged.Tasks, legged.FalsePremiseTasks,
			func(t legged.Task, init int) premiseJob { return premiseJob{leg: t, init: init} })
	} else {
		jobs, err = premiseJobs(conf.Suites, conf.Episodes, sim.Tasks, sim.FalsePremiseTasks,
			func(t sim.Task, init int) premiseJob { return premiseJob{task: t, init: init} })
	}
	if err != nil {
		return nil, err
	}
	cc := conf.Checker.Conf()
	rep := &PremiseReport{EpisodesPerTask: conf.Episodes, Frames: cc.Frames, Present: cc.Present, Absent: cc.Absent,
		Sway: PremiseSway, Samples: make([]PremiseSample, len(jobs))}
	if leg {
		rep.Sway = LeggedPremiseSway
	}
	start := time.Now()
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done := 0
	errs := make([]error, conf.Workers)
	for w := range conf.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sample, closeEnv, err := newPremiseWorker(conf, leg)
			if err != nil {
				errs[w] = err
				for range next { // keep the feeder moving
				}
				return
			}
			defer closeEnv()
			for i := range next {
				rep.Samples[i] = sample(jobs[i])
				mu.Lock()
				done++
				if conf.Progress != nil && (done%20 == 0 || done == len(jobs)) {
					fmt.Fprintf(conf.Progress, "\rpremise: %d/%d samples", done, len(jobs))
				}
				mu.Unlock()
			}
		}()
	}
	n := 0
feed:
	for ; n < len(jobs); n++ {
		select {
		case next <- n:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if conf.Progress != nil {
		fmt.Fprintln(conf.Progress)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	rep.Samples = rep.Samples[:n]
	rep.Complete = n == len(jobs)
	rep.WallSeconds = time.Since(start).Seconds()
	rep.Tally()
	return rep, nil
}

// premiseJob is one task (of either simulator) at one initial state.
type premiseJob struct {
	task sim.Task
	leg  legged.Task
	init int
}

// premiseJobs lists every task of suites and its false-premise variant
// (tasks and falses give them, per suite) at inits 0 … episodes−1, as
// job makes a premiseJob of one: for either simulator's tasks.
func premiseJobs[T any](suites []string, episodes int, tasks, falses func(string) ([]T, error),
	job func(T, int) premiseJob) ([]premiseJob, error) {
	var jobs []premiseJob
	for _, su := range suites {
		ts, err := tasks(su)
		if err != nil {
			return nil, err
		}
		fs, _ := falses(su)
		for i := range ts {
			for _, t := range []T{ts[i], fs[i]} {
				for e := range episodes {
					jobs = append(jobs, job(t, e))
				}
			}
		}
	}
	return jobs, nil
}

// newPremiseWorker makes one worker's renderer and environment and
// returns its sampler and what frees them.
func newPremiseWorker(conf PremiseConf, leg bool) (func(premiseJob) PremiseSample, func(), error) {
	var r any
	var err error
	if leg {
		r, err = conf.NewLeggedRenderer()
	} else {
		r, err = conf.NewRenderer()
	}
	if err != nil {
		return nil, nil, err
	}
	closeR := func() {
		if c, ok := r.(interface{ Close() }); ok {
			c.Close()
		}
	}
	if leg {
		env, err := legged.New(legged.Conf{}, r.(legged.Renderer))
		if err != nil {
			closeR()
			return nil, nil, err
		}
		return func(j premiseJob) PremiseSample { return leggedPremiseSample(env, conf.Checker, j.leg, j.init) }, closeR, nil
	}
	env, err := sim.New(sim.Conf{}, r.(sim.Renderer))
	if err != nil {
		closeR()
		return nil, nil, err
	}
	return func(j premiseJob) PremiseSample { return premiseSample(env, conf.Checker, j.task, j.init) }, closeR, nil
}

// premiseCameras are the simulator's two cameras, as a model names them.
var premiseCameras = []string{sim.AgentViewKey, sim.WristViewKey}

// premiseSample checks one task at one initial state.
func premiseSample(env *sim.Env, c *premise.Checker, t sim.Task, init int) PremiseSample {
	s := PremiseSample{Task: t.Name, Suite: t.Suite, Init: init, FalsePremise: t.FalsePremise, Missing: t.Missing}
	if err := env.Reset(t, init); err != nil {
		s.Error = err.Error()
		return s
	}
	r := rngFor(t.Seed(init))
	act := make([]float64, sim.ActionDim)
	act[6] = -1 // gripper stays open
	v, err := checkUntilDecided(c, t.Instruction, premiseCameras, env.Observe, func(f int) error {
		if f == 0 {
			for k := range 3 { // one sway direction per sample
				act[k] = PremiseSway * (2*r.float() - 1)
			}
		}
		return env.Step(act)
	})
	return s.decided(v, err)
}

// leggedPremiseSample checks one legged task at one initial state,
// through the surround cameras: between frames the base stands with the
// stop flag set and its body height nudged by LeggedPremiseSway.
func leggedPremiseSample(env *legged.Env, c *premise.Checker, t legged.Task, init int) PremiseSample {
	s := PremiseSample{Task: t.Name, Suite: t.Suite, Init: init, FalsePremise: t.FalsePremise, Missing: t.Missing}
	if err := env.Reset(t, init); err != nil {
		s.Error = err.Error()
		return s
	}
	r := rngFor(t.Seed(init))
	cmd := make([]float64, legged.CommandDim)
	cmd[legged.CmdGaitHz], cmd[legged.CmdSwing], cmd[legged.CmdStop] = 2, 0.08, 1
	height, dir := legged.NominalHeight, 1.0
	v, err := checkUntilDecided(c, t.Instruction, legged.SurroundKeys, env.ObserveSurround, func(f int) error {
		if f == 0 && r.float() < 0.5 { // one sway direction per sample
			dir = -1
		}
		height += dir * LeggedPremiseSway
		cmd[legged.CmdHeight] = height
		return env.Step(cmd)
	})
	return s.decided(v, err)
}

// checkUntilDecided runs a fresh session of c on instruction over the
// frames observe gives (the cameras keys), calling step(f) after each
// frame f that leaves the verdict pending, until it is decided: the loop
// both simulators' samples share.
func checkUntilDecided(c *premise.Checker, instruction string, keys []string,
	observe func(*efferent.Observation) error, step func(f int) error) (premise.Verdict, error) {
	sess := c.NewSession()
	var obs efferent.Observation
	for f := 0; ; f++ {
		if err := observe(&obs); err != nil {
			return premise.Verdict{}, err
		}
		v, err := sess.ObserveCameras(instruction, obs.Images, keys)
		if err != nil || v.Decision != premise.Pending {
			return v, err
		}
		if err := step(f); err != nil {
			return premise.Verdict{}, err
		}
	}
}

// decided fills in the verdict, or the error that ended the sample.
func (s PremiseSample) decided(v premise.Verdict, err error) PremiseSample {
	if err != nil {
		s.Error = err.Error()
		return s
	}
	s.Decision, s.Named, s.Question = v.Decision, v.Missing, v.Question
	return s
}

// rngFor is a small deterministic generator (splitmix64) for the sway.
type splitmix struct{ s uint64 }

func rngFor(seed uint64) *splitmix { return &splitmix{seed} }

func (r *splitmix) float() float64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return float64(z>>11) / (1 << 53)
}
