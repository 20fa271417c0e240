package record

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/efferent/efferent"
)

func testImage(w, h int, seed byte) efferent.Image {
	im := efferent.Image{H: h, W: w, C: 3, Pix: make([]byte, w*h*3)}
	for i := range im.Pix {
		im.Pix[i] = byte(i)*7 + seed
	}
	return im
}

// Everything written comes back, in order, exactly (PNG frames are
// lossless).
func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.mcap")
	r, err := New(Conf{Path: path, ImageFormat: "png"})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1700000000, 123456789)
	obs := efferent.Observation{Images: map[string]efferent.Image{"observation/image": testImage(32, 24, 1), "wrist": testImage(8, 8, 9)},
		State: []float64{1, 2, 3}, Prompt: "put the red block in the bowl", Time: t0, Seq: 1}
	r.Observation(&obs)
	chunk := efferent.Chunk{Actions: []float64{0.1, -0.2, 0.3, 0.4}, H: 2, D: 2, Tokens: []int64{5, 6}, ObsTime: t0, Seq: 1,
		Model: "m", StepPeriod: 50 * time.Millisecond}
	r.Chunk(&chunk)
	for k := range 1000 {
		sp := efferent.Setpoint{Time: t0.Add(time.Duration(k) * time.Millisecond), Values: []float64{float64(k), -float64(k) / 3}, Seq: 1, Hold: k%7 == 0}
		r.Setpoint(&sp, efferent.Verdict{Kind: efferent.Clamped, Reason: "velocity_limit", Dim: k % 2})
	}
	r.Teleop(t0, "takeover", []float64{0.5, 0}, "keyboard")
	ok := true
	r.Event(Event{Time: t0.UnixNano(), Kind: EventEpisodeEnd, Task: "spatial/x", Success: &ok})
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if st := r.Stats(); st.Dropped != 0 || st.Written != 1000+1+1+1+1+2 {
		t.Fatalf("stats %+v", st)
	}
	rec, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Setpoints) != 1000 {
		t.Fatalf("%d setpoints", len(rec.Setpoints))
	}
	for k, sp := range rec.Setpoints {
		want := Setpoint{Time: t0.Add(time.Duration(k) * time.Millisecond).UnixNano(), Seq: 1, Hold: k%7 == 0,
			Values: []float64{float64(k), -float64(k) / 3}, Verdict: "clamped", Reason: "velocity_limit", Dim: k % 2}
		if sp.Time != want.Time || sp.Hold != want.Hold || !slices.Equal(sp.Values, want.Values) || sp.Verdict != want.Verdict ||
			sp.Reason != want.Reason || sp.Dim != want.Dim {
			t.Fatalf("setpoint %d: %+v, want %+v", k, sp, want)
		}
	}
	if len(rec.Observations) != 1 || rec.Observations[0].Prompt != obs.Prompt || !slices.Equal(rec.Observations[0].State, obs.State) ||
		!slices.Equal(rec.Observations[0].Images, []string{"observation/image", "wrist"}) {
		t.Fatalf("observations %+v", rec.Observations)
	}
	c := rec.Chunks[0]
	if !slices.Equal(c.Actions, chunk.Actions) || !slices.Equal(c.Tokens, chunk.Tokens) || c.StepPeriodNs != int64(chunk.StepPeriod) || c.ObsTime != t0.UnixNano() {
		t.Fatalf("chunk %+v", c)
	}
	for key, im := range obs.Images {
		fr := rec.Frames[key]
		if len(fr) != 1 || fr[0].Format != "png" || fr[0].Timestamp.Sec != uint32(t0.Unix()) || fr[0].Timestamp.Nsec != 123456789 {
			t.Fatalf("%s frames %+v", key, fr)
		}
		dec, err := png.Decode(bytes.NewReader(fr[0].Data))
		if err != nil {
			t.Fatal(err)
		}
		for y := range im.H {
			for x := range im.W {
				r, g, b, _ := dec.At(x, y).RGBA()
				i := (y*im.W + x) * 3
				if byte(r>>8) != im.Pix[i] || byte(g>>8) != im.Pix[i+1] || byte(b>>8) != im.Pix[i+2] {
					t.Fatalf("%s pixel (%d,%d) differs", key, x, y)
				}
			}
		}
	}
	if len(rec.Teleop) != 1 || rec.Teleop[0].Mode != "takeover" || len(rec.Events) != 1 || !*rec.Events[0].Success {
		t.Fatalf("teleop %+v events %+v", rec.Teleop, rec.Events)
	}
	if err := r.Close(); err != ErrClosed {
		t.Fatalf("second Close: %v", err)
	}
}

// A writer that falls behind costs records, never the producer's time:
// with the only buffer and the only queue place taken, the next
// observation and the next setpoint are dropped and counted.
func TestDropsWhenBehind(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	r, err := New(Conf{Path: filepath.Join(t.TempDir(), "x.mcap"), Queue: 1, Buffers: 1,
		Encode: func(img efferent.Image, f string, q int) ([]byte, error) {
			started <- struct{}{}
			<-release
			return encodeImage(img, f, q)
		}})
	if err != nil {
		t.Fatal(err)
	}
	obs := efferent.Observation{Images: map[string]efferent.Image{"cam": testImage(4, 4, 0)}}
	r.Observation(&obs) // the writer takes it and blocks in Encode
	<-started
	r.Observation(&obs) // no free buffer
	sp := efferent.Setpoint{Values: []float64{1}}
	r.Setpoint(&sp, efferent.Verdict{}) // fills the queue
	r.Setpoint(&sp, efferent.Verdict{}) // queue full
	if st := r.Stats(); st.Dropped != 2 {
		t.Fatalf("dropped %d, want 2", st.Dropped)
	}
	close(release)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if st := r.Stats(); st.Written != 3 { // frame + observation + one setpoint
		t.Fatalf("written %d, want 3", st.Written)
	}
}

func TestRecordAllocatesNothing(t *testing.T) {
	r, err := New(Conf{Path: filepath.Join(t.TempDir(), "a.mcap")})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sp := efferent.Setpoint{Values: make([]float64, 7)}
	if a := testing.AllocsPerRun(1000, func() { r.Setpoint(&sp, efferent.Verdict{}) }); a != 0 {
		t.Fatalf("%v allocations per Setpoint", a)
	}
}

func TestBadFiles(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string][]byte{"empty": nil, "text": []byte("not an mcap file"), "magic only": []byte("\x89MCAP0\r\n")} {
		p := filepath.Join(dir, "f")
		os.WriteFile(p, data, 0o644)
		if _, err := ReadFile(p); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := ReadFile(filepath.Join(dir, "none.mcap")); err == nil {
		t.Error("missing file: no error")
	}
	if _, err := New(Conf{Path: filepath.Join(dir, "x"), ImageFormat: "bmp"}); err == nil {
		t.Error("bmp: no error")
	}
}

// FuzzRead: no file makes Read panic or run away.
func FuzzRead(f *testing.F) {
	path := filepath.Join(f.TempDir(), "seed.mcap")
	r, _ := New(Conf{Path: path})
	sp := efferent.Setpoint{Values: []float64{1, 2}}
	r.Setpoint(&sp, efferent.Verdict{})
	obs := efferent.Observation{Images: map[string]efferent.Image{"c": testImage(4, 4, 0)}}
	r.Observation(&obs)
	r.Close()
	seed, _ := os.ReadFile(path)
	f.Add(seed)
	f.Add([]byte("\x89MCAP0\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		read(bytes.NewReader(data), 1<<20, 4<<20)
	})
}
