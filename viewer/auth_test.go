package viewer

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/efferent/efferent/safety"
)

const testToken = "0123456789abcdef0123"

func get(t *testing.T, url string, header http.Header) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestAuth: with a token, the page and its websocket answer 401 without
// it or with a wrong one, and work with it (query or bearer header); the
// e-stop stays open to anyone.
func TestAuth(t *testing.T) {
	estop := safety.NewEStop(nil)
	_, srv := start(t, Conf{Token: testToken, EStop: estop})

	html := http.Header{"Accept": {"text/html"}}
	for _, c := range []struct {
		url    string
		header http.Header
		code   int
		body   string
	}{
		{"/viewer/", html, 401, "needs a token"},
		{"/viewer/", nil, 401, `"error":"unauthorized: this viewer needs a token."`},
		{"/viewer/?token=wrong-token-wrong-token", html, 401, "token presented is wrong"},
		{"/viewer/", http.Header{"Authorization": {"Bearer nope"}}, 401, "wrong"},
		{"/viewer/?token=" + testToken, nil, 200, `<script src="/viewer/app.js"`},
		{"/viewer/", http.Header{"Authorization": {"Bearer " + testToken}}, 200, `id="plots"`},
		{"/viewer/app.js", nil, 200, "new WebSocket"}, // the same for everyone
		{"/viewer/style.css", nil, 200, "body"},
	} {
		code, body := get(t, srv.URL+c.url, c.header)
		if code != c.code || !strings.Contains(body, c.body) {
			t.Errorf("GET %s %v: %d %.200q, want %d containing %q", c.url, c.header, code, body, c.code, c.body)
		}
	}
	// The 401 page offers the e-stop.
	if _, body := get(t, srv.URL+"/viewer/", html); !strings.Contains(body, `action="/viewer/estop"`) {
		t.Errorf("the 401 page has no e-stop: %s", body)
	}

	for _, q := range []string{"", "?token=wrong-token-wrong-token"} {
		_, resp, err := dial(t, srv, q, 0)
		if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("websocket %q: %v, %v: want 401", q, err, resp)
		}
	}
	c, _, err := dial(t, srv, "?token="+testToken, 0)
	if err != nil {
		t.Fatal(err)
	}
	hello := waitFor(t, c, 5*time.Second, "hello", func(m msg) bool { return m.Type == "hello" })
	if hello.JSON["auth"] != "token" {
		t.Fatalf("hello %s", hello.Raw)
	}

	// Stopping needs no token.
	resp, err := http.Post(srv.URL+"/viewer/estop", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !estop.Status().Engaged {
		t.Fatalf("POST /viewer/estop without a token: %d, engaged %v", resp.StatusCode, estop.Status().Engaged)
	}
}

// TestOriginChecked: a page of another site cannot open the websocket
// (a loopback viewer has no token to stop it).
func TestOriginChecked(t *testing.T) {
	_, srv := start(t, Conf{Loopback: true})
	d := websocket.Dialer{}
	_, resp, err := d.Dial(wsURL(srv, ""), http.Header{"Origin": {"http://evil.example"}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin websocket: %v %v, want 403", err, resp)
	}
}

// TestConfRefused: a viewer reachable from other machines needs a token
// (or an explicit AllowNoAuth); short tokens are refused.
func TestConfRefused(t *testing.T) {
	for _, c := range []struct {
		conf Conf
		want string
	}{
		{Conf{}, "not on a loopback address and no Token"},
		{Conf{Token: "short"}, "Token: 5 characters"},
		{Conf{Loopback: true, CameraFPS: -1}, "CameraFPS"},
		{Conf{Loopback: true, ClientQueue: 2}, "ClientQueue"},
	} {
		if _, err := New(c.conf); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.conf, err, c.want)
		}
	}
	v, err := New(Conf{AllowNoAuth: true, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	_ = v.Close()
}
