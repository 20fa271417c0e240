package server

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/policy"
)

var soakFor = flag.Duration("soak", 0, "run TestSoak for this long instead of its short fixed count (e.g. -soak=5m)")

// echo is a deterministic policy for the soak test: the chunk's first
// value is the observation's state[0], so a client can check it was
// answered for its own request.
type echo struct{ meta policy.Metadata }

func (e *echo) Infer(_ context.Context, obs *efferent.Observation, out *efferent.Chunk) error {
	out.H, out.D = 2, 3
	out.Actions = append(out.Actions[:0], obs.State[0], obs.State[1], 0, 0, 0, 0)
	return nil
}

// MaxBatch and InferBatch make echo a policy.Batcher, so the soak runs
// through the batching worker.
func (e *echo) MaxBatch() int { return 8 }
func (e *echo) InferBatch(ctx context.Context, obs []*efferent.Observation, out []*efferent.Chunk, errs []error) {
	for i := range obs {
		errs[i] = e.Infer(ctx, obs[i], out[i])
	}
}
func (e *echo) Metadata() policy.Metadata { return e.meta }
func (e *echo) Close() error              { return nil }

// TestSoak: many clients on 127.0.0.1 at once — well-behaved ones checking
// every answer, others disconnecting mid-request, sending garbage, text
// frames, oversized frames and half frames. The well-behaved clients keep
// getting their own correct answers (busy refusals allowed, and retried),
// and afterwards the server holds no extra goroutines and its heap is back
// near where it started. Short in `make test`; -soak=5m for a long run.
func TestSoak(t *testing.T) {
	s := start(t, Conf{SkipWarmup: true, QueueSize: 64, MaxFrameBytes: 64 << 10}, &echo{meta: fakeMeta()})
	keys := []string{"observation/image"}
	addr := s.Addr().String()
	url := "ws://" + addr + "/"

	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse
	}
	baseGoroutines, baseHeap := runtime.NumGoroutine(), heap()

	deadline := time.Now().Add(*soakFor)
	rounds := 40
	more := func(i int) bool {
		if *soakFor > 0 {
			return time.Now().Before(deadline)
		}
		return i < rounds
	}

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	var answered, refused sync.Map
	for g := 0; g < 8; g++ { // well-behaved
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 0
			for i := 0; more(i); i++ {
				c, _, err := websocket.DefaultDialer.Dial(url, nil)
				if err != nil {
					errs <- fmt.Errorf("good client %d: dial: %w", g, err)
					return
				}
				if _, _, err := c.ReadMessage(); err != nil {
					errs <- fmt.Errorf("good client %d: metadata: %w", g, err)
					c.Close()
					return
				}
				for k := 0; k < 5; k++ {
					x := float64(g*1000000 + i*10 + k)
					if err := c.WriteMessage(websocket.BinaryMessage, libero(tinyObs(x), keys, "seq", int64(k))); err != nil {
						errs <- fmt.Errorf("good client %d: write: %w", g, err)
						break
					}
					typ, data, err := c.ReadMessage()
					if err != nil {
						errs <- fmt.Errorf("good client %d: read: %w", g, err)
						break
					}
					if typ == websocket.TextMessage {
						// busy is allowed under load; the server closes next.
						refused.Store(fmt.Sprint(g, i, k), string(data))
						break
					}
					r, err := parseReply(data)
					if err != nil || r.actions[0] != x || r.seq != int64(k) {
						errs <- fmt.Errorf("good client %d: reply for state %v seq %d, want %v seq %d (%v)", g, r.actions, r.seq, x, k, err)
						break
					}
					n++
				}
				c.Close()
			}
			answered.Store(g, n)
		}()
	}
	for g := 0; g < 8; g++ { // misbehaving
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for i := 0; more(i); i++ {
				switch rng.IntN(5) {
				case 0: // disconnect mid-request
					c, _, err := websocket.DefaultDialer.Dial(url, nil)
					if err == nil {
						_ = c.WriteMessage(websocket.BinaryMessage, libero(tinyObs(-1), keys))
						c.Close()
					}
				case 1: // garbage binary
					c, _, err := websocket.DefaultDialer.Dial(url, nil)
					if err == nil {
						junk := make([]byte, 1+rng.IntN(2000))
						for j := range junk {
							junk[j] = byte(rng.Uint32())
						}
						_ = c.WriteMessage(websocket.BinaryMessage, junk)
						_, _, _ = c.ReadMessage()
						c.Close()
					}
				case 2: // a text frame
					c, _, err := websocket.DefaultDialer.Dial(url, nil)
					if err == nil {
						_ = c.WriteMessage(websocket.TextMessage, []byte("hello?"))
						c.Close()
					}
				case 3: // over max_frame_bytes
					c, _, err := websocket.DefaultDialer.Dial(url, nil)
					if err == nil {
						_ = c.WriteMessage(websocket.BinaryMessage, make([]byte, 100<<10))
						c.Close()
					}
				case 4: // raw TCP: half a handshake, then gone
					if nc, err := net.Dial("tcp", addr); err == nil {
						_, _ = nc.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"))
						nc.Close()
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	total := 0
	answered.Range(func(_, v any) bool { total += v.(int); return true })
	busy := 0
	refused.Range(func(_, _ any) bool { busy++; return true })
	t.Logf("good clients: %d correct answers, %d busy refusals", total, busy)
	if total == 0 {
		t.Fatal("no well-behaved request was answered")
	}
	// Every connection the test opened ends; their goroutines go.
	waitFor(t, func() bool { return runtime.NumGoroutine() <= baseGoroutines+4 })
	if grown := int64(heap()) - int64(baseHeap); grown > 16<<20 {
		t.Fatalf("heap grew by %d MiB over the soak", grown>>20)
	}
}
