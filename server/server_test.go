package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/camera/cv"
	"github.com/efferent/efferent/internal/golden"
	"github.com/efferent/efferent/models"
	"github.com/efferent/efferent/policy"
	"github.com/efferent/efferent/policy/ort"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// start runs a server on 127.0.0.1:0 and stops it when the test ends,
// checking that Close returns.
func start(t *testing.T, conf Conf, pol policy.Policy) *Server {
	t.Helper()
	conf.Addr = "127.0.0.1:0"
	s, err := New(conf, pol, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return s
}

// dial connects and reads the metadata frame.
func dial(t *testing.T, s *Server) (*websocket.Conn, []byte) {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial("ws://"+s.Addr().String()+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	typ, meta, err := c.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	if typ != websocket.BinaryMessage {
		t.Fatalf("metadata frame type %d, want binary", typ)
	}
	return c, meta
}

func fixturePolicy(t *testing.T) (policy.Policy, *policy.Manifest, *golden.File) {
	return embeddedPolicy(t, "efferent-fixture")
}

// embeddedPolicy opens an embedded model under ONNX Runtime, resizing
// other image sizes as efferent serve does.
func embeddedPolicy(t *testing.T, name string) (policy.Policy, *policy.Manifest, *golden.File) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration: needs ONNX Runtime (make setup)")
	}
	fsys, err := models.Embedded(name)
	if err != nil {
		t.Fatal(err)
	}
	m, err := policy.LoadManifest(fsys, "embedded:"+name)
	if err != nil {
		t.Fatal(err)
	}
	g, err := golden.Load(fsys, m.Golden)
	if err != nil {
		t.Fatal(err)
	}
	return resizingPolicy(t, m), m, g
}

// resizingPolicy opens m under ONNX Runtime on one thread, wrapped to
// resize other image sizes with OpenCV.
func resizingPolicy(t *testing.T, m *policy.Manifest) policy.Policy {
	t.Helper()
	vla, err := ort.Open(m, ort.Conf{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	spec := m.CameraSpec()
	return policy.Resizing(vla, func(string) (policy.Resizer, error) { return cv.New(spec) })
}

// TestOpenpiProtocol drives the server with the bundled model over a real
// websocket, as openpi's LIBERO client would, and checks the reply against
// PyTorch's golden outputs.
func TestOpenpiProtocol(t *testing.T) {
	pol, m, g := fixturePolicy(t)
	s := start(t, Conf{}, pol)
	c, meta := dial(t, s)
	if len(meta) != 1 || meta[0] != 0x80 {
		t.Fatalf("metadata frame % x, want the empty map 80 (openpi's LIBERO metadata)", meta)
	}
	keys := pol.Metadata().ImageKeys
	for i, gc := range g.Cases {
		obs, err := gc.Observation(m.Obs.ImageHeight, m.Obs.ImageWidth)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.WriteMessage(websocket.BinaryMessage, libero(obs, keys)); err != nil {
			t.Fatal(err)
		}
		typ, data, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if typ != websocket.BinaryMessage {
			t.Fatalf("case %d: reply type %d (%q), want binary", i, typ, data)
		}
		r, err := parseReply(data)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if len(r.shape) != 2 || r.shape[0] != m.Action.Horizon || r.shape[1] != m.Action.Dim {
			t.Fatalf("case %d: actions shape %v, want [%d %d]", i, r.shape, m.Action.Horizon, m.Action.Dim)
		}
		want := gc.FlatActions()
		for j := range want {
			if d := math.Abs(r.actions[j] - want[j]); d > g.Tolerance.ActionsAbs {
				t.Fatalf("case %d: actions[%d] = %v, PyTorch %v (|d| %g > %g)", i, j, r.actions[j], want[j], d, g.Tolerance.ActionsAbs)
			}
		}
		if v, ok := r.policyTiming["infer_ms"].(float64); !ok || v <= 0 {
			t.Fatalf("case %d: policy_timing.infer_ms = %v", i, r.policyTiming["infer_ms"])
		}
		if v, ok := r.serverTiming["infer_ms"].(float64); !ok || v <= 0 {
			t.Fatalf("case %d: server_timing.infer_ms = %v", i, r.serverTiming["infer_ms"])
		}
		// openpi omits prev_total_ms in the first reply of a connection.
		_, hasPrev := r.serverTiming["prev_total_ms"]
		if hasPrev != (i > 0) {
			t.Fatalf("case %d: prev_total_ms present = %v, want %v", i, hasPrev, i > 0)
		}
	}
}

// TestResizesOtherImageSizes: LIBERO renders 256×256; a client that skips
// its own resize still gets an answer of the right shape.
func TestResizesOtherImageSizes(t *testing.T) {
	pol, m, g := fixturePolicy(t)
	s := start(t, Conf{}, pol)
	c, _ := dial(t, s)
	obs, _ := g.Cases[0].Observation(256, 256)
	if err := c.WriteMessage(websocket.BinaryMessage, libero(obs, pol.Metadata().ImageKeys)); err != nil {
		t.Fatal(err)
	}
	_, data, err := c.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	r, err := parseReply(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.actions) != m.Action.Horizon*m.Action.Dim {
		t.Fatalf("%d actions", len(r.actions))
	}
}

// expectError reads the text frame and the close frame that report an
// error, as openpi does.
func expectError(t *testing.T, c *websocket.Conn, code int, contains string) {
	t.Helper()
	typ, data, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("want an error text frame, got %v", err)
	}
	if typ != websocket.TextMessage || !strings.Contains(string(data), contains) {
		t.Fatalf("frame type %d %q, want a text frame containing %q", typ, data, contains)
	}
	_, _, err = c.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != code {
		t.Fatalf("after the error frame: %v, want close %d", err, code)
	}
}

func TestBadRequests(t *testing.T) {
	pol, m, g := fixturePolicy(t)
	s := start(t, Conf{MaxFrameBytes: 1 << 20}, pol)
	keys := pol.Metadata().ImageKeys
	good, _ := g.Cases[0].Observation(m.Obs.ImageHeight, m.Obs.ImageWidth)
	short := good
	short.State = good.State[:7]
	nan := good
	nan.State = append([]float64(nil), good.State...)
	nan.State[2] = math.NaN()
	noPrompt := good
	noPrompt.Prompt = ""
	cases := []struct {
		name     string
		typ      int
		frame    []byte
		code     int
		contains string
	}{
		{"text frame", websocket.TextMessage, []byte("hello"), websocket.ClosePolicyViolation, "got a text frame"},
		// A bad observation is the client's error: 1008 (policy violation).
		{"garbage", websocket.BinaryMessage, []byte{0xc1, 0x00}, websocket.ClosePolicyViolation, "bad observation"},
		{"short state", websocket.BinaryMessage, libero(short, keys), websocket.ClosePolicyViolation, "observation/state"},
		{"NaN state", websocket.BinaryMessage, libero(nan, keys), websocket.ClosePolicyViolation, "observation/state"},
		{"missing prompt", websocket.BinaryMessage, libero(noPrompt, keys), websocket.ClosePolicyViolation, "prompt"},
		{"missing camera", websocket.BinaryMessage, libero(good, keys[:1]), websocket.ClosePolicyViolation, keys[1]},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := dial(t, s)
			if err := c.WriteMessage(tc.typ, tc.frame); err != nil {
				t.Fatal(err)
			}
			expectError(t, c, tc.code, tc.contains)
		})
	}
	t.Run("too large", func(t *testing.T) {
		c, _ := dial(t, s)
		if err := c.WriteMessage(websocket.BinaryMessage, make([]byte, 2<<20)); err != nil {
			t.Fatal(err)
		}
		_, _, err := c.ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseMessageTooBig {
			t.Fatalf("err = %v, want close 1009", err)
		}
	})
	// After all that, a good client is still served.
	c, _ := dial(t, s)
	if err := c.WriteMessage(websocket.BinaryMessage, libero(good, keys)); err != nil {
		t.Fatal(err)
	}
	if typ, _, err := c.ReadMessage(); err != nil || typ != websocket.BinaryMessage {
		t.Fatalf("good request after bad ones: type %d err %v", typ, err)
	}
}

func TestHealthzAndMetrics(t *testing.T) {
	s := start(t, Conf{SkipWarmup: true}, newGate(fakeMeta()))
	res, err := http.Get("http://" + s.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(body) != "OK\n" {
		t.Fatalf("healthz: %d %q", res.StatusCode, body)
	}
	res, err = http.Get("http://" + s.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{"efferent_request_stage_seconds", "efferent_queue_depth", "efferent_connections"} {
		if !strings.Contains(string(body), want) {
			t.Fatalf("metrics lack %s", want)
		}
	}
}

// gate is a unit-test seam: a policy whose Infer blocks until released,
// so queueing and busy behaviour can be tested without timing guesses.
type gate struct {
	meta    policy.Metadata
	entered chan struct{}
	release chan struct{}
	mu      sync.Mutex
	calls   int
}

func newGate(md policy.Metadata) *gate {
	return &gate{meta: md, entered: make(chan struct{}, 16), release: make(chan struct{})}
}

func fakeMeta() policy.Metadata {
	return policy.Metadata{Name: "gate", ImageKeys: []string{"observation/image"}, ImageHeight: 2, ImageWidth: 2,
		StateKey: "observation/state", StateDim: 2, PromptKey: "prompt", MaxPromptBytes: 64, Horizon: 2, Dim: 3}
}

func (g *gate) Infer(ctx context.Context, obs *efferent.Observation, out *efferent.Chunk) error {
	g.mu.Lock()
	g.calls++
	g.mu.Unlock()
	g.entered <- struct{}{}
	select {
	case <-g.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	out.H, out.D = 2, 3
	out.Actions = append(out.Actions[:0], obs.State[0], 1, 2, 3, 4, 5)
	return nil
}
func (g *gate) Metadata() policy.Metadata { return g.meta }
func (g *gate) Close() error              { return nil }

func tinyObs(x float64) efferent.Observation {
	return efferent.Observation{
		Images: map[string]efferent.Image{"observation/image": {H: 2, W: 2, C: 3, Pix: make([]byte, 12)}},
		State:  []float64{x, 0},
	}
}

// TestBusy: with a queue of one, a third concurrent request is refused at
// once with "busy" and close 1013, while the first two are answered.
func TestBusy(t *testing.T) {
	g := newGate(fakeMeta())
	s := start(t, Conf{QueueSize: 1, SkipWarmup: true}, g)
	keys := []string{"observation/image"}
	a, _ := dial(t, s)
	b, _ := dial(t, s)
	c, _ := dial(t, s)
	if err := a.WriteMessage(websocket.BinaryMessage, libero(tinyObs(1), keys)); err != nil {
		t.Fatal(err)
	}
	<-g.entered // a is inferring; the queue is empty
	if err := b.WriteMessage(websocket.BinaryMessage, libero(tinyObs(2), keys)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return len(s.jobs) == 1 }) // b is queued
	if err := c.WriteMessage(websocket.BinaryMessage, libero(tinyObs(3), keys)); err != nil {
		t.Fatal(err)
	}
	expectError(t, c, websocket.CloseTryAgainLater, "busy")
	close(g.release)
	for i, conn := range []*websocket.Conn{a, b} {
		_, data, err := conn.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		r, err := parseReply(data)
		if err != nil {
			t.Fatal(err)
		}
		if r.actions[0] != float64(i+1) {
			t.Fatalf("client %d got the answer for state %v", i+1, r.actions[0])
		}
	}
}

// waitFor polls a condition that another goroutine will make true; it
// fails the test instead of sleeping for a guessed duration.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 5s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestCloseWithPendingRequest: closing the server while a request is in
// flight ends the connection cleanly and returns.
func TestCloseWithPendingRequest(t *testing.T) {
	g := newGate(fakeMeta())
	conf := Conf{Addr: "127.0.0.1:0", SkipWarmup: true}
	s, err := New(conf, g, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }()
	c, _ := dial(t, s)
	if err := c.WriteMessage(websocket.BinaryMessage, libero(tinyObs(1), []string{"observation/image"})); err != nil {
		t.Fatal(err)
	}
	<-g.entered
	s.Close()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if _, _, err := c.ReadMessage(); err == nil {
		t.Fatal("connection still open after Close")
	}
}

// A job that reaches the queue after the worker's final drain (a request
// racing shutdown) must be answered ErrClosed, not waited on forever.
func TestJobAfterWorkerExit(t *testing.T) {
	s, err := New(Conf{Addr: "127.0.0.1:0", SkipWarmup: true}, newGate(fakeMeta()), quietLog())
	if err != nil {
		t.Fatal(err)
	}
	s.cancel()
	<-s.workerDone
	if err := s.submit(&job{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("submit after shutdown: %v, want ErrClosed", err)
	}
	j := &job{done: make(chan struct{})}
	s.jobs <- j // the race submit's check cannot close: enqueued after the drain
	s.await(j, nil)
	if !errors.Is(j.err, ErrClosed) {
		t.Fatalf("job after the worker exited: err %v, want ErrClosed", j.err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
