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
to --out. Suites: ` + strings.Join(eval.SuiteNames(), ", ") + `, or "all".`,
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
	f.String("suite", eval.DefaultSuite, "task suite: "+strings.Join(eval.SuiteNames(), ", ")+" or all")
	f.Int("episodes", 10, "episodes per task (LIBERO's protocol uses 50)")
	f.String("policy", "auto", rig.PolicyHelp)
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
	workers = eval.Conf{Workers: workers}.WithDefaults().Workers
	// Each worker owns an ONNX Runtime session; share the cores between
	// them instead of letting every session spin a thread per core.
	cfg.ORT.IntraOpThreads = max(1, cfg.ORT.IntraOpThreads/workers)
	pols, err := rig.ResolvePolicy(ctx, ref, rig.PolicyConf{Model: cfg.Model, Token: cfg.Server.AuthToken, Open: cfg.openModel, Log: log})
	if err != nil {
		return err
	}
	if out == "" {
		out = filepath.Join("efferent-eval", suite+"-"+time.Now().Format("20060102-150405"))
	}
	rep, err := eval.RunSuites(ctx, eval.SuiteConf{Suite: suite, Episodes: episodes, Workers: workers, Out: out, Policies: pols,
		NoRender: noRender, NewRenderer: newRenderer, Scheduler: cfg.Run.Scheduler, InferLatency: latency, Progress: os.Stderr, Log: log})
	if rep != nil {
		_ = rep.WriteText(os.Stdout)
		log.Info("report written", "dir", out)
	}
	return err
}
