package bench

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"sync"

	"github.com/gorilla/websocket"

	"github.com/efferent/efferent/api"
)

// Floor is the transport floor bench serve compares the server with: a
// websocket server on the same library and loopback that, for each
// request, reads the whole frame and answers a reply of the same shape
// (an H×D action array, the timing maps), prepared once, without decoding
// the request or running anything. What a real server spends beyond it is
// its overhead. It is a Server (MaxBatch 1).
type Floor struct {
	ln    net.Listener
	srv   *http.Server
	reply []byte
	wg    sync.WaitGroup
}

// StartFloor listens on a free loopback port; replies carry an h×d chunk.
func StartFloor(h, d int) (*Floor, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &Floor{ln: ln, reply: api.AppendResponse(nil, &api.Response{Actions: make([]float64, h*d), H: h, D: d})}
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
