package eval

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/efferent/efferent/control"
	"github.com/efferent/efferent/rig"
	"github.com/efferent/efferent/sim"
	"github.com/efferent/efferent/sim/legged"
)

// ParseSuites turns --suite into suite names: a suite's name, "all" (the
// tabletop's), "quadruped" (the legged base's), or a comma-separated list
// of them ("spatial,object"), duplicates removed, order kept. An unknown
// name is an error that lists the valid ones; so is a list that mixes the
// two simulators, whose robots no one policy drives.
func ParseSuites(suite string) ([]string, error) {
	all := sim.Suites()
	known := SuiteNames()
	want := fmt.Sprintf("want one of %s, all or quadruped (comma-separated for several)", strings.Join(known, ", "))
	var out []string
	for el := range strings.SplitSeq(suite, ",") {
		name := strings.TrimSpace(el)
		add := []string{name}
		switch {
		case name == "all":
			add = all
		case name == "quadruped":
			add = legged.Suites()
		case !slices.Contains(known, name):
			if name == suite {
				return nil, fmt.Errorf("--suite %q: %s", suite, want)
			}
			return nil, fmt.Errorf("--suite %q: unknown suite %q: %s", suite, name, want)
		}
		for _, s := range add {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	if n := countLegged(out); n != 0 && n != len(out) {
		return nil, fmt.Errorf("--suite %q: the tabletop's and the legged base's suites need different robots; evaluate them separately", suite)
	}
	return out, nil
}

// Legged reports whether suites (from ParseSuites) are the legged
// simulator's.
func Legged(suites []string) bool { return len(suites) > 0 && countLegged(suites) == len(suites) }

func countLegged(suites []string) int {
	n := 0
	for _, s := range suites {
		if slices.Contains(legged.Suites(), s) {
			n++
		}
	}
	return n
}

// SuiteConf configures RunSuites: a policy evaluated closed loop on
// simulator suites in virtual time (efferent eval).
type SuiteConf struct {
	// Suite is a suite's name, "all", or a comma-separated list of them
	// (ParseSuites; required).
	Suite string
	// Episodes per task (required, ≥ 1); Workers run in parallel
	// (default min(CPUs, 4)).
	Episodes, Workers int
	// Out is the report directory (required).
	Out string
	// Policies open each worker's policy (rig.ResolvePolicy).
	Policies rig.Policies
	// NoRender skips the cameras (only for the expert).
	NoRender bool
	// NewRenderer gives each worker its renderer; NewLeggedRenderer
	// for the legged simulator's suites.
	NewRenderer       func() (sim.Renderer, error)
	NewLeggedRenderer func() (legged.Renderer, error)
	// Scheduler and InferLatency: as rig.EpisodeConf's (virtual time).
	Scheduler    control.SchedulerConf
	InferLatency time.Duration
	// Progress receives progress lines (nil: none).
	Progress io.Writer
	// Log is the run's log. Default slog.Default().
	Log *slog.Logger
}

// RunSuites evaluates the policy and writes the report to Out. It fails
// when episodes could not run (a server that refuses the token, a model
// that fails): such a report is not a measurement of the policy, and the
// error names the first episode's error; the report is still returned and
// written.
func RunSuites(ctx context.Context, c SuiteConf) (*Report, error) {
	if c.Log == nil {
		c.Log = slog.Default()
	}
	suites, err := ParseSuites(c.Suite)
	if err != nil {
		return nil, err
	}
	if c.Episodes < 1 {
		return nil, fmt.Errorf("--episodes %d: want at least 1", c.Episodes)
	}
	if c.NoRender && !c.Policies.Expert {
		return nil, errors.New("--no-render: only the expert can run without camera images")
	}
	sc := SimConf{
		NewPolicy:         c.Policies.OpenSim,
		Sim:               sim.Conf{NoRender: c.NoRender},
		NewRenderer:       c.NewRenderer,
		NewLeggedRenderer: c.NewLeggedRenderer,
		Scheduler:         c.Scheduler,
		InferLatency:      c.InferLatency,
	}
	var refs []TaskRef
	var run EpisodeFunc
	var closeAll func() error
	if Legged(suites) {
		var tasks []legged.Task
		for _, s := range suites {
			r, t, err := LeggedTasks(s)
			if err != nil {
				return nil, err
			}
			refs, tasks = append(refs, r...), append(tasks, t...)
		}
		run, closeAll = LeggedEpisodes(sc, tasks)
	} else {
		var tasks []sim.Task
		for _, s := range suites {
			r, t, err := SimTasks(s)
			if err != nil {
				return nil, err
			}
			refs, tasks = append(refs, r...), append(tasks, t...)
		}
		run, closeAll = SimEpisodes(sc, tasks)
	}
	c.Log.Info("evaluating", "policy", c.Policies.Name, "suites", strings.Join(suites, ","), "tasks", len(refs), "episodes_per_task", c.Episodes, "out", c.Out)
	rep, err := Run(ctx, Conf{Workers: c.Workers, Episodes: c.Episodes, Out: c.Out, Progress: c.Progress}, refs, run)
	if cerr := closeAll(); err == nil && cerr != nil {
		c.Log.Warn("closing policies", "err", cerr)
	}
	if rep != nil && err == nil {
		err = episodeErrors(rep)
	}
	return rep, err
}

// episodeErrors fails an evaluation in which episodes could not run.
func episodeErrors(rep *Report) error {
	if rep.Overall.ErrorCount == 0 {
		return nil
	}
	first := ""
	for _, t := range rep.Tasks {
		if t.FirstError != "" {
			first = t.FirstError
			break
		}
	}
	return fmt.Errorf("%d of %d episodes errored (report in the output directory): %s", rep.Overall.ErrorCount, rep.Overall.Episodes, first)
}

// DefaultSuite is the suite efferent eval runs by default.
const DefaultSuite = sim.SuiteSpatial

// SuiteNames are the simulators' task suites: the tabletop's, then the
// legged base's.
func SuiteNames() []string { return append(sim.Suites(), legged.Suites()...) }

// InitStates is how many fixed initial states each task has.
const InitStates = sim.NumInitStates
