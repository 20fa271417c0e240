package main

import (
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/efferent/efferent/camera"
	camcv "github.com/efferent/efferent/camera/cv"
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

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func runCameraCheck(cmd *cobra.Command, _ []string) error {
	f := cmd.Flags()
	uris, _ := f.GetStringArray("camera")
	dur, _ := f.GetDuration("duration")
	poll, _ := f.GetDuration("poll")
	dir, _ := f.GetString("preview")
	if len(uris) == 0 {
		return fmt.Errorf("--camera: give at least one (e.g. --camera 0, --camera clip.mp4, --camera rtsp://host/stream)")
	}
	if dur < 100*time.Millisecond || poll < time.Millisecond || poll > dur {
		return fmt.Errorf("--duration %v / --poll %v: want duration ≥ 100ms and 1ms ≤ poll ≤ duration", dur, poll)
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "%-28s %-7s %10s %7s %7s %7s %5s %9s %9s  %s\n", "camera", "kind", "size", "fps", "frames", "dropped", "reco", "age p50", "age p99", "preview / error")
	failed := 0
	for i, uri := range uris {
		src, err := camcv.OpenCapture(camcv.CaptureConf{URI: uri})
		if err != nil {
			fmt.Fprintf(w, "%-28s %v\n", uri, err)
			failed++
			continue
		}
		var fr camera.Frame
		var ages []time.Duration
		end := time.Now().Add(dur)
		tk := time.NewTicker(poll)
		for now := range tk.C {
			if src.Latest(&fr) {
				ages = append(ages, now.Sub(fr.Time))
			}
			if now.After(end) || src.Stats().EOF {
				break
			}
		}
		tk.Stop()
		st := src.Stats()
		have := src.Latest(&fr)
		src.Close()
		note := st.Err
		if have {
			name := filepath.Join(dir, fmt.Sprintf("camera%d-%s.png", i, unsafeName.ReplaceAllString(filepath.Base(uri), "_")))
			if err := writePNG(name, fr); err != nil {
				note = err.Error()
			} else if note == "" {
				note = name
			}
		} else {
			failed++
			if note == "" {
				note = "no frame"
			}
		}
		slices.Sort(ages)
		fmt.Fprintf(w, "%-28s %-7s %10s %7.1f %7d %7d %5d %9s %9s  %s\n", uri, src.Kind(), fmt.Sprintf("%dx%d", st.Width, st.Height),
			st.FPS, st.Frames, st.Dropped, st.Reconnects, eval.Percentile(ages, 50).Round(time.Millisecond), eval.Percentile(ages, 99).Round(time.Millisecond), note)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d cameras delivered no frame", failed, len(uris))
	}
	return nil
}

func writePNG(path string, fr camera.Frame) error {
	im := image.NewRGBA(image.Rect(0, 0, fr.Image.W, fr.Image.H))
	for i := range fr.Image.W * fr.Image.H {
		copy(im.Pix[4*i:4*i+3], fr.Image.Pix[3*i:3*i+3])
		im.Pix[4*i+3] = 255
	}
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(out, im); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
