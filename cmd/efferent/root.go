package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func execute(args []string) int {
	root := &cobra.Command{
		Use:           "efferent",
		Short:         "A fast, safe inference server for vision-language-action robot policies",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().String("config", "", "YAML configuration file (default $EFFERENT_CONFIG; see README for keys)")
	root.AddCommand(serveCmd(), runCmd(), evalCmd(), simCmd(), tokenizerCmd(), calibrateCmd(), cameraCmd(), benchCmd(), replayCmd(), modelCmd(), versionCmd())
	root.SetArgs(args)
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "efferent:", err)
		return 1
	}
	return 0
}
