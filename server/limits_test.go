package server

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// valueOf reads a counter or gauge.
func valueOf(m prometheus.Metric) float64 {
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		return -1
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}

// rawWS opens a websocket by hand and reads the metadata frame, so a test
// can send a message's frames as slowly as it likes.
func rawWS(t *testing.T, s *Server) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", s.Addr())
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", res, err)
	}
	if _, _, err := readFrame(br); err != nil { // metadata
		t.Fatal(err)
	}
	return c, br
}

// readFrame reads one unmasked (server) frame: its opcode and payload.
func readFrame(br *bufio.Reader) (byte, []byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var l [2]byte
		if _, err := io.ReadFull(br, l[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(l[:]))
	case 127:
		var l [8]byte
		if _, err := io.ReadFull(br, l[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(l[:])
	}
	p := make([]byte, n)
	_, err := io.ReadFull(br, p)
	return h[0] & 0x0f, p, err
}

// frameHeader is a client's binary frame header for a payload of n bytes,
// masked with the zero key (the payload is then sent as it is).
func frameHeader(n int) []byte {
	h := []byte{0x82, 0x80 | 127}
	h = binary.BigEndian.AppendUint64(h, uint64(n))
	return append(h, 0, 0, 0, 0)
}

// closeOf reads frames until a close frame and returns its code and reason.
func closeOf(br *bufio.Reader) (int, string, error) {
	for {
		op, p, err := readFrame(br)
		if err != nil {
			return 0, "", err
		}
		if op == 8 && len(p) >= 2 {
			return int(binary.BigEndian.Uint16(p)), string(p[2:]), nil
		}
	}
}

// A websocket message trickled in (a byte every 50 ms, which alone would
// never end it) is cut off at server.body_timeout with close 1008 naming
// the key, though the client answers every ping; a REST body likewise,
// with 408.
func TestTrickledBodyClosed(t *testing.T) {
	const timeout = 400 * time.Millisecond
	s := start(t, Conf{SkipWarmup: true, BodyTimeout: timeout, PingInterval: time.Second}, &echo{meta: fakeMeta()})
	trickle := func(c net.Conn, stop <-chan struct{}) {
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				if _, err := c.Write([]byte{0}); err != nil {
					return
				}
			}
		}
	}

	c, br := rawWS(t, s)
	began := time.Now()
	if _, err := c.Write(append(frameHeader(1000), 0x80)); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	go trickle(c, stop)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	code, reason, err := closeOf(br)
	took := time.Since(began)
	close(stop)
	if err != nil || code != websocket.ClosePolicyViolation || !strings.Contains(reason, "server.body_timeout") {
		t.Fatalf("trickled message: close %d %q, %v; want 1008 naming server.body_timeout", code, reason, err)
	}
	if took < timeout {
		t.Fatalf("closed after %v, before body_timeout %v", took, timeout)
	}
	t.Logf("websocket: closed %v after the message began (body_timeout %v)", took.Round(time.Millisecond), timeout)
	if n := valueOf(s.metrics.closed.WithLabelValues("body_timeout")); n != 1 {
		t.Fatalf("connections closed for body_timeout: %v, want 1", n)
	}

	rc, err := net.Dial("tcp", s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	began = time.Now()
	fmt.Fprintf(rc, "POST /act HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{", s.Addr())
	stop = make(chan struct{})
	go trickle(rc, stop)
	defer close(stop)
	_ = rc.SetReadDeadline(time.Now().Add(10 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(rc), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	took = time.Since(began)
	if res.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(body), "server.body_timeout") || took < timeout {
		t.Fatalf("trickled REST body: %d %s after %v; want 408 naming server.body_timeout, not before %v", res.StatusCode, body, took, timeout)
	}
	t.Logf("REST: answered 408 %v after the request began", took.Round(time.Millisecond))
}

// A client that answers every ping but sends no request is closed at
// server.idle_timeout with close 1000 saying why.
func TestIdleTimeout(t *testing.T) {
	s := start(t, Conf{SkipWarmup: true, IdleTimeout: 1500 * time.Millisecond, PingInterval: time.Second}, &echo{meta: fakeMeta()})
	c, _ := dial(t, s)
	began := time.Now()
	// Reading answers the server's pings (gorilla's default handler).
	_, _, err := c.ReadMessage()
	took := time.Since(began)
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseNormalClosure || !strings.Contains(ce.Text, "server.idle_timeout") {
		t.Fatalf("idle client: %v; want close 1000 naming server.idle_timeout", err)
	}
	if took < 1400*time.Millisecond {
		t.Fatalf("closed after %v, before idle_timeout", took)
	}
	if n := valueOf(s.metrics.closed.WithLabelValues("idle")); n != 1 {
		t.Fatalf("connections closed idle: %v, want 1", n)
	}
}

// Past server.max_connections_per_client a new connection is answered 503
// naming the key, without reaching the HTTP server; once one closes, the
// next gets in.
func TestConnectionCaps(t *testing.T) {
	s := start(t, Conf{SkipWarmup: true, MaxConnections: 8, MaxConnectionsPerClient: 2}, &echo{meta: fakeMeta()})
	a, _ := dial(t, s)
	dial(t, s)
	_, res, err := websocket.DefaultDialer.Dial("ws://"+s.Addr().String()+"/", nil)
	if err == nil || res == nil || res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("third connection: %v %v; want 503", res, err)
	}
	body, _ := io.ReadAll(res.Body)
	if !strings.Contains(string(body), "server.max_connections_per_client") {
		t.Fatalf("503 body %q does not name server.max_connections_per_client", body)
	}
	if n := valueOf(s.metrics.connRefused); n != 1 {
		t.Fatalf("connections refused: %v, want 1", n)
	}
	a.Close()
	waitFor(t, func() bool {
		c, _, err := websocket.DefaultDialer.Dial("ws://"+s.Addr().String()+"/", nil)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// pngOf encodes an h×w grey PNG (it compresses to almost nothing).
func pngOf(t *testing.T, h, w int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// A frame whose compressed images would decode to more than
// server.max_frame_pixels is bad input, refused from the images' headers
// (close 1008, counted bad_request), whatever its size in bytes.
func TestFramePixelBudget(t *testing.T) {
	s := start(t, Conf{SkipWarmup: true, MaxFramePixels: 1000}, &echo{meta: fakeMeta()})
	c, _ := dial(t, s)
	bomb := pngOf(t, 40, 40)
	frame := libero(tinyObs(1), nil, "observation/image", bomb)
	if err := c.WriteMessage(websocket.BinaryMessage, frame); err != nil {
		t.Fatal(err)
	}
	_, msg, _ := c.ReadMessage()
	_, _, err := c.ReadMessage()
	var ce *websocket.CloseError
	if !strings.Contains(string(msg), "server.max_frame_pixels") || !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation {
		t.Fatalf("a %d-byte PNG of 1600 pixels: %q, %v; want close 1008 naming server.max_frame_pixels", len(bomb), msg, err)
	}
	if n := valueOf(s.metrics.badRequest); n != 1 {
		t.Fatalf("bad requests %v, want 1", n)
	}
}

// A connection that sends more image pixels per second than
// server.max_pixel_rate is refused with close 1013, counted rate_limited.
func TestPixelRate(t *testing.T) {
	// 4 pixels a request; a burst of 100 pixels, refilled at 100/s.
	s := start(t, Conf{SkipWarmup: true, MaxPixelRate: 100, MaxFramePixels: 64}, &echo{meta: fakeMeta()})
	c, _ := dial(t, s)
	keys := []string{"observation/image"}
	for i := range 200 {
		if err := c.WriteMessage(websocket.BinaryMessage, libero(tinyObs(float64(i)), keys)); err != nil {
			t.Fatal(err)
		}
		typ, msg, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if typ == websocket.BinaryMessage {
			continue
		}
		if !strings.Contains(string(msg), "server.max_pixel_rate") || i < 25 {
			t.Fatalf("request %d refused with %q; want a pixel-rate refusal after the 100-pixel burst (25 requests)", i, msg)
		}
		_, _, err = c.ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseTryAgainLater {
			t.Fatalf("after the refusal: %v, want close 1013", err)
		}
		if valueOf(s.metrics.rateLimited) != 1 {
			t.Fatal("the refusal was not counted as rate_limited")
		}
		t.Logf("refused at request %d", i)
		return
	}
	t.Fatal("200 requests of 4 pixels within the burst of 100 at 100 pixels/s")
}

// Large requests share server.max_inflight_bytes: while one large message
// holds the only share, another waits for it at most request_timeout and
// is then told busy (close 1013), while small requests go on being
// answered; once the share is free, a large request gets it.
func TestLargeRequestsShareTheBudget(t *testing.T) {
	const maxFrame = 1 << 20
	s := start(t, Conf{SkipWarmup: true, MaxFrameBytes: maxFrame, MaxFramePixels: 64, MaxInflightBytes: maxFrame + 3*64,
		RequestTimeout: 300 * time.Millisecond, BodyTimeout: 10 * time.Second}, &echo{meta: fakeMeta()})
	keys := []string{"observation/image"}
	large := libero(tinyObs(7), keys, "padding", make([]byte, 600<<10))

	// A holds the share: more than 512 KiB of a message, then nothing.
	a, _ := rawWS(t, s)
	if _, err := a.Write(append(frameHeader(maxFrame-100), make([]byte, 600<<10)...)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return valueOf(s.metrics.largeInflight) == 1 })

	b, _ := dial(t, s)
	if err := b.WriteMessage(websocket.BinaryMessage, large); err != nil {
		t.Fatal(err)
	}
	_, msg, _ := b.ReadMessage()
	_, _, err := b.ReadMessage()
	var ce *websocket.CloseError
	if !strings.Contains(string(msg), "server.max_inflight_bytes") || !errors.As(err, &ce) || ce.Code != websocket.CloseTryAgainLater {
		t.Fatalf("large request while the share is held: %q, %v; want busy naming server.max_inflight_bytes, close 1013", msg, err)
	}

	small, _ := dial(t, s)
	if err := small.WriteMessage(websocket.BinaryMessage, libero(tinyObs(3), keys)); err != nil {
		t.Fatal(err)
	}
	if typ, data, err := small.ReadMessage(); err != nil || typ != websocket.BinaryMessage {
		t.Fatalf("small request while the share is held: %q %v", data, err)
	} else if r, err := parseReply(data); err != nil || r.actions[0] != 3 {
		t.Fatalf("small request answered %v, %v", r.actions, err)
	}

	a.Close()
	waitFor(t, func() bool { return valueOf(s.metrics.largeInflight) == 0 })
	c, _ := dial(t, s)
	if err := c.WriteMessage(websocket.BinaryMessage, large); err != nil {
		t.Fatal(err)
	}
	if typ, data, err := c.ReadMessage(); err != nil || typ != websocket.BinaryMessage {
		t.Fatalf("large request once the share is free: %q %v", data, err)
	} else if r, err := parseReply(data); err != nil || r.actions[0] != 7 {
		t.Fatalf("large request answered %v, %v", r.actions, err)
	}
}
