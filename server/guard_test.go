package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/efferent/efferent/safety"
)

// forged is one HTTP request made from outside, over real TCP to the
// server's address, with whatever Host and headers an attacker chooses.
type forged struct {
	method, path string
	host         string            // "" : the address dialled
	header       map[string]string // Origin, Sec-Fetch-Site, Content-Type, Authorization
	body         string
}

func (f forged) do(t *testing.T, addr string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(f.method, "http://"+addr+f.path, strings.NewReader(f.body))
	if err != nil {
		t.Fatal(err)
	}
	if f.body == "" {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	if f.host != "" {
		req.Host = f.host
	}
	for k, v := range f.header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// jsonError is the "error" of a JSON error body ("" when it is not one).
func jsonError(body string) string {
	var e struct{ Error string }
	_ = json.Unmarshal([]byte(body), &e)
	return e.Error
}

// dialWS opens the openpi websocket with header (Host, Origin, …) and
// reads the metadata frame; it returns the handshake's status.
func dialWS(t *testing.T, addr string, header http.Header) (int, error) {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial("ws://"+addr+"/", header)
	if err != nil {
		if resp == nil {
			return 0, err
		}
		return resp.StatusCode, err
	}
	defer c.Close()
	if typ, _, err := c.ReadMessage(); err != nil || typ != websocket.BinaryMessage {
		t.Fatalf("metadata frame: %d %v", typ, err)
	}
	return http.StatusSwitchingProtocols, nil
}

// TestLoopbackMeansLoopback is issue 19's attacks, from outside, on a
// loopback server without a token (the `make run` default): a forged Host
// (DNS rebinding) is refused on every route but the open e-stop, a
// cross-site form cannot release the e-stop nor reach /act, and none of
// it has any effect; clients that are not browsers, and this machine's
// names, keep working.
func TestLoopbackMeansLoopback(t *testing.T) {
	e := safety.NewEStop(nil)
	g := newGate(fakeMeta())
	s := start(t, Conf{SkipWarmup: true, EStop: e}, g)
	addr := s.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	e.Trigger("test")
	engaged := func(what string) {
		t.Helper()
		if !e.Status().Engaged {
			t.Fatalf("%s released the e-stop", what)
		}
	}

	rebind := "attacker.example:" + port
	forbidden := 0
	for _, f := range []forged{
		// The DNS rebinding: Host and Origin both the attacker's.
		{method: "POST", path: "/estop/reset", host: "attacker.example", header: map[string]string{"Origin": "http://attacker.example"}},
		{method: "POST", path: "/estop/reset", host: rebind, header: map[string]string{"Origin": "http://" + rebind, "Sec-Fetch-Site": "same-origin"}},
		{method: "POST", path: "/estop/reset", host: rebind},
		{method: "POST", path: "/act", host: rebind, header: map[string]string{"Content-Type": "application/json"}, body: "{}"},
		{method: "GET", path: "/estop", host: rebind},
		{method: "GET", path: "/metrics", host: rebind},
		{method: "GET", path: "/healthz", host: rebind},
		{method: "GET", path: "/readyz", host: rebind},
		{method: "GET", path: "/anything", host: rebind},
		{method: "POST", path: "/estop/reset", host: "localhost.attacker.example:" + port},
		{method: "POST", path: "/estop/reset", host: "127.0.0.1.attacker.example:" + port},
		{method: "POST", path: "/estop/reset", host: "192.168.1.5:" + port}, // an IP literal, not this machine's
		{method: "POST", path: "/estop/reset", host: "127.0.0.1:1"},         // another port
		{method: "POST", path: "/estop/reset", host: "localhost"},           // port 80
	} {
		code, body := f.do(t, addr)
		msg := jsonError(body)
		if code != http.StatusForbidden || !strings.Contains(msg, "forbidden host") || !strings.Contains(msg, "http://127.0.0.1:"+port+f.path) ||
			!strings.Contains(msg, "allowed_hosts") || !strings.Contains(msg, "token") {
			t.Errorf("%s %s Host %q: %d %q, want 403 naming the Host and http://127.0.0.1:%s%s", f.method, f.path, f.host, code, body, port, f.path)
		}
		if f.host != "" && !strings.Contains(msg, strings.Split(f.host, ":")[0]) {
			t.Errorf("%s %s: the refusal %q does not name the Host %q", f.method, f.path, msg, f.host)
		}
		forbidden++
		engaged(f.method + " " + f.path + " Host " + f.host)
	}
	if code, err := dialWS(t, addr, http.Header{"Host": {rebind}, "Origin": {"http://" + rebind}}); code != http.StatusForbidden {
		t.Errorf("websocket with a forged Host: %d %v, want 403", code, err)
	}
	forbidden++

	// The CSRF: a cross-site form POST, and its variants.
	csrf := []forged{
		{method: "POST", path: "/estop/reset", header: map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": "http://evil.example"}, body: "a=b"},
		{method: "POST", path: "/estop/reset", header: map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{method: "POST", path: "/estop/reset", header: map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "http://other.localhost:" + port}},
		{method: "POST", path: "/estop/reset", header: map[string]string{"Origin": "null", "Content-Type": "text/plain"}, body: "x"},
		{method: "POST", path: "/act", header: map[string]string{"Content-Type": "application/json", "Origin": "http://evil.example"}, body: "{}"},
		{method: "POST", path: "/act", header: map[string]string{"Content-Type": "text/plain", "Sec-Fetch-Site": "cross-site"}, body: "{}"},
	}
	for _, f := range csrf {
		code, body := f.do(t, addr)
		if code != http.StatusForbidden || !strings.Contains(jsonError(body), "cross-origin request refused") {
			t.Errorf("%s %s %v: %d %q, want 403 cross-origin", f.method, f.path, f.header, code, body)
		}
		forbidden++
		engaged("cross-site " + f.method + " " + f.path)
	}
	for _, h := range []http.Header{
		{"Origin": {"http://evil.example"}},
		{"Origin": {"http://127.0.0.1:" + port}, "Sec-Fetch-Site": {"cross-site"}},
		{"Origin": {"null"}},
	} {
		if code, err := dialWS(t, addr, h); code != http.StatusForbidden {
			t.Errorf("cross-site websocket %v: %d %v, want 403", h, code, err)
		}
		forbidden++
	}
	// Simple-request bodies, even from this origin (or none): 415.
	badBody := 0
	for _, f := range []forged{
		{method: "POST", path: "/estop/reset", header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, body: "a=b"},
		{method: "POST", path: "/estop/reset", header: map[string]string{"Content-Type": "multipart/form-data; boundary=x", "Origin": "http://127.0.0.1:" + port}, body: "--x--"},
		{method: "POST", path: "/estop/reset", header: map[string]string{"Content-Type": "text/plain"}, body: "x"},
		{method: "POST", path: "/act", body: "{}"}, // no Content-Type
		{method: "POST", path: "/act", header: map[string]string{"Content-Type": "text/plain"}, body: "{}"},
		{method: "POST", path: "/act", header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, body: "{}"},
	} {
		code, body := f.do(t, addr)
		if code != http.StatusUnsupportedMediaType || !strings.Contains(jsonError(body), "application/json") {
			t.Errorf("%s %s %v: %d %q, want 415 asking for application/json", f.method, f.path, f.header, code, body)
		}
		badBody++
		engaged(f.method + " " + f.path + " " + f.header["Content-Type"])
	}
	g.mu.Lock()
	calls := g.calls
	g.mu.Unlock()
	if calls != 0 {
		t.Fatalf("refused /act requests reached the policy %d times", calls)
	}

	// Engaging the e-stop stays open to anyone, whatever the Host.
	if code, body := (forged{method: "POST", path: "/estop", host: rebind, header: map[string]string{"Origin": "http://evil.example", "Content-Type": "text/plain"}, body: "x"}).do(t, addr); code != 200 || !strings.Contains(body, `"engaged":true`) {
		t.Fatalf("POST /estop with a forged Host: %d %s, want 200 engaged", code, body)
	}

	// This machine's names and clients that are not browsers still work.
	for _, host := range []string{"", "localhost:" + port, "LOCALHOST.:" + port, "viewer.localhost:" + port, "0.0.0.0:" + port} {
		if code, _ := (forged{method: "GET", path: "/healthz", host: host}).do(t, addr); code != 200 {
			t.Errorf("GET /healthz Host %q: %d", host, code)
		}
		h := http.Header{}
		if host != "" {
			h.Set("Host", host)
		}
		if code, err := dialWS(t, addr, h); code != http.StatusSwitchingProtocols {
			t.Errorf("websocket Host %q without Origin (openpi's client): %d %v", host, code, err)
		}
	}
	if code, err := dialWS(t, addr, http.Header{"Origin": {"http://127.0.0.1:" + port}, "Sec-Fetch-Site": {"same-origin"}}); code != http.StatusSwitchingProtocols {
		t.Errorf("same-origin browser websocket: %d %v", code, err)
	}
	// curl -X POST http://127.0.0.1:PORT/estop/reset
	if code, body := (forged{method: "POST", path: "/estop/reset"}).do(t, addr); code != 200 || e.Status().Engaged {
		t.Fatalf("curl-like reset: %d %s", code, body)
	}
	e.Trigger("test")
	if code, body := (forged{method: "POST", path: "/estop/reset", header: map[string]string{"Content-Type": "application/json", "Origin": "http://localhost:" + port},
		host: "localhost:" + port, body: "{}"}).do(t, addr); code != 200 || e.Status().Engaged {
		t.Fatalf("same-origin JSON reset: %d %s", code, body)
	}

	base := "http://" + addr + "/metrics"
	if n := counter(t, base, `efferent_requests_total{outcome="forbidden"}`); n != float64(forbidden) {
		t.Errorf("forbidden counter %v, want %d", n, forbidden)
	}
	if n := counter(t, base, `efferent_requests_total{outcome="bad_request"}`); n != float64(badBody) {
		t.Errorf("bad_request counter %v, want %d", n, badBody)
	}
}

// With a token the Host is not restricted (the token is the boundary), but
// a cross-site page still cannot change state, token or not; openpi's own
// client header, "Authorization: Api-Key <token>", is accepted.
func TestGuardWithToken(t *testing.T) {
	const tok = "0123456789abcdef-token"
	e := safety.NewEStop(nil)
	s := start(t, Conf{SkipWarmup: true, AuthToken: tok, EStop: e}, newGate(fakeMeta()))
	addr := s.Addr().String()
	rebind := "attacker.example"
	bearer := map[string]string{"Authorization": "Bearer " + tok}
	apiKey := map[string]string{"Authorization": "Api-Key " + tok} // openpi's WebsocketClientPolicy(api_key=tok)

	if code, body := (forged{method: "GET", path: "/metrics", host: rebind, header: bearer}).do(t, addr); code != 200 {
		t.Fatalf("forged Host with the token: %d %s", code, body)
	}
	if code, body := (forged{method: "GET", path: "/metrics", host: rebind}).do(t, addr); code != 401 || !strings.Contains(body, "Api-Key") {
		t.Fatalf("forged Host without the token: %d %s, want 401 naming both schemes", code, body)
	}
	if code, body := (forged{method: "GET", path: "/metrics", header: apiKey}).do(t, addr); code != 200 || !strings.Contains(body, "efferent_requests_total") {
		t.Fatalf("GET /metrics with Api-Key: %d", code)
	}
	if code, body := (forged{method: "GET", path: "/metrics", header: map[string]string{"Authorization": "Api-Key wrong-wrong-wrong-wrong"}}).do(t, addr); code != 401 || !strings.Contains(body, "wrong token") {
		t.Fatalf("GET /metrics with a wrong Api-Key: %d %s", code, body)
	}
	if code, err := dialWS(t, addr, http.Header{"Authorization": {"Api-Key " + tok}}); code != http.StatusSwitchingProtocols {
		t.Fatalf("openpi websocket with Api-Key: %d %v", code, err)
	}
	if code, err := dialWS(t, addr, http.Header{"Authorization": {"Api-Key " + tok}, "Host": {rebind}}); code != http.StatusSwitchingProtocols {
		t.Fatalf("websocket with a forged Host and the token: %d %v", code, err)
	}
	if code, err := dialWS(t, addr, http.Header{"Authorization": {"api-key " + tok}, "Origin": {"http://evil.example"}}); code != http.StatusForbidden {
		t.Fatalf("cross-site websocket with the token: %d %v, want 403", code, err)
	}

	e.Trigger("test")
	csrf := map[string]string{"Authorization": "Bearer " + tok, "Origin": "http://evil.example", "Content-Type": "application/x-www-form-urlencoded"}
	if code, body := (forged{method: "POST", path: "/estop/reset", header: csrf, body: "a=b"}).do(t, addr); code != 403 || !e.Status().Engaged {
		t.Fatalf("cross-site reset with the token: %d %s, engaged %v", code, body, e.Status().Engaged)
	}
	if code, body := (forged{method: "POST", path: "/estop/reset", host: rebind, header: apiKey}).do(t, addr); code != 200 || e.Status().Engaged {
		t.Fatalf("reset with Api-Key and any Host: %d %s", code, body)
	}
}

// Listening beyond loopback without a token (allow_no_auth), any IP
// literal and the names of allowed_hosts are answered; other names are
// not.
func TestGuardExposed(t *testing.T) {
	s, err := New(Conf{Addr: "0.0.0.0:0", AllowNoAuth: true, SkipWarmup: true, AllowedHosts: []string{"Robot.Lab.example"}},
		newGate(fakeMeta()), quietLog())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }()
	t.Cleanup(func() { s.Close(); <-done })
	_, port, _ := net.SplitHostPort(s.Addr().String())
	addr := "127.0.0.1:" + port
	for host, want := range map[string]int{
		"192.168.1.5:" + port:      200,
		"[2001:db8::1]:9999":       200,
		"robot.lab.example:8443":   200,
		"localhost:" + port:        200,
		"attacker.example:" + port: 403,
		"lab.example:" + port:      403,
	} {
		if code, body := (forged{method: "GET", path: "/healthz", host: host}).do(t, addr); code != want {
			t.Errorf("Host %q: %d %s, want %d", host, code, body, want)
		}
	}
	if _, err := New(Conf{Addr: "127.0.0.1:0", AllowedHosts: []string{"robot:8000"}}, newGate(fakeMeta()), quietLog()); err == nil ||
		!strings.Contains(err.Error(), "server.allowed_hosts[0]") {
		t.Fatalf("allowed_hosts with a port: %v", err)
	}
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A flood of refused requests writes a bounded number of WARN lines (the
// rest are summarised when the interval ends), while every one is
// counted.
func TestRefusalLogsBounded(t *testing.T) {
	var logs syncBuffer
	const tok = "0123456789abcdef-token"
	s, err := New(Conf{Addr: "127.0.0.1:0", SkipWarmup: true, AuthToken: tok}, newGate(fakeMeta()), slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }()
	t.Cleanup(func() { s.Close(); <-done })
	addr := s.Addr().String()
	const n = 40
	for range n {
		if code, _ := (forged{method: "GET", path: "/metrics"}).do(t, addr); code != 401 {
			t.Fatalf("unauthorized: %d", code)
		}
		if code, _ := (forged{method: "POST", path: "/act", header: map[string]string{"Authorization": "Bearer " + tok, "Origin": "http://evil.example"}}).do(t, addr); code != 403 {
			t.Fatalf("cross-origin: %d", code)
		}
	}
	for _, c := range []struct{ line, series string }{
		{`msg="unauthorized request"`, "unauthorized"},
		{`msg="request refused"`, "forbidden"},
	} {
		if got := strings.Count(logs.String(), c.line); got != refusalLines {
			t.Errorf("%d %q lines for %d refusals, want %d", got, c.line, n, refusalLines)
		}
		if v := counter(t, "http://"+addr+"/metrics?token="+tok, `efferent_requests_total{outcome="`+c.series+`"}`); v != n {
			t.Errorf("%s counter %v, want %d", c.series, v, n)
		}
	}
}
