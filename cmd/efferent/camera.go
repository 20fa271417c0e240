package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/efferent/efferent/camera"
	"github.com/efferent/efferent/eval"
)

func cameraCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "camera",
		Short: "Cameras: check what each source delivers",
	}
	check := &cobra.Command{
		Use:   "check",
		Short: "Each camera's frame rate, resolution, drops and frame age, and a preview PNG",
		Long: `check opens every --camera (a V4L2 device: 0 or /dev/video0; a video file;
rtsp:// or http:// streams; dir:PATH, a directory of images), reads it for
--duration as the control loop would (taking the latest frame at --poll), and
prints per camera: resolution, measured capture rate, frames captured and
dropped (replaced before being taken), reconnects, the age of the frame when
taken (p50/p99: how stale an observation is), and the last error. It saves the
last frame of each as a PNG in --preview.`,
		Args: cobra.NoArgs,
		RunE: runCameraCheck,
	}
	f := check.Flags()
	f.StringArray("camera", nil, "camera URI (repeatable; required)")
	f.Duration("duration", 3*time.Second, "how long to read each camera")
	f.Duration("poll", 50*time.Millisecond, "how often the latest frame is taken (the policy's rate)")
	f.String("preview", ".", "directory for the preview PNGs")
	cmd.AddCommand(check)
	return cmd
}

func runCameraCheck(cmd *cobra.Command, _ []string) error {
	if err := needOpenCV("camera check"); err != nil {
		return err
	}
	f := cmd.Flags()
	var c camera.CheckConf
	c.URIs, _ = f.GetStringArray("camera")
	c.Duration, _ = f.GetDuration("duration")
	c.Poll, _ = f.GetDuration("poll")
	c.Preview, _ = f.GetString("preview")
	c.Open = openCamera
	if err := c.Validate(); err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "%-28s %-7s %10s %7s %7s %7s %5s %9s %9s  %s\n", "camera", "kind", "size", "fps", "frames", "dropped", "reco", "age p50", "age p99", "preview / error")
	return camera.Check(c, func(r camera.CheckResult) {
		if r.Err != nil {
			fmt.Fprintf(w, "%-28s %v\n", r.URI, r.Err)
			return
		}
		st := r.Stats
		fmt.Fprintf(w, "%-28s %-7s %10s %7.1f %7d %7d %5d %9s %9s  %s\n", r.URI, r.Kind, fmt.Sprintf("%dx%d", st.Width, st.Height),
			st.FPS, st.Frames, st.Dropped, st.Reconnects, eval.Percentile(r.Ages, 50).Round(time.Millisecond), eval.Percentile(r.Ages, 99).Round(time.Millisecond), r.Note)
	})
}
