package camera

import (
	"errors"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/efferent/efferent"
)

// fakeSource holds one frame from the start (or none).
type fakeSource struct {
	Slot
	closed bool
}

func (f *fakeSource) Close() error { f.closed = true; return nil }
func (f *fakeSource) Kind() string { return "fake" }

// Check reads each camera, saves a preview of its last frame, reports
// every camera, and fails when one delivered nothing.
func TestCheck(t *testing.T) {
	dir := t.TempDir()
	var opened []*fakeSource
	open := func(uri string) (Source, error) {
		if uri == "missing" {
			return nil, errors.New("no such camera")
		}
		s := &fakeSource{}
		if uri != "dark" {
			s.Put(efferent.Image{H: 2, W: 3, C: 3, Pix: []byte(strings.Repeat("\x10\x20\x30", 6))}, time.Now())
		}
		opened = append(opened, s)
		return s, nil
	}
	var got []CheckResult
	c := CheckConf{URIs: []string{"rtsp://host/a b", "dark", "missing"}, Duration: 100 * time.Millisecond, Poll: 10 * time.Millisecond,
		Preview: dir, Open: open}
	err := Check(c, func(r CheckResult) { got = append(got, r) })
	if err == nil || err.Error() != "2 of 3 cameras delivered no frame" {
		t.Fatalf("err = %v", err)
	}
	if len(got) != 3 || len(opened) != 2 || !opened[0].closed || !opened[1].closed {
		t.Fatalf("%d results, %d opened", len(got), len(opened))
	}
	r := got[0]
	want := filepath.Join(dir, "camera0-a_b.png")
	if !r.Delivered || r.Kind != "fake" || r.Note != want || r.Stats.Width != 3 || len(r.Ages) < 5 || r.Ages[0] > r.Ages[len(r.Ages)-1] {
		t.Fatalf("result %+v", r)
	}
	f, err := os.Open(want)
	if err != nil {
		t.Fatal(err)
	}
	im, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if r, g, b, a := im.At(2, 1).RGBA(); im.Bounds().Dx() != 3 || r>>8 != 0x10 || g>>8 != 0x20 || b>>8 != 0x30 || a>>8 != 255 {
		t.Fatalf("preview pixel %x %x %x %x", r, g, b, a)
	}
	if got[1].Delivered || got[1].Note != "no frame" || got[2].Err == nil || got[2].Delivered {
		t.Fatalf("results %+v", got[1:])
	}
	for _, bad := range []CheckConf{
		{Duration: time.Second, Poll: time.Millisecond, Open: open},
		{URIs: []string{"x"}, Duration: 50 * time.Millisecond, Poll: time.Millisecond, Open: open},
		{URIs: []string{"x"}, Duration: time.Second, Poll: 2 * time.Second, Open: open},
		{URIs: []string{"x"}, Duration: time.Second, Poll: time.Millisecond},
	} {
		if err := Check(bad, func(CheckResult) { t.Error("reported") }); err == nil {
			t.Errorf("Check(%+v) succeeded", bad)
		}
	}
}

func TestWritePNGRejects(t *testing.T) {
	if err := WritePNG(filepath.Join(t.TempDir(), "x.png"), efferent.Image{H: 2, W: 2, C: 1, Pix: make([]byte, 4)}); err == nil {
		t.Fatal("wrote a grey image as RGB")
	}
}
