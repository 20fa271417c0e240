package viewer

import (
	"errors"
	"testing"
	"time"

	"github.com/efferent/efferent"
)

// Frame draws a view the policy does not see only when a browser would be
// sent it: never while no one watches, at most CameraFPS while one does;
// what it draws reaches the page under its name, and a drawing error is
// the caller's.
func TestFrameDrawsOnlyWhenShown(t *testing.T) {
	v, srv := start(t, Conf{Loopback: true, CameraFPS: 20, SendHz: 60})
	draws := 0
	draw := func(dst *efferent.Image) error {
		draws++
		*dst = testImage(48, 64, false)
		return nil
	}
	for range 50 { // nobody watching
		if err := v.Frame("third_person", draw); err != nil {
			t.Fatal(err)
		}
	}
	if draws != 0 {
		t.Fatalf("drew %d frames with no browser connected", draws)
	}
	c, _, err := dial(t, srv, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, c, 5*time.Second, "hello", func(m msg) bool { return m.Type == "hello" })
	start := time.Now()
	for time.Since(start) < 500*time.Millisecond {
		if err := v.Frame("third_person", draw); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	// 20 frames/s over 0.5 s, plus the one at the start; never one per call.
	if draws < 2 || draws > 12 {
		t.Fatalf("drew %d frames in 0.5 s at CameraFPS 20", draws)
	}
	m := waitFor(t, c, 5*time.Second, "a third_person frame", func(m msg) bool { return m.Type == "frame" && m.Frame.Camera == "third_person" })
	if m.Frame.W != 64 || m.Frame.H != 48 || len(m.JPEG) == 0 {
		t.Fatalf("frame %+v with %d bytes", m.Frame, len(m.JPEG))
	}
	boom := errors.New("renderer gone")
	time.Sleep(60 * time.Millisecond) // the next frame is due
	if err := v.Frame("third_person", func(*efferent.Image) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("err %v, want the drawing's", err)
	}
}
