package cv

import (
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/efferent/efferent/camera"
)

// writeVideo writes n 64x48 frames to an MJPG AVI: frame i is flat grey
// 10·i+5, with a white square whose column also encodes i.
func writeVideo(t *testing.T, path string, n int) {
	t.Helper()
	vw, err := gocv.VideoWriterFile(path, "MJPG", 30, 64, 48, true)
	if err != nil {
		t.Fatal(err)
	}
	defer vw.Close()
	for i := range n {
		m := gocv.NewMatWithSize(48, 64, gocv.MatTypeCV8UC3)
		pix, _ := m.DataPtrUint8()
		for k := range pix {
			pix[k] = byte(10*i + 5)
		}
		if err := vw.Write(m); err != nil {
			t.Fatal(err)
		}
		m.Close()
	}
}

func mean(pix []byte) float64 {
	var s float64
	for _, p := range pix {
		s += float64(p)
	}
	return s / float64(len(pix))
}

// TestFileSource writes a video with OpenCV, reads it back through the
// file source at its frame rate, and checks the frame count (every frame
// decoded, in order), each frame it sees against the frame's number, and
// the end of file.
func TestFileSource(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: OpenCV")
	}
	path := filepath.Join(t.TempDir(), "clip.avi")
	const n = 20
	writeVideo(t, path, n)
	src, err := OpenCapture(CaptureConf{URI: path})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if src.Kind() != "file" {
		t.Fatalf("kind %s", src.Kind())
	}
	var f camera.Frame
	seen := map[uint64]bool{}
	deadline := time.Now().Add(10 * time.Second)
	for !src.Stats().EOF {
		if time.Now().After(deadline) {
			t.Fatalf("no EOF within 10 s: %+v", src.Stats())
		}
		if src.Latest(&f) && !seen[f.Seq] {
			seen[f.Seq] = true
			want := float64(10*(int(f.Seq)-1) + 5)
			if f.Image.W != 64 || f.Image.H != 48 || math.Abs(mean(f.Image.Pix)-want) > 3 {
				t.Fatalf("frame %d: %dx%d mean %.1f, want 64x48 grey %.0f", f.Seq, f.Image.W, f.Image.H, mean(f.Image.Pix), want)
			}
		}
		time.Sleep(2 * time.Millisecond) // a consumer polling faster than 30 Hz
	}
	st := src.Stats()
	if st.Frames != n {
		t.Fatalf("stats %+v: want %d frames", st, n)
	}
	if !src.Latest(&f) || f.Seq != n || math.Abs(mean(f.Image.Pix)-float64(10*(n-1)+5)) > 3 {
		t.Fatalf("after EOF the last frame stays: seq %d", f.Seq)
	}
	if st.FPS < 20 || st.FPS > 40 {
		t.Fatalf("paced at %.1f fps, want about the file's 30", st.FPS)
	}
	t.Logf("%d frames, %d seen by the consumer, %d dropped (latest wins), %.1f fps", st.Frames, len(seen), st.Dropped, st.FPS)
}

// TestLoopAndErrors: a looping file keeps producing; missing files and
// empty directories are refused at open with their name.
func TestLoopAndErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: OpenCV")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "clip.avi")
	writeVideo(t, path, 5)
	src, err := OpenCapture(CaptureConf{URI: "file:" + path, Loop: true, FPS: 200})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for src.Stats().Frames < 12 {
		if time.Now().After(deadline) {
			t.Fatalf("loop: %+v", src.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if src.Stats().EOF {
		t.Fatal("a looping file reported EOF")
	}
	src.Close()
	for _, uri := range []string{filepath.Join(dir, "missing.mp4"), "dir:" + t.TempDir()} {
		if _, err := OpenCapture(CaptureConf{URI: uri}); err == nil {
			t.Errorf("%s opened", uri)
		}
	}
}

// TestStreamReconnects: an HTTP stream (here a recording served over HTTP,
// which ends) is read through OpenCV's network backend; when it ends or the
// server goes away the source reconnects on its own, and frames resume.
func TestStreamReconnects(t *testing.T) {
	if testing.Short() {
		t.Skip("integration: OpenCV")
	}
	dir := t.TempDir()
	writeVideo(t, filepath.Join(dir, "clip.avi"), 10)
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer srv.Close()
	src, err := OpenCapture(CaptureConf{URI: srv.URL + "/clip.avi", Reconnect: 20 * time.Millisecond})
	if err != nil {
		t.Skipf("this OpenCV cannot open HTTP streams: %v", err)
	}
	defer src.Close()
	if src.Kind() != "stream" {
		t.Fatalf("kind %s", src.Kind())
	}
	deadline := time.Now().Add(10 * time.Second)
	for st := src.Stats(); st.Reconnects < 2 || st.Frames < 25; st = src.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v: want frames from at least three connections", st)
		}
		time.Sleep(5 * time.Millisecond)
	}
	var f camera.Frame
	if !src.Latest(&f) || f.Image.W != 64 {
		t.Fatalf("latest frame %dx%d", f.Image.W, f.Image.H)
	}
}
