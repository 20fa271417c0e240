package remote_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/api"
	"github.com/efferent/efferent/policy"
	"github.com/efferent/efferent/policy/remote"
	"github.com/efferent/efferent/server"
)

// fake is the seam behind the real server: it records what the server
// decoded and answers with a fixed chunk, an error, or by blocking.
type fake struct {
	chunk   efferent.Chunk
	err     error
	block   bool          // wait for the server's ctx instead of answering
	started chan struct{} // receives once per Infer, if non-nil
	got     chan efferent.Observation
}

var liberoMeta = policy.Metadata{
	Name:      "fake",
	ImageKeys: []string{"observation/image", "observation/wrist_image"},
	StateKey:  "observation/state", StateDim: 8,
	PromptKey: "prompt", ImageHeight: 224, ImageWidth: 224,
	Horizon: 10, Dim: 7, StepPeriod: 50 * time.Millisecond,
}

func (f *fake) Metadata() policy.Metadata { return liberoMeta }
func (f *fake) Close() error              { return nil }

func (f *fake) Infer(ctx context.Context, obs *efferent.Observation, out *efferent.Chunk) error {
	if f.started != nil {
		f.started <- struct{}{}
	}
	if f.got != nil {
		// The server's observation aliases its frame buffer: copy.
		cp := efferent.Observation{Images: map[string]efferent.Image{}, Prompt: obs.Prompt,
			State: append([]float64(nil), obs.State...)}
		for k, im := range obs.Images {
			im.Pix = append([]byte(nil), im.Pix...)
			cp.Images[k] = im
		}
		f.got <- cp
	}
	if f.block {
		<-ctx.Done()
		return ctx.Err()
	}
	if f.err != nil {
		return f.err
	}
	out.Actions = append(out.Actions[:0], f.chunk.Actions...)
	out.H, out.D = f.chunk.H, f.chunk.D
	return nil
}

// start runs the real efferent server on 127.0.0.1:0 in front of pol.
func start(t *testing.T, conf server.Conf, pol policy.Policy) (*server.Server, string) {
	t.Helper()
	conf.Addr = "127.0.0.1:0"
	conf.SkipWarmup = true // the fakes count and inspect every Infer call
	s, err := server.New(conf, pol, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; err != nil {
			t.Errorf("server Run: %v", err)
		}
	})
	return s, "ws://" + s.Addr().String()
}

func dial(t *testing.T, url string, conf remote.Conf) *remote.Policy {
	t.Helper()
	p, err := remote.Dial(context.Background(), url, conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func testObs(rng *rand.Rand) efferent.Observation {
	img := func(h, w int) efferent.Image {
		pix := make([]byte, h*w*3)
		for i := range pix {
			pix[i] = byte(rng.UintN(256))
		}
		return efferent.Image{H: h, W: w, C: 3, Pix: pix}
	}
	return efferent.Observation{
		Images: map[string]efferent.Image{
			"observation/image": img(224, 224),
			// Not the model's size: the client sends what it is given.
			"observation/wrist_image": img(7, 5),
		},
		State:  []float64{math.Pi, -0.0, 1e-300, -1e300, math.SmallestNonzeroFloat64, 0.1, -2.5, 1},
		Prompt: "put the bowl on the plate — é ✓",
		Time:   time.Unix(1700000000, 123456789),
		Seq:    42,
	}
}

func testChunk(h, d int) efferent.Chunk {
	c := efferent.Chunk{H: h, D: d, Actions: make([]float64, h*d)}
	special := []float64{math.Pi, -0.0, 1e-310, -math.MaxFloat64, math.Nextafter(1, 2), -1}
	for i := range c.Actions {
		c.Actions[i] = special[i%len(special)] * float64(i+1)
	}
	return c
}

func sameBits(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			return false
		}
	}
	return true
}

func TestRoundTrip(t *testing.T) {
	f := &fake{chunk: testChunk(10, 7), got: make(chan efferent.Observation, 1)}
	_, url := start(t, server.Conf{Metadata: map[string]any{"reset_pose": []any{0.0, -1.5, 1.5}}}, f)
	p := dial(t, strings.TrimPrefix(url, "ws://"), remote.Conf{}) // no scheme: ws:// is assumed
	if p.URL() != url {
		t.Fatalf("URL %q, want %q", p.URL(), url)
	}
	meta := p.ServerMetadata()
	rp, ok := meta.Get("reset_pose")
	if meta.Kind != api.Map || !ok || rp.Kind != api.List || len(rp.List) != 3 || rp.List[1].Float != -1.5 {
		t.Fatalf("server metadata %+v, want reset_pose [0 -1.5 1.5]", meta)
	}
	if md := p.Metadata(); md.Horizon != 0 || md.Dim != 0 || md.StateDim != 8 || md.StepPeriod != 50*time.Millisecond ||
		len(md.ImageKeys) != 2 || md.ImageHeight != 224 || md.Name != url {
		t.Fatalf("metadata before the first reply: %+v", md)
	}

	rng := rand.New(rand.NewPCG(1, 2))
	var out efferent.Chunk
	for call := range 3 {
		obs := testObs(rng)
		if err := p.Infer(context.Background(), &obs, &out); err != nil {
			t.Fatalf("call %d: %v", call, err)
		}
		got := <-f.got
		for k, im := range obs.Images {
			g := got.Images[k]
			if g.H != im.H || g.W != im.W || g.C != 3 || string(g.Pix) != string(im.Pix) {
				t.Fatalf("call %d: image %q arrived as %dx%dx%d, different pixels", call, k, g.H, g.W, g.C)
			}
		}
		if !sameBits(got.State, obs.State) {
			t.Fatalf("call %d: state arrived as %v, sent %v", call, got.State, obs.State)
		}
		if got.Prompt != obs.Prompt {
			t.Fatalf("call %d: prompt %q, sent %q", call, got.Prompt, obs.Prompt)
		}
		if out.H != 10 || out.D != 7 || !sameBits(out.Actions, f.chunk.Actions) {
			t.Fatalf("call %d: chunk %dx%d %v, want 10x7 %v", call, out.H, out.D, out.Actions, f.chunk.Actions)
		}
		if !out.ObsTime.Equal(obs.Time) || out.Seq != 42 || out.Model != url || out.StepPeriod != 50*time.Millisecond {
			t.Fatalf("call %d: chunk identity %v %d %q %v", call, out.ObsTime, out.Seq, out.Model, out.StepPeriod)
		}
	}
	if md := p.Metadata(); md.Horizon != 10 || md.Dim != 7 {
		t.Fatalf("metadata after replies: horizon %d dim %d, want 10 7", md.Horizon, md.Dim)
	}
}

func TestEmptyMetadataIsLiberos(t *testing.T) {
	_, url := start(t, server.Conf{}, &fake{chunk: testChunk(1, 1)})
	p := dial(t, url, remote.Conf{})
	if m := p.ServerMetadata(); m.Kind != api.Map || len(m.Map) != 0 {
		t.Fatalf("server metadata %+v, want an empty map", m)
	}
}

func TestServerError(t *testing.T) {
	_, url := start(t, server.Conf{}, &fake{err: errors.New("the model caught fire")})
	p := dial(t, url, remote.Conf{})
	obs := testObs(rand.New(rand.NewPCG(3, 4)))
	var out efferent.Chunk
	err := p.Infer(context.Background(), &obs, &out)
	var se *remote.ServerError
	if !errors.As(err, &se) || !strings.Contains(se.Message, "the model caught fire") {
		t.Fatalf("Infer: %v, want a ServerError with the server's message", err)
	}
	// openpi closes after an error: the connection is done.
	if err := p.Infer(context.Background(), &obs, &out); !errors.Is(err, remote.ErrClosed) {
		t.Fatalf("Infer after a server error: %v, want ErrClosed", err)
	}
}

func TestOversizedReply(t *testing.T) {
	_, url := start(t, server.Conf{}, &fake{chunk: testChunk(100, 7)}) // 5.6 kB of actions
	p := dial(t, url, remote.Conf{MaxFrameBytes: 1024})
	obs := testObs(rand.New(rand.NewPCG(5, 6)))
	var out efferent.Chunk
	if err := p.Infer(context.Background(), &obs, &out); !errors.Is(err, api.ErrTooLarge) {
		t.Fatalf("Infer: %v, want api.ErrTooLarge", err)
	}
	if err := p.Infer(context.Background(), &obs, &out); !errors.Is(err, remote.ErrClosed) {
		t.Fatalf("Infer after an oversized reply: %v, want ErrClosed", err)
	}
}

func TestCancel(t *testing.T) {
	// The server never answers, so returning at all proves the call did
	// not wait for it.
	f := &fake{block: true, started: make(chan struct{}, 1)}
	_, url := start(t, server.Conf{}, f)
	p := dial(t, url, remote.Conf{})
	obs := testObs(rand.New(rand.NewPCG(7, 8)))
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-f.started // the request is with the model
		cancel()
	}()
	var out efferent.Chunk
	if err := p.Infer(ctx, &obs, &out); !errors.Is(err, context.Canceled) {
		t.Fatalf("Infer: %v, want context.Canceled", err)
	}
	// The abandoned reply could be mistaken for the next: closed.
	if err := p.Infer(context.Background(), &obs, &out); !errors.Is(err, remote.ErrClosed) {
		t.Fatalf("Infer after cancel: %v, want ErrClosed", err)
	}
}

// expiring is a context whose deadline the test makes pass: it reports a
// deadline (so Infer sets socket deadlines from it) and ends with
// DeadlineExceeded when expire is called, not at a wall-clock instant.
type expiring struct {
	context.Context
	done chan struct{}
}

func newExpiring() *expiring {
	return &expiring{Context: context.Background(), done: make(chan struct{})}
}

func (e *expiring) Deadline() (time.Time, bool) { return time.Now().Add(time.Hour), true }
func (e *expiring) Done() <-chan struct{}       { return e.done }
func (e *expiring) expire()                     { close(e.done) }
func (e *expiring) Err() error {
	select {
	case <-e.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

func TestDeadline(t *testing.T) {
	// Expired only once the request is with the model: a real timeout could
	// also strike while the server is still decoding, and the efferent
	// server's Close can miss a request submitted during its shutdown.
	f := &fake{block: true, started: make(chan struct{}, 1)}
	_, url := start(t, server.Conf{}, f)
	p := dial(t, url, remote.Conf{})
	obs := testObs(rand.New(rand.NewPCG(9, 10)))
	ctx := newExpiring()
	go func() {
		<-f.started
		ctx.expire()
	}()
	var out efferent.Chunk
	if err := p.Infer(ctx, &obs, &out); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Infer: %v, want context.DeadlineExceeded", err)
	}
}

func TestCancelledBeforeCallKeepsConnection(t *testing.T) {
	_, url := start(t, server.Conf{}, &fake{chunk: testChunk(2, 3)})
	p := dial(t, url, remote.Conf{})
	obs := testObs(rand.New(rand.NewPCG(11, 12)))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out efferent.Chunk
	if err := p.Infer(ctx, &obs, &out); !errors.Is(err, context.Canceled) {
		t.Fatalf("Infer: %v, want context.Canceled", err)
	}
	if err := p.Infer(context.Background(), &obs, &out); err != nil {
		t.Fatalf("nothing was sent, the connection should still work: %v", err)
	}
}

func TestServerClosed(t *testing.T) {
	t.Run("between calls", func(t *testing.T) {
		s, url := start(t, server.Conf{}, &fake{chunk: testChunk(2, 3)})
		p := dial(t, url, remote.Conf{})
		obs := testObs(rand.New(rand.NewPCG(13, 14)))
		var out efferent.Chunk
		if err := p.Infer(context.Background(), &obs, &out); err != nil {
			t.Fatal(err)
		}
		s.Close()
		if err := p.Infer(context.Background(), &obs, &out); !errors.Is(err, remote.ErrClosed) {
			t.Fatalf("Infer after the server closed: %v, want ErrClosed", err)
		}
	})
	t.Run("during a call", func(t *testing.T) {
		f := &fake{block: true, started: make(chan struct{}, 1)}
		s, url := start(t, server.Conf{}, f)
		p := dial(t, url, remote.Conf{})
		go func() {
			<-f.started
			s.Close()
		}()
		obs := testObs(rand.New(rand.NewPCG(15, 16)))
		var out efferent.Chunk
		if err := p.Infer(context.Background(), &obs, &out); !errors.Is(err, remote.ErrClosed) {
			t.Fatalf("Infer while the server closed: %v, want ErrClosed", err)
		}
	})
}

func TestCloseAbortsCall(t *testing.T) {
	f := &fake{block: true, started: make(chan struct{}, 1)}
	_, url := start(t, server.Conf{}, f)
	p := dial(t, url, remote.Conf{})
	go func() {
		<-f.started
		p.Close()
	}()
	obs := testObs(rand.New(rand.NewPCG(17, 18)))
	var out efferent.Chunk
	if err := p.Infer(context.Background(), &obs, &out); !errors.Is(err, remote.ErrClosed) {
		t.Fatalf("Infer during Close: %v, want ErrClosed", err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestBadObservationKeepsConnection(t *testing.T) {
	_, url := start(t, server.Conf{}, &fake{chunk: testChunk(2, 3)})
	p := dial(t, url, remote.Conf{})
	obs := testObs(rand.New(rand.NewPCG(19, 20)))
	var out efferent.Chunk
	short := obs
	short.State = obs.State[:7]
	noWrist := obs
	noWrist.Images = map[string]efferent.Image{"observation/image": obs.Images["observation/image"]}
	for name, bad := range map[string]*efferent.Observation{"short state": &short, "missing camera": &noWrist} {
		if err := p.Infer(context.Background(), bad, &out); err == nil {
			t.Fatalf("%s: no error", name)
		}
	}
	if err := p.Infer(context.Background(), &obs, &out); err != nil {
		t.Fatalf("a refused observation never reached the server; the connection should work: %v", err)
	}
}

func TestDialErrors(t *testing.T) {
	s, url := start(t, server.Conf{}, &fake{})
	if _, err := remote.Dial(context.Background(), "http://"+s.Addr().String(), remote.Conf{}); err == nil ||
		!strings.Contains(err.Error(), "scheme") {
		t.Fatalf("http scheme: %v", err)
	}
	// /healthz is plain HTTP: the handshake is refused.
	if _, err := remote.Dial(context.Background(), url+"/healthz", remote.Conf{}); err == nil ||
		!strings.Contains(err.Error(), "200") {
		t.Fatalf("dial /healthz: %v, want a handshake error naming HTTP 200", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := remote.Dial(ctx, url, remote.Conf{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("dial with a cancelled ctx: %v", err)
	}
	if _, err := remote.Dial(context.Background(), url, remote.Conf{StateDim: -1}); err == nil ||
		!strings.Contains(err.Error(), "StateDim") {
		t.Fatalf("bad conf: %v, want an error naming StateDim", err)
	}
}

func TestConfValidate(t *testing.T) {
	if err := (remote.Conf{}).WithDefaults().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	d := remote.Conf{}.WithDefaults()
	if d.StateDim != 8 || d.StateKey != "observation/state" || d.PromptKey != "prompt" || d.ImageHeight != 224 ||
		d.ImageWidth != 224 || d.MaxFrameBytes != 16<<20 || d.DialTimeout != 10*time.Second ||
		d.StepPeriod != 50*time.Millisecond || len(d.ImageKeys) != 2 || d.ImageKeys[1] != "observation/wrist_image" {
		t.Fatalf("defaults %+v", d)
	}
	for field, mut := range map[string]func(*remote.Conf){
		"ImageKeys":     func(c *remote.Conf) { c.ImageKeys = []string{} },
		"ImageKeys[1]":  func(c *remote.Conf) { c.ImageKeys = []string{"a", ""} },
		"StateKey":      func(c *remote.Conf) { c.StateKey = c.ImageKeys[0] },
		"StateDim":      func(c *remote.Conf) { c.StateDim = -3 },
		"StepPeriod":    func(c *remote.Conf) { c.StepPeriod = -time.Second },
		"ImageHeight":   func(c *remote.Conf) { c.ImageHeight = 5000 },
		"ImageWidth":    func(c *remote.Conf) { c.ImageWidth = -1 },
		"MaxFrameBytes": func(c *remote.Conf) { c.MaxFrameBytes = 10 },
		"DialTimeout":   func(c *remote.Conf) { c.DialTimeout = -1 },
	} {
		c := remote.Conf{}.WithDefaults()
		mut(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "Conf."+field) {
			t.Errorf("%s: %v, want an error naming Conf.%s", field, err, field)
		}
	}
}

// BenchmarkInfer measures one LIBERO-sized round trip over loopback.
func BenchmarkInfer(b *testing.B) {
	s, err := server.New(server.Conf{Addr: "127.0.0.1:0"}, &fake{chunk: testChunk(10, 7)}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	go s.Run(context.Background())
	defer s.Close()
	p, err := remote.Dial(context.Background(), "ws://"+s.Addr().String(), remote.Conf{})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	obs := testObs(rand.New(rand.NewPCG(1, 1)))
	obs.Images["observation/wrist_image"] = obs.Images["observation/image"]
	var out efferent.Chunk
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Infer(context.Background(), &obs, &out); err != nil {
			b.Fatal(err)
		}
	}
}

// Against a server started with a token, Dial fails with the server's 401
// without Conf.Token and works with it.
func TestToken(t *testing.T) {
	const tok = "remote-token-0123456789"
	_, url := start(t, server.Conf{AuthToken: tok}, &fake{chunk: testChunk(10, 7)})
	if _, err := remote.Dial(context.Background(), url, remote.Conf{}); err == nil || !strings.Contains(err.Error(), "401") ||
		!strings.Contains(err.Error(), "needs a token") {
		t.Fatalf("dial without the token: %v, want HTTP 401 with the server's reason", err)
	}
	if _, err := remote.Dial(context.Background(), url, remote.Conf{Token: tok + "x"}); err == nil ||
		!strings.Contains(err.Error(), "401 Unauthorized: unauthorized: wrong token") {
		t.Fatalf("dial with a wrong token: %v, want HTTP 401 naming the wrong token", err)
	}
	p, err := remote.Dial(context.Background(), url, remote.Conf{Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	obs := testObs(rand.New(rand.NewPCG(1, 1)))
	var out efferent.Chunk
	if err := p.Infer(context.Background(), &obs, &out); err != nil || out.H != 10 {
		t.Fatalf("infer with the token: %v, H %d", err, out.H)
	}
}
