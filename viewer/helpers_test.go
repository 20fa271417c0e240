package viewer

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"image/jpeg"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/efferent/efferent"
)

// quiet is a logger for tests.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// start returns a viewer for conf served on a real 127.0.0.1 listener.
func start(t *testing.T, conf Conf) (*Viewer, *httptest.Server) {
	t.Helper()
	if conf.Log == nil {
		conf.Log = quiet
	}
	v, err := New(conf)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(v.Handler())
	t.Cleanup(func() {
		_ = v.Close()
		srv.Close()
	})
	return v, srv
}

func wsURL(srv *httptest.Server, query string) string {
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/viewer/ws" + query
}

// dial opens the viewer's websocket as a page of the same origin would.
// readBuffer > 0 shrinks the socket's receive buffer (a slow browser).
func dial(t *testing.T, srv *httptest.Server, query string, readBuffer int) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	if readBuffer > 0 {
		d.NetDial = func(network, addr string) (net.Conn, error) {
			c, err := net.Dial(network, addr)
			if err == nil {
				_ = c.(*net.TCPConn).SetReadBuffer(readBuffer)
			}
			return c, err
		}
	}
	h := http.Header{"Origin": {srv.URL}}
	c, resp, err := d.Dial(wsURL(srv, query), h)
	if err == nil {
		t.Cleanup(func() { _ = c.Close() })
	}
	return c, resp, err
}

// msg is one message from the viewer.
type msg struct {
	Type  string
	JSON  map[string]any
	Raw   []byte
	Frame frameHeader
	JPEG  []byte
}

func read(c *websocket.Conn, deadline time.Time) (msg, error) {
	_ = c.SetReadDeadline(deadline)
	typ, data, err := c.ReadMessage()
	if err != nil {
		return msg{}, err
	}
	if typ == websocket.BinaryMessage {
		n := binary.BigEndian.Uint32(data)
		var m msg
		if err := json.Unmarshal(data[4:4+n], &m.Frame); err != nil {
			return m, err
		}
		m.Type, m.JPEG = "frame", data[4+n:]
		return m, nil
	}
	m := msg{Raw: data}
	if err := json.Unmarshal(data, &m.JSON); err != nil {
		return m, err
	}
	m.Type, _ = m.JSON["type"].(string)
	return m, nil
}

// waitFor reads until pred accepts a message, failing the test after d.
func waitFor(t *testing.T, c *websocket.Conn, d time.Duration, what string, pred func(msg) bool) msg {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		m, err := read(c, deadline)
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if pred(m) {
			return m
		}
	}
}

func send(t *testing.T, c *websocket.Conn, v string) {
	t.Helper()
	if err := c.WriteMessage(websocket.TextMessage, []byte(v)); err != nil {
		t.Fatal(err)
	}
}

// reply waits for the reply to the command with id.
func reply(t *testing.T, c *websocket.Conn, id float64) map[string]any {
	t.Helper()
	return waitFor(t, c, 5*time.Second, "reply", func(m msg) bool { return m.Type == "reply" && m.JSON["id"] == id }).JSON
}

// testImage is an h×w RGB gradient (noise when noisy: it compresses
// badly, which makes frames large).
func testImage(h, w int, noisy bool) efferent.Image {
	im := efferent.Image{H: h, W: w, C: 3, Pix: make([]byte, h*w*3)}
	x := uint32(1)
	for i := range im.Pix {
		if noisy {
			x ^= x << 13
			x ^= x >> 17
			x ^= x << 5
			im.Pix[i] = byte(x)
		} else {
			im.Pix[i] = byte(i / 3 % 251)
		}
	}
	return im
}

func decodeJPEG(t *testing.T, b []byte) (w, h int) {
	t.Helper()
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("frame is not a JPEG: %v", err)
	}
	return img.Bounds().Dx(), img.Bounds().Dy()
}
