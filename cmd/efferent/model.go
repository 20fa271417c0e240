package main

import (
	"encoding/json"

	"github.com/spf13/cobra"

	"github.com/efferent/efferent/models"
	"github.com/efferent/efferent/policy/ort"
)

func modelCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "model", Short: "Check model directories (manifest.yaml and the graphs it names)"}
	cmd.AddCommand(modelInspectCmd())
	return cmd
}

func modelInspectCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "inspect [DIR|NAME]",
		Short: "Check a model against its manifest and run it once",
		Long: `inspect loads a model (a directory with manifest.yaml, or an embedded model by
name; default --model) and prints its layout, each graph's inputs and outputs
(element type, and shape with symbolic dimensions by name), its weights and
external data files, the ONNX Runtime library's execution providers, and one
timed inference on a synthetic observation (pattern images, zero state, a
LIBERO instruction). A graph that disagrees with the manifest is an error
naming the tensor and what each side says. Run it first on a new export.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(cmd.Flags())
			if err != nil {
				return err
			}
			if len(args) == 1 {
				cfg.Model = args[0]
			}
			m, err := models.Manifest(cfg.Model)
			if err != nil {
				return err
			}
			in, err := ort.Inspect(m, cfg.ORT)
			if in == nil {
				return err
			}
			// What was found is printed even when a check failed.
			var werr error
			if asJSON, _ := cmd.Flags().GetBool("json"); asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				werr = enc.Encode(in)
			} else {
				werr = in.Write(cmd.OutOrStdout())
			}
			if err != nil {
				return err
			}
			return werr
		},
	}
	addModelFlags(cmd.Flags())
	cmd.Flags().Bool("json", false, "print the inspection as JSON")
	return cmd
}
