package cv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"gocv.io/x/gocv"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/camera"
)

// CaptureConf configures a Capture. Zero values mean the documented
// defaults.
type CaptureConf struct {
	// URI: a V4L2 device ("0", "/dev/video0", "v4l2:/dev/video0"), a video
	// file ("file:clip.mp4" or a path), an RTSP or HTTP stream
	// ("rtsp://…", "http://…"), or a directory of images ("dir:path").
	URI string
	// Width and Height ask a device for a capture size (0: its default).
	Width, Height int
	// Loop plays a file or directory again from the start at its end.
	// Default false: the source reports EOF and keeps the last frame.
	Loop bool
	// FPS paces files and directories (a recording stands in for a
	// camera). Default: the file's own rate, else 30; directories 10.
	FPS float64
	// Reconnect is the wait before reopening a lost device or stream.
	// Default 1s.
	Reconnect time.Duration
}

// Capture is a camera.Source read through OpenCV's VideoCapture (or an
// image directory), on its own goroutine.
type Capture struct {
	conf   CaptureConf
	kind   string // device, file, stream, dir
	target any    // what VideoCapture opens: an int index or a string
	files  []string
	camera.Slot
	cancel context.CancelFunc
	done   chan struct{}
}

var _ camera.Source = (*Capture)(nil)

// OpenCapture opens conf.URI (an error names what could not be opened)
// and starts capturing.
func OpenCapture(conf CaptureConf) (*Capture, error) {
	if conf.Reconnect == 0 {
		conf.Reconnect = time.Second
	}
	c := &Capture{conf: conf, done: make(chan struct{})}
	uri := conf.URI
	switch {
	case strings.HasPrefix(uri, "dir:"):
		c.kind = "dir"
		dir := strings.TrimPrefix(uri, "dir:")
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("camera %s: %w", uri, err)
		}
		for _, e := range entries {
			switch strings.ToLower(filepath.Ext(e.Name())) {
			case ".png", ".jpg", ".jpeg", ".bmp":
				c.files = append(c.files, filepath.Join(dir, e.Name()))
			}
		}
		slices.Sort(c.files)
		if len(c.files) == 0 {
			return nil, fmt.Errorf("camera %s: no PNG, JPEG or BMP images", uri)
		}
	case strings.HasPrefix(uri, "rtsp://"), strings.HasPrefix(uri, "http://"), strings.HasPrefix(uri, "https://"):
		c.kind, c.target = "stream", uri
	case strings.HasPrefix(uri, "v4l2:"):
		c.kind, c.target = "device", strings.TrimPrefix(uri, "v4l2:")
	case strings.HasPrefix(uri, "/dev/video"):
		c.kind, c.target = "device", uri
	case strings.HasPrefix(uri, "file:"):
		c.kind, c.target = "file", strings.TrimPrefix(uri, "file:")
	default:
		if n, err := strconv.Atoi(uri); err == nil {
			c.kind, c.target = "device", n
		} else {
			c.kind, c.target = "file", uri
		}
	}
	if c.kind == "file" {
		if _, err := os.Stat(c.target.(string)); err != nil {
			return nil, fmt.Errorf("camera %s: %w", uri, err)
		}
	}
	var vc *gocv.VideoCapture
	if c.kind != "dir" {
		var err error
		if vc, err = c.open(); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go c.run(ctx, vc)
	return c, nil
}

// open opens the VideoCapture and sets a device's size.
func (c *Capture) open() (*gocv.VideoCapture, error) {
	vc, err := gocv.OpenVideoCapture(c.target)
	if err != nil {
		return nil, fmt.Errorf("camera %s: %w", c.conf.URI, err)
	}
	if !vc.IsOpened() {
		vc.Close()
		return nil, fmt.Errorf("camera %s: OpenCV could not open it", c.conf.URI)
	}
	if c.kind == "device" && c.conf.Width > 0 && c.conf.Height > 0 {
		vc.Set(gocv.VideoCaptureFrameWidth, float64(c.conf.Width))
		vc.Set(gocv.VideoCaptureFrameHeight, float64(c.conf.Height))
	}
	return vc, nil
}

// Kind is "device", "file", "stream" or "dir".
func (c *Capture) Kind() string { return c.kind }

// Close stops capturing and frees the device. Safe to call more than once.
func (c *Capture) Close() error {
	c.cancel()
	<-c.done
	return nil
}

// run is the capture goroutine: read, convert to RGB, hand to the slot;
// pace files; reopen lost devices and streams.
func (c *Capture) run(ctx context.Context, vc *gocv.VideoCapture) {
	defer close(c.done)
	bgr, rgb := gocv.NewMat(), gocv.NewMat()
	defer bgr.Close()
	defer rgb.Close()
	defer func() {
		if vc != nil {
			vc.Close()
		}
	}()
	fps := c.conf.FPS
	if fps == 0 {
		fps = 10
		if vc != nil {
			if f := vc.Get(gocv.VideoCaptureFPS); f > 0 && f < 1000 {
				fps = f
			} else {
				fps = 30
			}
		}
	}
	paced := c.kind == "file" || c.kind == "dir"
	start, n := time.Now(), 0
	var img efferent.Image
	for ctx.Err() == nil {
		if paced {
			// Drift-free pacing of a recording at its frame rate.
			if !sleepUntil(ctx, start.Add(time.Duration(float64(n)*float64(time.Second)/fps))) {
				return
			}
		}
		ok := false
		if c.kind == "dir" {
			if n >= len(c.files) && !c.conf.Loop {
				c.Update(func(s *camera.Stats) { s.EOF = true })
				return
			}
			m := gocv.IMRead(c.files[n%len(c.files)], gocv.IMReadColor)
			if !m.Empty() {
				m.CopyTo(&bgr)
				ok = true
			} else {
				f := c.files[n%len(c.files)]
				c.Update(func(s *camera.Stats) { s.Err = "unreadable image " + f })
			}
			m.Close()
		} else {
			ok = vc.Read(&bgr) && !bgr.Empty()
		}
		if !ok && c.kind != "dir" {
			if c.kind == "file" {
				if c.conf.Loop && n > 0 {
					vc.Set(gocv.VideoCapturePosFrames, 0)
					start, n = time.Now(), 0
					continue
				}
				c.Update(func(s *camera.Stats) { s.EOF = true })
				return
			}
			// A device or stream was lost: reopen it, as long as it takes.
			c.Update(func(s *camera.Stats) { s.Err = "no frame: lost, reconnecting" })
			vc.Close()
			vc = nil
			for vc == nil {
				if !sleepUntil(ctx, time.Now().Add(c.conf.Reconnect)) {
					return
				}
				v, err := c.open()
				if err != nil {
					c.Update(func(s *camera.Stats) { s.Err = err.Error() })
					continue
				}
				vc = v
				c.Update(func(s *camera.Stats) { s.Reconnects++; s.Err = "" })
			}
			continue
		}
		n++
		if !ok || bgr.Channels() != 3 {
			continue
		}
		gocv.CvtColor(bgr, &rgb, gocv.ColorBGRToRGB)
		pix, err := rgb.DataPtrUint8()
		if err != nil {
			c.Update(func(s *camera.Stats) { s.Err = err.Error() })
			continue
		}
		img = efferent.Image{H: rgb.Rows(), W: rgb.Cols(), C: 3, Pix: pix}
		c.Put(img, time.Now())
	}
}

// sleepUntil waits for t or ctx's end (false).
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-tm.C:
		return true
	}
}
