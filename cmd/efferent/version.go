package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/efferent/efferent/policy/ort"
)

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the efferent, Go and ONNX Runtime versions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd.Flags())
			if err != nil {
				return err
			}
			fmt.Printf("efferent %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			if lib, err := ort.Init(cfg.ORT.Library); err != nil {
				fmt.Printf("onnxruntime: unavailable: %v\n", err)
			} else {
				fmt.Printf("onnxruntime %s (%s)\n", ort.RuntimeVersion(), lib)
			}
			return nil
		},
	}
}
