package remote_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/api"
	"github.com/efferent/efferent/policy/remote"
	"github.com/efferent/efferent/server"
)

// TestClientReconnects: the real server goes away and comes back on the
// same address. The call that sees the break fails; dials then happen at
// once, then after 1 s, then 2 s of the injected clock (no dial in
// between); once the server is back the next due call reconnects and is
// answered.
func TestClientReconnects(t *testing.T) {
	f := &fake{chunk: testChunk(2, 3)}
	s, url := start(t, server.Conf{}, f)
	addr := s.Addr().String()
	clock := time.Unix(1700000000, 0)
	c, err := remote.Connect(context.Background(), url, remote.Conf{
		Now: func() time.Time { return clock }, ReconnectMin: time.Second, ReconnectMax: 4 * time.Second,
		DialTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	obs := testObs(rand.New(rand.NewPCG(21, 22)))
	var out efferent.Chunk
	ctx := context.Background()
	if err := c.Infer(ctx, &obs, &out); err != nil {
		t.Fatal(err)
	}

	s.Close()
	if err := c.Infer(ctx, &obs, &out); !errors.Is(err, remote.ErrClosed) {
		t.Fatalf("call after the server closed: %v, want ErrClosed", err)
	}
	expect := func(wantIn string) {
		t.Helper()
		err := c.Infer(ctx, &obs, &out)
		if !errors.Is(err, remote.ErrReconnecting) || !strings.Contains(err.Error(), wantIn) {
			t.Fatalf("err = %v, want ErrReconnecting mentioning %q", err, wantIn)
		}
	}
	expect("(next attempt in 1s)") // dialled at once, refused
	expect("next attempt in 1s")   // not due: no dial (a dial would have doubled the wait)
	clock = clock.Add(999 * time.Millisecond)
	expect("next attempt in 1ms")
	clock = clock.Add(time.Millisecond)
	expect("(next attempt in 2s)") // due: dialled, refused

	s2, err := server.New(server.Conf{Addr: addr, SkipWarmup: true}, f, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("restarting the server on %s: %v", addr, err)
	}
	go func() { _ = s2.Run(context.Background()) }()
	t.Cleanup(func() { s2.Close() })
	expect("next attempt in 2s") // back, but not due yet
	clock = clock.Add(2 * time.Second)
	if err := c.Infer(ctx, &obs, &out); err != nil {
		t.Fatalf("call once due with the server back: %v", err)
	}
	if !sameBits(out.Actions, f.chunk.Actions) || c.Reconnects() != 1 {
		t.Fatalf("after reconnecting: actions %v, reconnects %d", out.Actions, c.Reconnects())
	}
	if md := c.Metadata(); md.Horizon != 2 || md.Dim != 3 {
		t.Fatalf("metadata after reconnecting: %dx%d", md.Horizon, md.Dim)
	}
}

// seqServer is an openpi-speaking server that answers request n with seq
// n for the first `honest` requests, then with seq 99.
func seqServer(t *testing.T, honest int) string {
	up := websocket.Upgrader{}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		meta, _ := api.EncodeMetadata(nil, nil)
		if ws.WriteMessage(websocket.BinaryMessage, meta) != nil {
			return
		}
		for n := int64(1); ; n++ {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
			seq := n
			if n > int64(honest) {
				seq = 99
			}
			resp := api.Response{Actions: []float64{1, 2, 3, 4, 5, 6}, H: 2, D: 3, Session: 1, Seq: seq, HaveSeq: true}
			if ws.WriteMessage(websocket.BinaryMessage, api.AppendResponse(nil, &resp)) != nil {
				return
			}
		}
	}))
	t.Cleanup(hs.Close)
	return "ws://" + strings.TrimPrefix(hs.URL, "http://")
}

// TestStaleReplyRefused: a reply whose seq names another request is never
// used: the call fails with ErrStale and the connection is dropped.
func TestStaleReplyRefused(t *testing.T) {
	p := dial(t, seqServer(t, 1), remote.Conf{})
	obs := testObs(rand.New(rand.NewPCG(23, 24)))
	out := efferent.Chunk{Actions: []float64{-7}}
	if err := p.Infer(context.Background(), &obs, &out); err != nil || out.Actions[0] != 1 {
		t.Fatalf("request 1 (seq 1): %v, actions %v", err, out.Actions)
	}
	out.Actions[0] = -7
	if err := p.Infer(context.Background(), &obs, &out); !errors.Is(err, remote.ErrStale) || !strings.Contains(err.Error(), "reply seq 99, request 2") {
		t.Fatalf("request 2 answered with seq 99: %v, want ErrStale", err)
	}
	if out.Actions[0] != -7 {
		t.Fatalf("the stale reply's actions were written to the chunk: %v", out.Actions)
	}
	if err := p.Infer(context.Background(), &obs, &out); !errors.Is(err, remote.ErrClosed) {
		t.Fatalf("after a stale reply: %v, want ErrClosed", err)
	}
}

// TestCallTimeout: with no deadline from the caller, Conf.CallTimeout
// bounds a call to a server that does not answer.
func TestCallTimeout(t *testing.T) {
	f := &fake{block: true}
	_, url := start(t, server.Conf{}, f)
	p := dial(t, url, remote.Conf{CallTimeout: 50 * time.Millisecond})
	obs := testObs(rand.New(rand.NewPCG(25, 26)))
	var out efferent.Chunk
	if err := p.Infer(context.Background(), &obs, &out); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Infer: %v, want context.DeadlineExceeded after CallTimeout", err)
	}
}
