package main

import (
	"github.com/spf13/cobra"

	"github.com/efferent/efferent/rig"
)

func replayCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "replay FILE",
		Short: "Feed a recording back through the control path, or through a model, and compare",
		Long: `replay reads an MCAP recording made by ` + "`efferent run --record`" + `.

Without --policy it re-executes the recorded chunks through the same
scheduler and safety gate in virtual time and compares every setpoint with
the recorded one: a regression test of the control path. A recording made in
virtual time (--fast) must replay identically; one made in real time may
differ where inference timing decided which chunk a tick used.

With --policy it runs that model on every recorded observation (the
recorded camera frames, state and instruction) and compares its chunks with
the recorded ones: per-dimension error, cosine similarity of the motion,
gripper agreement — a regression test of a new model against recorded
episodes. The report is printed and, with --out, written as replay.json.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(cmd.Flags())
			if err != nil {
				return err
			}
			ref, _ := cmd.Flags().GetString("policy")
			out, _ := cmd.Flags().GetString("out")
			if ref != "" {
				// The model sees the recorded frames, PNG/JPEG.
				if err := needOpenCV("replay --policy"); err != nil {
					return err
				}
			}
			rep, err := rig.Replay(cmd.Context(), rig.ReplayConf{Path: args[0], Policy: ref, Model: cfg.Model, Open: cfg.openModel,
				DecodeImage: decodeImage, Log: cfg.Log.logger(), Out: cmd.OutOrStdout()})
			if rep != nil && out != "" {
				if werr := rep.WriteFile(out); werr != nil && err == nil {
					err = werr
				}
			}
			return err
		},
	}
	f := cmd.Flags()
	f.String("policy", "", "model to compare with the recorded chunks (default: re-execute the recorded chunks)")
	f.String("out", "", "directory for replay.json")
	addModelFlags(f)
	return cmd
}
