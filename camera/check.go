package camera

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"time"
)

// Check is `efferent camera check` without its flags and its table: the
// reading of each camera as the control loop would, and the preview
// files. Opening a camera is injected (camera/cv's OpenCapture), so that
// this package needs no OpenCV.

// CheckConf configures Check; each field is the `efferent camera check`
// flag named in its comment, and errors name the flags.
type CheckConf struct {
	// URIs are the cameras (--camera, at least one).
	URIs []string
	// Duration is how long each camera is read (--duration, ≥ 100ms);
	// Poll how often its latest frame is taken, the policy's rate
	// (--poll, 1ms..Duration).
	Duration, Poll time.Duration
	// Preview is the directory for the preview PNGs (--preview).
	Preview string
	// Open opens a camera (required).
	Open func(uri string) (Source, error)
}

// Validate checks c; Check calls it first.
func (c CheckConf) Validate() error {
	if len(c.URIs) == 0 {
		return fmt.Errorf("--camera: give at least one (e.g. --camera 0, --camera clip.mp4, --camera rtsp://host/stream)")
	}
	if c.Duration < 100*time.Millisecond || c.Poll < time.Millisecond || c.Poll > c.Duration {
		return fmt.Errorf("--duration %v / --poll %v: want duration ≥ 100ms and 1ms ≤ poll ≤ duration", c.Duration, c.Poll)
	}
	if c.Open == nil {
		return errors.New("camera: CheckConf.Open: required")
	}
	return nil
}

// CheckResult is what Check found out about one camera.
type CheckResult struct {
	URI string
	// Err is why the camera could not be opened; nothing else is set then.
	Err error
	// Kind is the source's kind ("device", "file", "stream", "dir") when
	// it has a Kind method.
	Kind string
	// Stats are the source's after reading it.
	Stats Stats
	// Ages are the ages of the frames taken (when taken), sorted: how
	// stale an observation is.
	Ages []time.Duration
	// Delivered: the camera delivered at least one frame.
	Delivered bool
	// Note is the preview PNG written, or else what went wrong: the
	// preview's error, the source's last error, or "no frame".
	Note string
}

// Check reads every camera of c in turn for c.Duration, taking the latest
// frame every c.Poll, saves the last frame of each as a PNG in c.Preview
// (camera<i>-<uri's base, made safe>.png) and passes each camera's result
// to report as soon as it has it. It fails when a camera delivered no
// frame (after checking all of them).
func Check(c CheckConf, report func(CheckResult)) error {
	if err := c.Validate(); err != nil {
		return err
	}
	failed := 0
	for i, uri := range c.URIs {
		res := checkOne(c, i, uri)
		if !res.Delivered {
			failed++
		}
		report(res)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d cameras delivered no frame", failed, len(c.URIs))
	}
	return nil
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func checkOne(c CheckConf, i int, uri string) CheckResult {
	res := CheckResult{URI: uri}
	src, err := c.Open(uri)
	if err != nil {
		res.Err = err
		return res
	}
	if k, ok := src.(interface{ Kind() string }); ok {
		res.Kind = k.Kind()
	}
	var fr Frame
	end := time.Now().Add(c.Duration)
	tk := time.NewTicker(c.Poll)
	for now := range tk.C {
		if src.Latest(&fr) {
			res.Ages = append(res.Ages, now.Sub(fr.Time))
		}
		if now.After(end) || src.Stats().EOF {
			break
		}
	}
	tk.Stop()
	res.Stats = src.Stats()
	res.Delivered = src.Latest(&fr)
	src.Close()
	res.Note = res.Stats.Err
	if res.Delivered {
		name := filepath.Join(c.Preview, fmt.Sprintf("camera%d-%s.png", i, unsafeName.ReplaceAllString(filepath.Base(uri), "_")))
		if err := WritePNG(name, fr.Image); err != nil {
			res.Note = err.Error()
		} else if res.Note == "" {
			res.Note = name
		}
	} else if res.Note == "" {
		res.Note = "no frame"
	}
	slices.Sort(res.Ages)
	return res
}
