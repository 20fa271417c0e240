package main

import (
	"errors"
	"fmt"
	"github.com/efferent/efferent"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/efferent/efferent/eval"
	"github.com/efferent/efferent/safety/premise"
	premisecv "github.com/efferent/efferent/safety/premise/cv"
	"github.com/efferent/efferent/sim"
	"github.com/efferent/efferent/sim/render"
)

// simPremiseChecker is the false-premise checker for the built-in
// simulator's objects: the task set's vocabulary and the OpenCV
// colour/shape detector, deciding over frames frame sets (0: the default,
// premise.DefaultFrames).
func simPremiseChecker(frames int) (*premise.Checker, error) {
	voc, err := eval.SimPremiseVocabulary()
	if err != nil {
		return nil, err
	}
	var known []premisecv.Known
	for _, o := range eval.SimPremiseObjects() {
		known = append(known, premisecv.Known{Color: o.Color, Category: o.Category, RGB: o.RGB})
	}
	det, err := premisecv.New(premisecv.Conf{Objects: known})
	if err != nil {
		return nil, err
	}
	return premise.New(premise.Conf{Vocabulary: voc, Detector: det, Frames: frames})
}

func evalPremiseCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "premise",
		Short: "Measure the false-premise checker on the simulator's true and false premise tasks",
		Long: `eval premise renders, for every task of the suites and its false-premise
variant (the instruction names an object removed from the table), the first
--episodes initial states for --frames frames each (the arm swaying 5 mm per
frame), runs the false-premise checker (the OpenCV colour/shape detector on
both cameras) on the instruction, and reports precision and recall of
refusing false premises, the false-refusal rate on true premises and the
clarify counts, per suite, as report.json and report.txt in --out.`,
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
	f.String("suite", "all", "task suite: "+strings.Join(sim.Suites(), ", ")+" or all")
	f.Int("episodes", 10, fmt.Sprintf("initial states per task (1..%d)", sim.NumInitStates))
	f.Int("frames", premise.DefaultFrames, "consecutive frames the checker decides over")
	f.Int("workers", 0, "parallel samples (default min(CPUs, 4))")
	f.String("out", "", "report directory (default efferent-eval/premise-<suite>-<time>)")
	f.String("log-level", "info", "debug, info, warn or error")
	return cmd
}

func runEvalPremise(cmd *cobra.Command, cfg Config) error {
	f := cmd.Flags()
	log := cfg.Log.logger()
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	suite, _ := f.GetString("suite")
	episodes, _ := f.GetInt("episodes")
	frames, _ := f.GetInt("frames")
	workers, _ := f.GetInt("workers")
	out, _ := f.GetString("out")
	suites, err := parseSuites(suite)
	if err != nil {
		return err
	}
	if frames < 1 {
		return fmt.Errorf("--frames %d: want at least 1", frames)
	}
	c, err := simPremiseChecker(frames)
	if err != nil {
		return err
	}
	if out == "" {
		out = filepath.Join("efferent-eval", "premise-"+suite+"-"+time.Now().Format("20060102-150405"))
	}
	log.Info("evaluating the false-premise check", "suites", strings.Join(suites, ","), "episodes_per_task", episodes, "frames", frames, "out", out)
	rep, err := eval.RunPremise(ctx, eval.PremiseConf{
		Checker:     c,
		NewRenderer: func() (sim.Renderer, error) { return render.New(), nil },
		Suites:      suites, Episodes: episodes, Workers: workers, Progress: os.Stderr,
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

// checkInstruction is the false-premise check before a run moves the
// robot: observe until the session decides (the robot holds still
// meanwhile), log the verdict, and report whether the policy may act.
// observe fills obs from the robot; keys are the model's cameras.
func checkInstruction(sess *premise.Session, instruction string, keys []string, observe func(*efferent.Observation) error,
	log *slog.Logger) (premise.Verdict, error) {
	var obs efferent.Observation
	var frames []premise.Frame
	for range premise.MaxFrames {
		if err := observe(&obs); err != nil {
			return premise.Verdict{}, err
		}
		frames = frames[:0]
		for _, k := range keys {
			if im, ok := obs.Images[k]; ok {
				frames = append(frames, premise.Frame{Camera: k, Image: im})
			}
		}
		v, err := sess.Observe(instruction, frames)
		if err != nil {
			return v, fmt.Errorf("premise check: %w", err)
		}
		if v.Decision == premise.Pending {
			continue
		}
		if v.Allows() {
			log.Info("instruction checked: every named object is in view", "instruction", instruction, "frames", v.Frames)
		} else {
			log.Warn("instruction refused: the robot will not move", "instruction", instruction, "premise", v.Decision, "reason", v.Reason())
		}
		return v, nil
	}
	return premise.Verdict{}, errors.New("premise check: no decision")
}
