package bench

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/efferent/efferent/api"
)

// Floor is the transport floor bench serve compares the server with: a
// websocket server on the same library and loopback that, for each
// request, reads the whole frame and answers a reply of the same shape
// (an H×D action array, the timing maps), prepared once, without decoding
// the request or running anything. What a real server spends beyond it is
// its overhead. It is a Server (MaxBatch 1).
//
// A floor started with a wait also burns that much CPU time per request on
// a goroutine of its own before answering, as a model worker would, and
// reports the wait as the model's time (policy_timing.infer_ms): the same
// transport, met by a client that has waited as long as for a model run.
type Floor struct {
	ln    net.Listener
	srv   *http.Server
	reply []byte
	wg    sync.WaitGroup
}

// StartFloor listens on a free loopback port; replies carry an h×d chunk,
// after wait of busy work (none when 0).
func StartFloor(h, d int, wait time.Duration) (*Floor, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	resp := api.Response{Actions: make([]float64, h*d), H: h, D: d}
	if wait > 0 {
		resp.PolicyInferMS = float64(wait) / float64(time.Millisecond)
	}
	f := &Floor{ln: ln, reply: api.AppendResponse(nil, &resp)}
	up := websocket.Upgrader{ReadBufferSize: 64 << 10, WriteBufferSize: 64 << 10}
	f.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		// openpi's first frame: the metadata, an empty map.
		if c.WriteMessage(websocket.BinaryMessage, []byte{0x80}) != nil {
			return
		}
		var buf bytes.Buffer // reused: its capacity grows to the largest frame
		for {
			_, rd, err := c.NextReader()
			if err != nil {
				return
			}
			// Read it all, as a server must before it can answer.
			buf.Reset()
			if _, err := buf.ReadFrom(rd); err != nil {
				return
			}
			if wait > 0 {
				busy(wait)
			}
			if c.WriteMessage(websocket.BinaryMessage, f.reply) != nil {
				return
			}
		}
	})}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		_ = f.srv.Serve(ln)
	}()
	return f, nil
}

// Addr implements Server.
func (f *Floor) Addr() net.Addr { return f.ln.Addr() }

// MaxBatch implements Server: the floor runs nothing.
func (f *Floor) MaxBatch() int { return 1 }

// Run implements Server: the floor serves from StartFloor on; Run waits
// for ctx or Close.
func (f *Floor) Run(ctx context.Context) error {
	done := make(chan struct{})
	go func() { f.wg.Wait(); close(done) }()
	select {
	case <-ctx.Done():
		return f.Close()
	case <-done:
		return nil
	}
}

// Close implements Server.
func (f *Floor) Close() error {
	err := f.srv.Close()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// busy burns d of CPU time on another goroutine, as a model worker would,
// and returns when it is done: the connection's goroutine waits for it
// as a server's waits for its model.
func busy(d time.Duration) {
	done := make(chan struct{})
	go func() {
		for t := time.Now(); time.Since(t) < d; {
		}
		close(done)
	}()
	<-done
}
