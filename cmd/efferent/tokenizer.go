package main

import (
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/efferent/efferent/tokenizer/chunks"
	"github.com/efferent/efferent/tokenizer/vq"
)

// The tokenizer commands are flags around package tokenizer/chunks, which
// documents how episodes are chunked, normalised and held out.

func tokenizerCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tokenizer",
		Short: "Fit and check residual-VQ action-chunk codebooks",
	}
	cmd.AddCommand(tokenizerFitCmd(), tokenizerCheckCmd())
	return cmd
}

func tokenizerFitCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "fit",
		Short: "Fit a residual-VQ codebook (efferent-vq/1) to demonstration action chunks",
		Long: `fit reads every episode directory under --demos (a directory holding
actions.npy and meta.json, as "efferent sim demos" writes), holds out a
deterministic fraction of the episodes, computes q01/q99 per action dim on
the rest, cuts every episode into chunks of --chunk steps (one per step; past
the end the last action repeats), normalises them (dims 0-5 to [-1, 1],
the gripper passes through) and fits --levels residual k-means levels of
--codes codes each. It writes codebook.json and stats.json to --out and
prints the reconstruction error per action dim and the code usage per level,
on the training and the held-out episodes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := cmd.Flags()
			var c chunks.FitConf
			c.Demos, _ = f.GetString("demos")
			c.Chunk, _ = f.GetInt("chunk")
			c.Levels, _ = f.GetInt("levels")
			c.Codes, _ = f.GetInt("codes")
			c.Iters, _ = f.GetInt("iters")
			c.Restarts, _ = f.GetInt("restarts")
			c.Seed, _ = f.GetUint64("seed")
			c.Holdout, _ = f.GetFloat64("holdout")
			c.Out, _ = f.GetString("out")
			c.IncludeFailures, _ = f.GetBool("include-failures")
			c.MaxChunks, _ = f.GetInt("max-chunks")
			_, err := chunks.Fit(c, cmd.OutOrStdout())
			return err
		},
	}
	f := cmd.Flags()
	f.String("demos", "", "demonstrations directory, searched recursively (required)")
	f.Int("chunk", chunks.DefaultChunk, "chunk length H in steps")
	f.Int("levels", vq.DefaultFitLevels, "residual levels (tokens per chunk)")
	f.Int("codes", vq.DefaultFitCodes, "codes per level")
	f.Int("iters", vq.DefaultFitIters, "k-means iterations per level (at most)")
	f.Int("restarts", chunks.DefaultRestarts, "k-means++ runs per level; the best is kept")
	f.Uint64("seed", vq.DefaultFitSeed, "k-means++ seed")
	f.Float64("holdout", chunks.DefaultHoldout, "fraction of episodes held out for measuring, in [0, 1)")
	f.String("out", ".", "output directory for codebook.json and stats.json")
	addDemoFlags(f)
	return cmd
}

func tokenizerCheckCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Measure a codebook's reconstruction error and code usage on demonstrations",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := cmd.Flags()
			var c chunks.CheckConf
			c.Codebook, _ = f.GetString("codebook")
			c.Stats, _ = f.GetString("stats")
			c.Demos, _ = f.GetString("demos")
			c.IncludeFailures, _ = f.GetBool("include-failures")
			c.MaxChunks, _ = f.GetInt("max-chunks")
			_, err := chunks.Check(c, cmd.OutOrStdout())
			return err
		},
	}
	f := cmd.Flags()
	f.String("codebook", "", "codebook.json (required)")
	f.String("stats", "", "stats.json written with it by tokenizer fit (required)")
	f.String("demos", "", "demonstrations directory, searched recursively (required)")
	addDemoFlags(f)
	return cmd
}

func addDemoFlags(f *pflag.FlagSet) {
	f.Bool("include-failures", false, "also use episodes whose meta.json says success false")
	f.Int("max-chunks", chunks.DefaultMaxChunks, "refuse demonstrations with more chunks (memory bound)")
}
