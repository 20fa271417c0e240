package main

import (
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/efferent/efferent/sim"
	"github.com/efferent/efferent/sim/legged"
)

func simCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "The built-in simulators (tabletop, legged base): list tasks, write expert demonstrations, play a ROS robot",
	}
	cmd.AddCommand(simTasksCmd(), simDemosCmd(), simROSCmd())
	return cmd
}

func simTasksCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tasks",
		Short: "List the simulator's task suites and tasks",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fp, _ := cmd.Flags().GetBool("false-premise")
			tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SUITE\tINDEX\tMAX STEPS\tINSTRUCTION")
			row := func(suite string, index, maxSteps int, instruction, missing string) {
				if missing != "" {
					instruction += "  (missing: " + missing + ")"
				}
				fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", suite, index, maxSteps, instruction)
			}
			for _, s := range sim.Suites() {
				ts, err := sim.Tasks(s)
				if fp {
					ts, err = sim.FalsePremiseTasks(s)
				}
				if err != nil {
					return err
				}
				for _, t := range ts {
					row(t.Suite, t.Index, t.MaxSteps, t.Instruction, t.Missing)
				}
			}
			for _, s := range legged.Suites() {
				ts, err := legged.Tasks(s)
				if fp {
					ts, err = legged.FalsePremiseTasks(s)
				}
				if err != nil {
					return err
				}
				for _, t := range ts {
					row(t.Suite, t.Index, t.MaxSteps, t.Instruction, t.Missing)
				}
			}
			return tw.Flush()
		},
	}
	cmd.Flags().Bool("false-premise", false, "list the false-premise variants (the named object is absent)")
	return cmd
}

func simDemosCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "demos",
		Short: "Write scripted-expert demonstrations (NumPy .npy + meta.json per episode)",
		Long: `demos runs the scripted expert on every task of a suite and writes each
successful episode to OUT/<suite>/<task>_<episode>/: agent.npy and wrist.npy
(uint8 [T,H,W,3]), state.npy (float32 [T,8]), actions.npy (float32 [T,7]) and
meta.json; readable with numpy alone (np.load). Demonstrations start from
initial states 1000+e, never from the evaluation states 0..49.

The legged simulator's suites (quadruped-goto, quadruped-obstacle,
quadruped-posture; quadruped for all three) write ego.npy (the egocentric
camera, uint8 [T,H,W,3]), state.npy (float32 [T,7]: odometry x, y, yaw,
body velocities vx, vy, wz, height), actions.npy (float32 [T,7]: the
expert's command vectors at 50 Hz) and meta.json; --action-noise does not
apply to them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := cmd.Flags()
			suite, _ := f.GetString("suite")
			episodes, _ := f.GetInt("episodes")
			out, _ := f.GetString("out")
			size, _ := f.GetInt("image-size")
			keep, _ := f.GetBool("keep-failures")
			ds, _ := f.GetInt("downsample")
			noise, _ := f.GetFloat64("action-noise")
			suites := []string{suite}
			switch {
			case suite == "all":
				suites = sim.Suites()
			case suite == "quadruped":
				suites = legged.Suites()
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if slices.Contains(legged.Suites(), suites[0]) {
				if noise != 0 {
					return fmt.Errorf("sim demos: --action-noise applies to the tabletop suites only")
				}
				r, err := newLeggedRenderer()
				if err != nil {
					return fmt.Errorf("sim demos: %w", err)
				}
				defer closeRenderer(r)
				for _, s := range suites {
					n, err := legged.WriteDemos(ctx, legged.DemoConf{Suite: s, EpisodesPerTask: episodes, Out: out, ImageSize: size, Downsample: ds, KeepFailures: keep}, r,
						func(done, total int) { fmt.Fprintf(os.Stderr, "\r%s: %d/%d episodes", s, done, total) })
					fmt.Fprintln(os.Stderr)
					if err != nil {
						return err
					}
					fmt.Printf("%s: wrote %d episodes under %s\n", s, n, out)
				}
				return nil
			}
			r, err := newRenderer()
			if err != nil {
				return fmt.Errorf("sim demos: %w", err)
			}
			defer closeRenderer(r)
			for _, s := range suites {
				n, err := sim.WriteDemos(ctx, sim.DemoConf{Suite: s, EpisodesPerTask: episodes, Out: out, ImageSize: size, Downsample: ds, ActionNoise: noise, KeepFailures: keep}, r,
					func(done, total int) { fmt.Fprintf(os.Stderr, "\r%s: %d/%d episodes", s, done, total) })
				fmt.Fprintln(os.Stderr)
				if err != nil {
					return err
				}
				fmt.Printf("%s: wrote %d episodes under %s\n", s, n, out)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.String("suite", sim.SuiteSpatial, "task suite: "+strings.Join(sim.Suites(), ", ")+" or all (the tabletop's); "+strings.Join(legged.Suites(), ", ")+" or quadruped (the legged base's)")
	f.Int("episodes", 10, "episodes per task")
	f.String("out", "demos", "output directory")
	f.Int("image-size", 224, "side of the square camera images")
	f.Bool("keep-failures", false, "also write episodes the expert failed")
	f.Float64("action-noise", 0, "perturb executed position actions by uniform noise of this size, recording the clean expert action (recovery data for training)")
	f.Int("downsample", 1, "store images box-filtered by this factor (4: 224 → 56; for training models that average-pool first)")
	return cmd
}
