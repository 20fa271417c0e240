package server

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/policy"
)

// batchGate is a unit-test seam: a policy.Batcher whose every model run
// reports its batch size on entered and blocks until released, so batching
// can be tested without timing guesses. Row i's chunk starts with its
// state[0]; a negative state[0] fails that row alone.
type batchGate struct {
	meta    policy.Metadata
	max     int
	entered chan int
	release chan struct{}
}

func newBatchGate(max int) *batchGate {
	return &batchGate{meta: fakeMeta(), max: max, entered: make(chan int, 16), release: make(chan struct{})}
}

func (g *batchGate) Infer(ctx context.Context, obs *efferent.Observation, out *efferent.Chunk) error {
	errs := []error{nil}
	g.InferBatch(ctx, []*efferent.Observation{obs}, []*efferent.Chunk{out}, errs)
	return errs[0]
}

func (g *batchGate) MaxBatch() int { return g.max }

func (g *batchGate) InferBatch(ctx context.Context, obs []*efferent.Observation, out []*efferent.Chunk, errs []error) {
	g.entered <- len(obs)
	select {
	case <-g.release:
	case <-ctx.Done():
		for i := range errs {
			errs[i] = ctx.Err()
		}
		return
	}
	for i, o := range obs {
		if o.State[0] < 0 {
			errs[i] = fmt.Errorf("row with state %v refused", o.State[0])
			continue
		}
		out[i].H, out[i].D = 2, 3
		out[i].Actions = append(out[i].Actions[:0], o.State[0], 1, 2, 3, 4, 5)
		errs[i] = nil
	}
}

func (g *batchGate) Metadata() policy.Metadata { return g.meta }
func (g *batchGate) Close() error              { return nil }

// TestBatching: requests that queue while the model runs are answered by
// one batched run (at most server.max_batch, which caps the policy's own
// limit), each on its own connection with its own chunk and the batch size
// in policy_timing; a row that fails fails only its own client; the batch
// size histogram counts every run.
func TestBatching(t *testing.T) {
	g := newBatchGate(64)
	s := start(t, Conf{SkipWarmup: true, MaxBatch: 4}, g)
	if s.MaxBatch() != 4 {
		t.Fatalf("MaxBatch = %d, want 4 (server.max_batch caps the policy's 64)", s.MaxBatch())
	}
	keys := []string{"observation/image"}
	states := []float64{1, 2, 3, -4, 5, 6} // the 4th row fails
	conns := make([]*websocket.Conn, len(states))
	for i := range conns {
		conns[i], _ = dial(t, s)
	}
	send(t, conns[0], libero(tinyObs(states[0]), keys))
	if n := <-g.entered; n != 1 {
		t.Fatalf("first run has %d rows, want 1 (nothing else was queued)", n)
	}
	for i := 1; i < len(conns); i++ { // queue in a known order while the model is busy
		send(t, conns[i], libero(tinyObs(states[i]), keys))
		waitFor(t, func() bool { return len(s.jobs) == i })
	}
	g.release <- struct{}{}
	if n := <-g.entered; n != 4 {
		t.Fatalf("second run has %d rows, want 4 (server.max_batch)", n)
	}
	g.release <- struct{}{}
	if n := <-g.entered; n != 1 {
		t.Fatalf("third run has %d rows, want the 1 left", n)
	}
	g.release <- struct{}{}
	wantBatch := []float64{1, 4, 4, 0, 4, 1}
	for i, c := range conns {
		if states[i] < 0 {
			expectError(t, c, websocket.CloseInternalServerErr, "row with state -4 refused")
			continue
		}
		r := readReply(t, c)
		if r.actions[0] != states[i] {
			t.Fatalf("client %d got the chunk for state %v, want %v", i, r.actions[0], states[i])
		}
		if b := r.policyTiming["batch_size"]; b != wantBatch[i] {
			t.Fatalf("client %d: policy_timing.batch_size = %v, want %v", i, b, wantBatch[i])
		}
	}
	url := "http://" + s.Addr().String() + "/metrics"
	if n, sum := counter(t, url, "efferent_batch_size_count"), counter(t, url, "efferent_batch_size_sum"); n != 3 || sum != 6 {
		t.Fatalf("efferent_batch_size count %v sum %v, want 3 runs of 6 requests", n, sum)
	}
	if n := counter(t, url, `efferent_requests_total{outcome="error"}`); n != 1 {
		t.Fatalf("error counter %v, want 1", n)
	}
}

// TestBatchWait: with server.batch_wait, a request that finds the model
// idle waits (from its arrival) for others to fill the batch rather than
// running alone.
func TestBatchWait(t *testing.T) {
	g := newBatchGate(64)
	s := start(t, Conf{SkipWarmup: true, MaxBatch: 2, BatchWait: 1e9}, g) // 1 s: far longer than the test needs
	keys := []string{"observation/image"}
	a, _ := dial(t, s)
	b, _ := dial(t, s)
	send(t, a, libero(tinyObs(1), keys))
	send(t, b, libero(tinyObs(2), keys))
	if n := <-g.entered; n != 2 {
		t.Fatalf("first run has %d rows, want 2: the first request should have waited for the second", n)
	}
	g.release <- struct{}{}
	for i, c := range []*websocket.Conn{a, b} {
		if r := readReply(t, c); r.actions[0] != float64(i+1) {
			t.Fatalf("client %d got the chunk for state %v", i, r.actions[0])
		}
	}
}

// TestNoBatchingForPlainPolicies: a policy that is not a Batcher runs one
// request per model run whatever server.max_batch says.
func TestNoBatchingForPlainPolicies(t *testing.T) {
	s := start(t, Conf{SkipWarmup: true, MaxBatch: 8}, newGate(fakeMeta()))
	if s.MaxBatch() != 1 {
		t.Fatalf("MaxBatch = %d, want 1", s.MaxBatch())
	}
}

// TestBatchedRepliesMatchGolden: with the real model under ONNX Runtime,
// clients sending at once (model-sized and larger images, which each batch
// row resizes in its own buffers) each get PyTorch's answer for their own
// observation, however the server happened to batch them.
func TestBatchedRepliesMatchGolden(t *testing.T) {
	pol, m, g := fixturePolicy(t)
	s := start(t, Conf{MaxBatch: 8}, pol)
	if s.MaxBatch() != 8 {
		t.Fatalf("MaxBatch = %d, want 8: the fixture's graphs take any batch", s.MaxBatch())
	}
	keys := pol.Metadata().ImageKeys
	const clients, rounds = 8, 6
	var wg sync.WaitGroup
	errc := make(chan error, clients)
	batched := make([]float64, clients)
	for i := range clients {
		c, _ := dial(t, s)
		gc := g.Cases[i%len(g.Cases)]
		size := m.Obs.ImageHeight
		if i%2 == 1 {
			// Resized in the row's own buffers. A resized pattern is not
			// golden's input, so only shape and finiteness are checked.
			size = 256
		}
		obs, err := gc.Observation(size, size)
		if err != nil {
			t.Fatal(err)
		}
		frame := libero(obs, keys)
		want := gc.FlatActions()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				if err := c.WriteMessage(websocket.BinaryMessage, frame); err != nil {
					errc <- err
					return
				}
				_, data, err := c.ReadMessage()
				if err != nil {
					errc <- err
					return
				}
				r, err := parseReply(data)
				if err != nil {
					errc <- err
					return
				}
				if len(r.actions) != len(want) {
					errc <- fmt.Errorf("client %d: %d actions, want %d", i, len(r.actions), len(want))
					return
				}
				for k := range want {
					if math.IsNaN(r.actions[k]) {
						errc <- fmt.Errorf("client %d: action %d is NaN", i, k)
						return
					}
					if d := math.Abs(r.actions[k] - want[k]); size == m.Obs.ImageHeight && d > g.Tolerance.ActionsAbs {
						errc <- fmt.Errorf("client %d (case %q): action %d differs from PyTorch by %g", i, gc.Prompt, k, d)
						return
					}
				}
				if b, _ := r.policyTiming["batch_size"].(float64); b > batched[i] {
					batched[i] = b
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	url := "http://" + s.Addr().String() + "/metrics"
	runs, reqs := counter(t, url, "efferent_batch_size_count"), counter(t, url, "efferent_batch_size_sum")
	if reqs != clients*rounds { // the warm-up is not counted
		t.Fatalf("efferent_batch_size_sum = %v, want %d", reqs, clients*rounds)
	}
	t.Logf("%v requests in %v model runs; largest batch per client %v", reqs, runs, batched)
}
