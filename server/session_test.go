package server

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// readReply reads one binary reply frame and parses it.
func readReply(t *testing.T, c *websocket.Conn) reply {
	t.Helper()
	typ, data, err := c.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	if typ != websocket.BinaryMessage {
		t.Fatalf("frame type %d (%q), want a binary reply", typ, data)
	}
	r, err := parseReply(data)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func send(t *testing.T, c *websocket.Conn, frame []byte) {
	t.Helper()
	if err := c.WriteMessage(websocket.BinaryMessage, frame); err != nil {
		t.Fatal(err)
	}
}

// A client that reconnects is never answered, on its new connection, for a
// request of its old one: the old request's reply dies with the old
// connection, and every reply names the session and the seq it answers.
func TestReconnectNeverGetsStaleReply(t *testing.T) {
	g := newGate(fakeMeta())
	s := start(t, Conf{SkipWarmup: true}, g)
	keys := []string{"observation/image"}

	old, _ := dial(t, s)
	send(t, old, libero(tinyObs(1), keys, "seq", 7))
	<-g.entered // the old connection's request is being inferred
	old.Close()

	cur, _ := dial(t, s)
	send(t, cur, libero(tinyObs(2), keys, "seq", 1))
	waitFor(t, func() bool { return len(s.jobs) == 1 })
	g.release <- struct{}{} // answers the old request: nobody to send it to
	<-g.entered
	g.release <- struct{}{}
	r := readReply(t, cur)
	if !r.hasSeq || r.seq != 1 || r.actions[0] != 2 {
		t.Fatalf("reply seq %d (sent %v) answering state %v, want seq 1 answering state 2", r.seq, r.hasSeq, r.actions[0])
	}
	first := r.session

	// The next reply on the same connection answers the next request: no
	// stray reply came in between.
	send(t, cur, libero(tinyObs(3), keys)) // no seq: the server numbers it
	<-g.entered
	g.release <- struct{}{}
	r = readReply(t, cur)
	if r.seq != 2 || r.session != first || r.actions[0] != 3 {
		t.Fatalf("second reply: session %d seq %d state %v, want session %d seq 2 state 3", r.session, r.seq, r.actions[0], first)
	}
}

// counter reads one series from the metrics page at url.
func counter(t *testing.T, url, series string) float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			var f float64
			if err := json.Unmarshal([]byte(v), &f); err != nil {
				t.Fatalf("%s: %q", series, v)
			}
			return f
		}
	}
	return 0
}

// A request the model does not answer within request_timeout gets a
// "timeout" error; one that is still queued at its deadline is skipped,
// never run late.
func TestRequestTimeout(t *testing.T) {
	g := newGate(fakeMeta())
	s := start(t, Conf{SkipWarmup: true, RequestTimeout: 50e6}, g) // 50 ms
	keys := []string{"observation/image"}
	a, _ := dial(t, s)
	b, _ := dial(t, s)
	send(t, a, libero(tinyObs(1), keys))
	<-g.entered // a is being inferred and will be late
	send(t, b, libero(tinyObs(2), keys))
	expectError(t, a, websocket.CloseInternalServerErr, "timeout")
	expectError(t, b, websocket.CloseInternalServerErr, "timeout")
	g.release <- struct{}{} // a's inference ends; b's job is past its deadline

	c, _ := dial(t, s)
	send(t, c, libero(tinyObs(3), keys))
	<-g.entered
	g.release <- struct{}{}
	if r := readReply(t, c); r.actions[0] != 3 {
		t.Fatalf("reply answers state %v, want 3", r.actions[0])
	}
	g.mu.Lock()
	calls := g.calls
	g.mu.Unlock()
	if calls != 2 {
		t.Fatalf("the model ran %d times, want 2 (the expired request skipped)", calls)
	}
	if n := counter(t, "http://"+s.Addr().String()+"/metrics", `efferent_requests_total{outcome="timeout"}`); n != 2 {
		t.Fatalf("timeout counter %v, want 2", n)
	}
}

// /readyz is 503 until the worker's warm-up inference has finished; /healthz
// answers throughout.
func TestReadyz(t *testing.T) {
	g := newGate(fakeMeta())
	s := start(t, Conf{}, g)
	base := "http://" + s.Addr().String()
	<-g.entered // warming up
	if code, body := get(t, base+"/readyz", ""); code != http.StatusServiceUnavailable || !strings.Contains(body, "warming") {
		t.Fatalf("/readyz during warm-up: %d %q", code, body)
	}
	if code, _ := get(t, base+"/healthz", ""); code != http.StatusOK {
		t.Fatalf("/healthz during warm-up: %d", code)
	}
	if s.Ready() {
		t.Fatal("Ready before the warm-up finished")
	}
	g.release <- struct{}{}
	waitFor(t, s.Ready)
	if code, body := get(t, base+"/readyz", ""); code != http.StatusOK || body != "ready\n" {
		t.Fatalf("/readyz after warm-up: %d %q", code, body)
	}
}

func get(t *testing.T, url, bearer string) (int, string) {
	t.Helper()
	return call(t, http.MethodGet, url, bearer)
}

// call makes one HTTP request, with a bearer token when given, and
// returns the status and body.
func call(t *testing.T, method, url, bearer string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// With a token configured, everything but /healthz and /readyz needs it,
// as a bearer header or a ?token= query parameter; failures are 401 with a
// JSON body saying what was wrong.
func TestAuth(t *testing.T) {
	const tok = "0123456789abcdef-token"
	s := start(t, Conf{SkipWarmup: true, AuthToken: tok}, newGate(fakeMeta()))
	base := "http://" + s.Addr().String()
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, _ := get(t, base+p, ""); code != http.StatusOK {
			t.Fatalf("%s without a token: %d, want 200", p, code)
		}
	}
	cases := []struct {
		name, url, bearer string
		code              int
		msg               string
	}{
		{"no token", base + "/metrics", "", 401, "needs a token"},
		{"wrong bearer", base + "/metrics", "0123456789abcdef-wrong", 401, "wrong token"},
		{"wrong query", base + "/metrics?token=nope", "", 401, "wrong token"},
		{"bearer", base + "/metrics", tok, 200, "efferent_requests_total"},
		{"query", base + "/metrics?token=" + tok, "", 200, "efferent_requests_total"},
	}
	for _, tc := range cases {
		code, body := get(t, tc.url, tc.bearer)
		if code != tc.code || !strings.Contains(body, tc.msg) {
			t.Fatalf("%s: %d %q, want %d containing %q", tc.name, code, body, tc.code, tc.msg)
		}
		if code == 401 {
			var e struct{ Error string }
			if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == "" {
				t.Fatalf("%s: 401 body %q is not {\"error\": …}", tc.name, body)
			}
		}
	}
	ws := "ws://" + s.Addr().String() + "/"
	if _, resp, err := websocket.DefaultDialer.Dial(ws, nil); err == nil || resp == nil || resp.StatusCode != 401 {
		t.Fatalf("websocket without a token: err %v, want a 401 handshake refusal", err)
	}
	for _, h := range []http.Header{{"Authorization": {"Bearer " + tok}}, nil} {
		url := ws
		if h == nil {
			url += "?token=" + tok
		}
		c, _, err := websocket.DefaultDialer.Dial(url, h)
		if err != nil {
			t.Fatalf("websocket with the token (header %v): %v", h != nil, err)
		}
		if typ, _, err := c.ReadMessage(); err != nil || typ != websocket.BinaryMessage {
			t.Fatalf("metadata frame: %v", err)
		}
		c.Close()
	}
	if n := counter(t, base+"/metrics?token="+tok, `efferent_requests_total{outcome="unauthorized"}`); n != 4 {
		t.Fatalf("unauthorized counter %v, want 4", n)
	}
}
