package viewer

import (
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/efferent/efferent"
)

// TestStream: what the control loop feeds reaches a browser over a real
// websocket: the hello, the camera frame as a JPEG of the right size, the
// chunk (NaN as null), every tick with its values and verdict change,
// the status and an event.
func TestStream(t *testing.T) {
	v, srv := start(t, Conf{Loopback: true, Title: "test run"})
	c, _, err := dial(t, srv, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	hello := waitFor(t, c, 5*time.Second, "hello", func(m msg) bool { return m.Type == "hello" })
	if hello.JSON["title"] != "test run" || hello.JSON["auth"] != "loopback" {
		t.Fatalf("hello: %s", hello.Raw)
	}

	obs := &efferent.Observation{Images: map[string]efferent.Image{"observation/image": testImage(224, 224, false)}, Prompt: "stack the blocks", State: []float64{1, 2}}
	v.Observation(obs)
	frame := waitFor(t, c, 5*time.Second, "frame", func(m msg) bool { return m.Type == "frame" })
	if w, h := decodeJPEG(t, frame.JPEG); w != 224 || h != 224 || frame.Frame.Camera != "observation/image" || frame.Frame.Seq != 1 {
		t.Fatalf("frame %+v, %d×%d", frame.Frame, w, h)
	}

	ch := &efferent.Chunk{H: 2, D: 3, Actions: []float64{1, 2, 3, 4, math.NaN(), 6}, Seq: 9, Model: "m", StepPeriod: 50 * time.Millisecond, ObsTime: time.Unix(100, 0)}
	v.Chunk(ch, 1500*time.Microsecond)
	chunk := waitFor(t, c, 5*time.Second, "chunk", func(m msg) bool { return m.Type == "chunk" })
	if string(chunk.Raw) != `{"type":"chunk","n":1,"seq":9,"model":"m","h":2,"d":3,"obs_t":100000.000,"step_ms":50,"infer_ms":1.5,"actions":[[1,2,3],[4,null,6]]}` {
		t.Fatalf("chunk: %s", chunk.Raw)
	}

	t0 := time.Unix(1000, 0)
	for i := range 10 {
		sp := &efferent.Setpoint{Time: t0.Add(time.Duration(i) * 50 * time.Millisecond), Values: []float64{float64(i), -1}, Seq: 9}
		vd := efferent.Verdict{Kind: efferent.Allowed, Dim: -1}
		if i >= 7 {
			sp.Hold, vd = true, efferent.Verdict{Kind: efferent.Refused, Reason: "estop", Dim: -1}
		}
		v.Tick(sp, vd)
	}
	var got []float64
	var changes []any
	for len(got) < 10 {
		m := waitFor(t, c, 5*time.Second, "ticks", func(m msg) bool { return m.Type == "ticks" })
		for _, row := range m.JSON["v"].([]any) {
			got = append(got, row.([]any)[0].(float64))
		}
		changes = append(changes, m.JSON["changes"].([]any)...)
	}
	for i, x := range got {
		if x != float64(i) {
			t.Fatalf("tick values %v", got)
		}
	}
	if len(changes) != 2 || changes[1].(map[string]any)["reason"] != "estop" || changes[1].(map[string]any)["t"] != 1000350.0 {
		t.Fatalf("verdict changes %v, want allowed then refused estop at 1000350 ms", changes)
	}

	st := waitFor(t, c, 5*time.Second, "status", func(m msg) bool { return m.Type == "status" && m.JSON["ticks"] == 10.0 })
	if st.JSON["instruction"] != "stack the blocks" || st.JSON["verdicts"].(map[string]any)["refused"] != 3.0 {
		t.Fatalf("status: %s", st.Raw)
	}
	ok := true
	v.Event(Event{Kind: EventEpisodeEnd, Episode: 2, Success: &ok, Steps: 120})
	ev := waitFor(t, c, 5*time.Second, "event", func(m msg) bool { return m.Type == "event" })
	if ev.JSON["kind"] != "episode_end" || ev.JSON["success"] != true || ev.JSON["steps"] != 120.0 {
		t.Fatalf("event: %s", ev.Raw)
	}

	// A browser connecting now is shown the current state at once.
	late, _, err := dial(t, srv, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for !(seen["hello"] && seen["frame"] && seen["chunk"] && seen["status"] && seen["event"]) {
		m := waitFor(t, late, 5*time.Second, "the current state", func(msg) bool { return true })
		seen[m.Type] = true
	}
}

// TestTickDropsCounted: when the control loop outruns the hub by more than
// TickBuffer ticks, ticks are dropped and counted, never waited for; what
// is not dropped arrives in order.
func TestTickDropsCounted(t *testing.T) {
	v, srv := start(t, Conf{Loopback: true, TickBuffer: 16, MaxTicksPerMessage: 1000})
	c, _, err := dial(t, srv, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, c, 5*time.Second, "hello", func(m msg) bool { return m.Type == "hello" })
	const n = 5000
	sp := &efferent.Setpoint{Time: time.Unix(0, 0), Values: []float64{0}}
	for i := range n {
		sp.Values[0] = float64(i)
		v.Tick(sp, efferent.Verdict{Dim: -1})
	}
	st := v.Stats()
	if st.Ticks != n || st.TicksDropped == 0 || st.TicksDropped >= n {
		t.Fatalf("%d ticks, %d dropped: want %d ticks, some (not all) dropped", st.Ticks, st.TicksDropped, n)
	}
	var got int
	last := -1.0
	for got < int(n-st.TicksDropped) {
		m := waitFor(t, c, 5*time.Second, "ticks", func(m msg) bool { return m.Type == "ticks" })
		for _, row := range m.JSON["v"].([]any) {
			x := row.([]any)[0].(float64)
			if x <= last {
				t.Fatalf("tick %v after %v", x, last)
			}
			last = x
			got++
		}
	}
	t.Logf("%d ticks pushed in a burst, %d dropped (ring of 16), %d delivered", n, st.TicksDropped, got)
}

// TestSlowBrowser: a browser that stops reading loses frames, counted,
// and never slows the hub: another browser keeps receiving frames while
// the slow one is stuck. One that takes nothing for WriteTimeout is
// disconnected.
func TestSlowBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("streams large frames for a few seconds")
	}
	v, srv := start(t, Conf{Loopback: true, CameraFPS: 60, SendHz: 60, ClientQueue: 8, WriteTimeout: time.Minute})
	slow, _, err := dial(t, srv, "", 4096)
	if err != nil {
		t.Fatal(err)
	}
	fast, _, err := dial(t, srv, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	frames := make(chan int, 1024)
	go func() {
		defer close(frames)
		for {
			m, err := read(fast, time.Now().Add(time.Minute))
			if err != nil {
				return
			}
			if m.Type == "frame" {
				frames <- len(m.JPEG)
			}
		}
	}()
	// The producer: a 640×480 noise camera (≈ 300 kB JPEGs) at 100 Hz.
	stop := make(chan struct{})
	defer close(stop)
	var worst atomic.Int64 // ns: the slowest Observation call
	done := make(chan struct{})
	go func() {
		defer close(done)
		obs := &efferent.Observation{Images: map[string]efferent.Image{"cam": testImage(480, 640, true)}}
		tk := time.NewTicker(10 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				t0 := time.Now()
				v.Observation(obs)
				if d := int64(time.Since(t0)); d > worst.Load() {
					worst.Store(d)
				}
			}
		}
	}()
	slowStats := func() (ClientStats, bool) {
		for _, c := range v.Stats().Clients {
			if c.ID == 1 {
				return c, true
			}
		}
		return ClientStats{}, false
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if s, _ := slowStats(); s.FramesDropped > 0 {
			break
		}
		if time.Now().After(deadline) {
			s, _ := slowStats()
			t.Fatalf("the slow browser lost no frame in 30 s: %+v", s)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// From now on the slow browser is stuck; the fast one must still get
	// frames.
	// Frames the fast browser got before do not count.
	for len(frames) > 0 {
		<-frames
	}
	got, bytes := 0, 0
	stalled, sentBefore := time.Now(), v.Stats().FramesSent
	deadline = stalled.Add(20 * time.Second)
	for got < 40 {
		select {
		case n, ok := <-frames:
			if !ok {
				t.Fatal("the fast browser's connection ended")
			}
			got, bytes = got+1, bytes+n
		case <-time.After(time.Until(deadline)):
			t.Fatalf("the fast browser got %d frames in 20 s while the slow one was stuck", got)
		}
	}
	s, connected := slowStats()
	if !connected {
		t.Fatal("the slow browser was disconnected before WriteTimeout")
	}
	var fastStats ClientStats
	for _, c := range v.Stats().Clients {
		if c.ID == 2 {
			fastStats = c
		}
	}
	t.Logf("slow browser: sent %d, dropped %d (frames %d); fast browser: %d frames (%d kB each, %.0f/s) after the slow one stalled, sent %d, dropped %d; %d frames encoded meanwhile; slowest Observation call %v",
		s.Sent, s.Dropped, s.FramesDropped, got, bytes/got/1000, float64(got)/time.Since(stalled).Seconds(), fastStats.Sent, fastStats.Dropped,
		v.Stats().FramesSent-sentBefore, time.Duration(worst.Load()))
	_ = slow
}

// TestStuckBrowserDisconnected: WriteTimeout ends a browser that takes
// nothing.
func TestStuckBrowserDisconnected(t *testing.T) {
	if testing.Short() {
		t.Skip("streams large frames for a few seconds")
	}
	v, srv := start(t, Conf{Loopback: true, CameraFPS: 60, SendHz: 60, WriteTimeout: 300 * time.Millisecond})
	if _, _, err := dial(t, srv, "", 4096); err != nil {
		t.Fatal(err)
	}
	obs := &efferent.Observation{Images: map[string]efferent.Image{"cam": testImage(480, 640, true)}}
	deadline := time.Now().Add(30 * time.Second)
	for len(v.Stats().Clients) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("a browser that reads nothing is still connected after 30 s: %+v", v.Stats().Clients)
		}
		v.Observation(obs)
		time.Sleep(10 * time.Millisecond)
	}
}

// TestProducerAllocatesNothing: the control loop's calls allocate nothing
// once a camera has been seen (measured on a closed viewer, whose hub
// allocates nothing meanwhile; the calls still do all their work).
func TestProducerAllocatesNothing(t *testing.T) {
	v, err := New(Conf{Loopback: true, CameraFPS: 120, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	v.frameEvery = 0 // copy every frame
	obs := &efferent.Observation{Images: map[string]efferent.Image{"a": testImage(224, 224, false), "b": testImage(224, 224, false)}, State: make([]float64, 8), Prompt: "x"}
	v.Observation(obs) // claims the cameras' slots
	_ = v.Close()
	sp := &efferent.Setpoint{Time: time.Now(), Values: make([]float64, 7)}
	ch := &efferent.Chunk{H: 5, D: 7, Actions: make([]float64, 35)}
	for name, f := range map[string]func(){
		"Tick":        func() { v.Tick(sp, efferent.Verdict{Kind: efferent.Held, Reason: "estop", Dim: -1}) },
		"Observation": func() { v.Observation(obs) },
		"Chunk":       func() { v.Chunk(ch, time.Millisecond) },
	} {
		if a := testing.AllocsPerRun(200, f); a != 0 {
			t.Errorf("%s: %v allocations per call", name, a)
		}
	}
	if st := v.Stats(); st.FramesIn < 400 {
		t.Fatalf("%d frames copied: the calls did not do their work", st.FramesIn)
	}
}

// BenchmarkTick is the control loop's cost per tick (7 dims) of showing
// it: a copy into the ring (drained every 1024 ticks, as the hub would).
func BenchmarkTick(b *testing.B) {
	v, err := New(Conf{Loopback: true, Log: quiet})
	if err != nil {
		b.Fatal(err)
	}
	_ = v.Close() // the benchmark drains the ring itself
	sp := &efferent.Setpoint{Time: time.Now(), Values: make([]float64, 7)}
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		v.Tick(sp, efferent.Verdict{Dim: -1})
		if n++; n%1024 == 0 {
			v.ring.drain(func(int, int, *tickEntry) {})
		}
	}
	if d := v.Stats().TicksDropped; d > 0 {
		b.Fatalf("%d ticks dropped", d)
	}
}

// BenchmarkHubTicks is the hub's cost per tick: draining the ring and
// encoding the ticks message (50 ticks, one hub period at 1 kHz), with no
// browser connected.
func BenchmarkHubTicks(b *testing.B) {
	v, err := New(Conf{Loopback: true, Log: quiet})
	if err != nil {
		b.Fatal(err)
	}
	_ = v.Close()
	sp := &efferent.Setpoint{Time: time.Now(), Values: []float64{0.1, -0.2, 0.3, 0, 0, 0.05, -1}}
	h := &hubState{}
	for b.Loop() {
		for range 50 {
			v.Tick(sp, efferent.Verdict{Dim: -1})
		}
		v.sendTicks(h)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(50*b.N), "ns/tick")
}

// BenchmarkObservationCopy is the cost of handing two 224×224 frames to
// the viewer when they are copied (at most CameraFPS times a second; the
// other calls return after a clock read).
func BenchmarkObservationCopy(b *testing.B) {
	v, err := New(Conf{Loopback: true, Log: quiet})
	if err != nil {
		b.Fatal(err)
	}
	_ = v.Close()
	v.frameEvery = 0
	obs := &efferent.Observation{Images: map[string]efferent.Image{"a": testImage(224, 224, false), "b": testImage(224, 224, false)}}
	b.ReportAllocs()
	for b.Loop() {
		v.Observation(obs)
	}
}

// BenchmarkEncodeFrame is the hub's JPEG encoding of one 224×224 frame.
func BenchmarkEncodeFrame(b *testing.B) {
	im := testImage(224, 224, false)
	for b.Loop() {
		if _, err := EncodeJPEG(im, 75); err != nil {
			b.Fatal(err)
		}
	}
}

// TestLateBrowserGetsState: a browser that connects late is sent the
// current state whole — the last episodes, the latest event of each kind,
// frame, chunk and status — even when that is more than its queue holds.
func TestLateBrowserGetsState(t *testing.T) {
	v, srv := start(t, Conf{Loopback: true, ClientQueue: 4})
	early, _, err := dial(t, srv, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	v.Premise("stack the blocks", "ok", "")
	for i := range maxHistory + 5 {
		ok := true
		v.Event(Event{Kind: EventEpisodeEnd, Episode: i + 1, Success: &ok})
	}
	v.Observation(&efferent.Observation{Images: map[string]efferent.Image{"a": testImage(32, 32, false), "b": testImage(16, 16, false)}})
	v.Chunk(&efferent.Chunk{H: 1, D: 1, Actions: []float64{1}}, 0)
	// The early browser has seen it all go by: the hub is done with it.
	frames := 0
	for frames < 2 {
		if m := waitFor(t, early, 5*time.Second, "frames", func(m msg) bool { return m.Type == "frame" || m.Type == "chunk" }); m.Type == "frame" {
			frames++
		}
	}
	waitFor(t, early, 5*time.Second, "status", func(m msg) bool { return m.Type == "status" })

	late, _, err := dial(t, srv, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	var episodes []float64
	for counts["frame"] < 2 || counts["chunk"] < 1 {
		m := waitFor(t, late, 5*time.Second, "the current state", func(msg) bool { return true })
		counts[m.Type]++
		if m.Type == "event" && m.JSON["kind"] == EventEpisodeEnd {
			episodes = append(episodes, m.JSON["episode"].(float64))
		}
	}
	if len(episodes) != maxHistory || episodes[0] != 6 || episodes[maxHistory-1] != maxHistory+5 || counts["event"] != maxHistory+1 {
		t.Fatalf("late browser: episodes %v, %v", episodes, counts)
	}
}

// TestStatusNamesStaleInput: the status carries the robot's inputs with
// their ages, a stale one marked, as Conf.Inputs reports them.
func TestStatusNamesStaleInput(t *testing.T) {
	var stale atomic.Bool
	_, srv := start(t, Conf{Loopback: true, Inputs: func() []Input {
		return []Input{
			{Name: "robot state (/franka_state_controller/franka_states)", Age: 3 * time.Millisecond, MaxAge: 50 * time.Millisecond},
			{Name: "camera observation/image (/cam)", Age: 420 * time.Millisecond, MaxAge: 150 * time.Millisecond, Stale: stale.Load()},
		}
	}})
	c, _, err := dial(t, srv, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	stale.Store(true)
	st := waitFor(t, c, 5*time.Second, "status with a stale input", func(m msg) bool {
		if m.Type != "status" {
			return false
		}
		in, _ := m.JSON["inputs"].([]any)
		return len(in) == 2 && in[1].(map[string]any)["stale"] == true
	})
	cam := st.JSON["inputs"].([]any)[1].(map[string]any)
	if cam["name"] != "camera observation/image (/cam)" || cam["age_ms"] != 420.0 || cam["max_age_ms"] != 150.0 {
		t.Fatalf("inputs: %s", st.Raw)
	}
}
