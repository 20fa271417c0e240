package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/efferent/efferent/eval"
	"github.com/efferent/efferent/sim"
	"github.com/efferent/efferent/sim/render"
)

func evalCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Evaluate a policy closed loop on a simulator task suite and write a report",
		Long: `eval runs every task of a suite for --episodes episodes (episode e starts
from the task's fixed initial state e, as LIBERO does) in parallel workers, in
virtual time, and writes report.json, report.txt, success.png and actions.png
to --out. Suites: ` + strings.Join(sim.Suites(), ", ") + `, or "all".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd.Flags())
			if err != nil {
				return err
			}
			return runEval(cmd, cfg)
		},
	}
	f := cmd.Flags()
	f.String("suite", sim.SuiteSpatial, "task suite: "+strings.Join(sim.Suites(), ", ")+" or all")
	f.Int("episodes", 10, "episodes per task (LIBERO's protocol uses 50)")
	f.String("policy", "auto", policyHelp)
	f.String("token", "", "the bearer token of a --policy ws:// server started with one (default $EFFERENT_TOKEN)")
	f.Int("workers", 0, "parallel episodes (default min(CPUs, 4))")
	f.String("out", "", "report directory (default efferent-eval/<suite>-<time>)")
	addSchedulerFlags(f)
	f.Duration("latency", 0, "modelled inference latency in virtual time (ensemble/async modes)")
	f.Bool("no-render", false, "skip camera rendering (only for policies that ignore images, e.g. the expert)")
	addModelFlags(f)
	cmd.AddCommand(evalPremiseCmd())
	return cmd
}

func runEval(cmd *cobra.Command, cfg Config) error {
	f := cmd.Flags()
	log := cfg.Log.logger()
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	suite, _ := f.GetString("suite")
	episodes, _ := f.GetInt("episodes")
	ref, _ := f.GetString("policy")
	workers, _ := f.GetInt("workers")
	out, _ := f.GetString("out")
	latency, _ := f.GetDuration("latency")
	noRender, _ := f.GetBool("no-render")

	suites, err := parseSuites(suite)
	if err != nil {
		return err
	}
	if episodes < 1 {
		return fmt.Errorf("--episodes %d: want at least 1", episodes)
	}
	workers = eval.Conf{Workers: workers}.WithDefaults().Workers
	// Each worker owns an ONNX Runtime session; share the cores between
	// them instead of letting every session spin a thread per core.
	cfg.ORT.IntraOpThreads = max(1, cfg.ORT.IntraOpThreads/workers)
	newPolicy, name, err := policyFactory(ctx, ref, cfg, log)
	if err != nil {
		return err
	}
	if noRender && name != "expert" {
		return errors.New("--no-render: only the expert can run without camera images")
	}
	if out == "" {
		out = filepath.Join("efferent-eval", suite+"-"+time.Now().Format("20060102-150405"))
	}
	var refs []eval.TaskRef
	var tasks []sim.Task
	for _, s := range suites {
		r, t, err := eval.SimTasks(s)
		if err != nil {
			return err
		}
		refs, tasks = append(refs, r...), append(tasks, t...)
	}
	run, closeAll := eval.SimEpisodes(eval.SimConf{
		NewPolicy:    newPolicy,
		Sim:          sim.Conf{NoRender: noRender},
		NewRenderer:  func() (sim.Renderer, error) { return render.New(), nil },
		Scheduler:    schedulerConf(f),
		InferLatency: latency,
	}, tasks)
	log.Info("evaluating", "policy", name, "suites", strings.Join(suites, ","), "tasks", len(refs), "episodes_per_task", episodes, "out", out)
	rep, err := eval.Run(ctx, eval.Conf{Workers: workers, Episodes: episodes, Out: out, Progress: os.Stderr}, refs, run)
	if cerr := closeAll(); err == nil && cerr != nil {
		log.Warn("closing policies", "err", cerr)
	}
	if rep != nil {
		_ = rep.WriteText(os.Stdout)
		log.Info("report written", "dir", out)
		if err == nil {
			err = episodeErrors(rep)
		}
	}
	return err
}

// episodeErrors fails an evaluation in which episodes could not run (a
// server that refuses the token, a model that fails): its report is not
// a measurement of the policy. The error names the first episode's.
func episodeErrors(rep *eval.Report) error {
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

// parseSuites turns --suite (a suite name or "all") into suite names.
func parseSuites(suite string) ([]string, error) {
	if suite == "all" {
		return sim.Suites(), nil
	}
	if !slices.Contains(sim.Suites(), suite) {
		return nil, fmt.Errorf("--suite %q: want one of %s or all", suite, strings.Join(sim.Suites(), ", "))
	}
	return []string{suite}, nil
}
