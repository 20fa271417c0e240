package main

import (
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/efferent/efferent/eval"
	"github.com/efferent/efferent/rig"
)

func evalCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Evaluate a policy closed loop on a simulator task suite and write a report",
		Long: `eval runs every task of a suite for --episodes episodes (episode e starts
from the task's fixed initial state e, as LIBERO does) in parallel workers, in
virtual time, and writes report.json, report.txt, success.png and actions.png
to --out. Suites: ` + strings.Join(eval.SuiteNames(), ", ") + `, "all" (the
tabletop's four), "quadruped" (the legged base's three), or a comma-separated
list of one simulator's suites.

Latency matrix: with several --mode or --latency values (comma-separated,
e.g. --mode replan,async --latency 0,50,150,300ms) eval runs the same
episodes for every mode × latency cell, writes each cell's report into
--out/<mode>-<latency>ms/, then matrix.json, matrix.txt, matrix.md and
matrix.png into --out, and prints matrix.txt.`,
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
	f.String("suite", eval.DefaultSuite, "task suite: "+strings.Join(eval.SuiteNames(), ", ")+", all or quadruped")
	f.Int("episodes", 10, "episodes per task (LIBERO's protocol uses 50)")
	f.String("policy", "auto", rig.PolicyHelp)
	f.String("token", "", "the bearer token of a --policy ws:// server started with one (default $EFFERENT_TOKEN)")
	f.Int("workers", 0, "parallel episodes (default min(CPUs, 4))")
	f.String("out", "", "report directory (default efferent-eval/<suite>-<time>)")
	addSchedulerFlags(f)
	f.Lookup("mode").Usage = "chunk scheduling: replan, ensemble, async or rtc (real-time chunking: flow models); a comma-separated list (replan,async) runs the latency matrix"
	f.String("latency", "0", "modelled inference latency in virtual time, e.g. 50ms (a bare number is ms); a comma-separated list (0,50,150,300ms) runs the latency matrix")
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
	latencyFlag, _ := f.GetString("latency")
	noRender, _ := f.GetBool("no-render")
	if !noRender {
		if err := needOpenCV("eval's camera rendering (--no-render skips it, for policies that ignore images)"); err != nil {
			return err
		}
	}
	latencies, err := eval.ParseLatencies(latencyFlag)
	if err != nil {
		return err
	}
	modeFlag, _ := f.GetString("mode")
	modes, err := eval.ResolveModes(modeFlag, f.Changed("mode"), cfg.Run.Scheduler.Mode)
	if err != nil {
		return err
	}
	if _, err := eval.ParseSuites(suite); err != nil {
		return err
	}
	matrix := len(latencies) > 1 || len(modes) > 1
	workers = eval.Conf{Workers: workers}.WithDefaults().Workers
	// Each worker owns an ONNX Runtime session; share the cores between
	// them instead of letting every session spin a thread per core.
	cfg.ORT.IntraOpThreads = max(1, cfg.ORT.IntraOpThreads/workers)
	pols, err := rig.ResolvePolicy(ctx, ref, rig.PolicyConf{Model: cfg.Model, Token: cfg.Server.AuthToken, Open: cfg.openModel, Log: log})
	if err != nil {
		return err
	}
	if out == "" {
		name := strings.ReplaceAll(suite, ",", "+")
		if matrix {
			name += "-matrix"
		}
		out = filepath.Join("efferent-eval", name+"-"+time.Now().Format("20060102-150405"))
	}
	sched := cfg.Run.Scheduler
	sched.Mode = modes[0]
	conf := eval.SuiteConf{Suite: suite, Episodes: episodes, Workers: workers, Out: out, Policies: pols,
		NoRender: noRender, NewRenderer: newRenderer, NewLeggedRenderer: newLeggedRenderer, Scheduler: sched, InferLatency: latencies[0], Progress: os.Stderr, Log: log}
	if matrix {
		m, err := eval.RunMatrix(ctx, eval.MatrixConf{SuiteConf: conf, Modes: modes, Latencies: latencies})
		if m != nil {
			_ = m.WriteText(os.Stdout)
			log.Info("matrix written", "dir", out)
		}
		return err
	}
	rep, err := eval.RunSuites(ctx, conf)
	if rep != nil {
		_ = rep.WriteText(os.Stdout)
		log.Info("report written", "dir", out)
	}
	return err
}
