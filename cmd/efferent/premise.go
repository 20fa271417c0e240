package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/efferent/efferent/eval"
	"github.com/efferent/efferent/rig"
)

func evalPremiseCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "premise",
		Short: "Measure the false-premise checker on the simulators' true and false premise tasks",
		Long: `eval premise renders, for every task of the suites and its false-premise
variant (the instruction names an object removed from the scene), the first
--episodes initial states for --frames frames each (the arm swaying 5 mm per
frame; the legged base standing, its body height moving 5 mm per frame),
runs the false-premise checker (the OpenCV colour/shape detector on both
cameras, or on the legged base's four surround cameras; or
--premise-detector's ONNX detector) on the instruction, and reports
precision and recall of refusing false premises, the false-refusal rate on
true premises and the clarify counts, per suite, as report.json and
report.txt in --out. --suite quadruped (or one legged suite) measures the
legged base's tasks.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd.Flags())
			if err != nil {
				return err
			}
			return runEvalPremise(cmd, cfg)
		},
	}
	f := cmd.Flags()
	f.String("suite", "all", "task suite: "+strings.Join(eval.SuiteNames(), ", ")+", all (the tabletop's) or quadruped (the legged base's)")
	f.Int("episodes", 10, fmt.Sprintf("initial states per task (1..%d)", eval.InitStates))
	f.Int("frames", rig.PremiseFrames, "consecutive frames the checker decides over")
	f.Int("workers", 0, "parallel samples (default min(CPUs, 4))")
	addPremiseDetectorFlag(f)
	f.String("out", "", "report directory (default efferent-eval/premise-<suite>-<time>)")
	f.String("log-level", "info", "debug, info, warn or error")
	return cmd
}

func runEvalPremise(cmd *cobra.Command, cfg Config) error {
	if err := needOpenCV("eval premise (the simulator's renderer)"); err != nil {
		return err
	}
	f := cmd.Flags()
	log := cfg.Log.logger()
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	suite, _ := f.GetString("suite")
	episodes, _ := f.GetInt("episodes")
	frames, _ := f.GetInt("frames")
	workers, _ := f.GetInt("workers")
	out, _ := f.GetString("out")
	suites, err := eval.ParseSuites(suite)
	if err != nil {
		return err
	}
	if frames < 1 {
		return fmt.Errorf("--frames %d: want at least 1", frames)
	}
	leg := eval.Legged(suites)
	checker := rig.SimPremiseChecker
	if leg {
		checker = rig.LeggedPremiseChecker
	}
	c, err := checker(frames, cfg.premiseDetector(log))
	if err != nil {
		return err
	}
	if cl, ok := c.Conf().Detector.(io.Closer); ok {
		defer cl.Close()
	}
	if out == "" {
		out = filepath.Join("efferent-eval", "premise-"+suite+"-"+time.Now().Format("20060102-150405"))
	}
	log.Info("evaluating the false-premise check", "suites", strings.Join(suites, ","), "episodes_per_task", episodes, "frames", frames, "out", out)
	rep, err := eval.RunPremise(ctx, eval.PremiseConf{
		Checker:     c,
		NewRenderer: newRenderer, NewLeggedRenderer: newLeggedRenderer,
		Suites: suites, Episodes: episodes, Workers: workers, Progress: os.Stderr,
	})
	if err != nil {
		return err
	}
	if err := rep.WriteFiles(out); err != nil {
		return err
	}
	_ = rep.WriteText(os.Stdout)
	log.Info("report written", "dir", out)
	return nil
}

// addPremiseDetectorFlag adds --premise-detector (run, serve, eval
// premise).
func addPremiseDetectorFlag(f *pflag.FlagSet) {
	f.String("premise-detector", "", "a detector `DIR` for the false-premise check: an ONNX open-vocabulary detector with OWL-ViT/OWLv2's interface "+
		"(detector.yaml, its graph and tokenizer.json; format: safety/premise/onnxdet) used instead of the OpenCV detector for the simulator's objects; "+
		"its vocabulary.yaml, if any, names the objects instructions may name, else the simulator's catalogue does (premise_detector)")
}
