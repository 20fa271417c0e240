package viewer

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/efferent/efferent/safety"
	"github.com/efferent/efferent/teleop"
)

// request makes one request over real TCP to srv with the Host and
// headers given (host "": the address dialled).
func request(t *testing.T, method, url, host string, header map[string]string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	if host != "" {
		req.Host = host
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// robotViewer is a loopback viewer without a token (the default) that
// drives a real teleop gate, e-stop and instruction setter.
type robotViewer struct {
	v      *Viewer
	url    string // http://127.0.0.1:PORT
	port   string
	mux    *teleop.Mux
	estop  *safety.EStop
	mu     sync.Mutex
	instr  []string
	teleop int
}

func newRobotViewer(t *testing.T, conf Conf) *robotViewer {
	t.Helper()
	mux, err := teleop.New(teleop.Conf{Dim: 7, Gripper: 6})
	if err != nil {
		t.Fatal(err)
	}
	rv := &robotViewer{mux: mux, estop: safety.NewEStop(nil)}
	conf.Loopback, conf.Teleop, conf.EStop = true, mux, rv.estop
	conf.SetInstruction = func(s string) error {
		rv.mu.Lock()
		defer rv.mu.Unlock()
		rv.instr = append(rv.instr, s)
		return nil
	}
	conf.OnTeleop = func(time.Time, teleop.Mode, []float64, string) {
		rv.mu.Lock()
		defer rv.mu.Unlock()
		rv.teleop++
	}
	conf.Routes = map[string]http.Handler{"GET /metrics": http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "efferent_loop_ticks_total 1\n")
	})}
	v, srv := start(t, conf)
	rv.v, rv.url = v, srv.URL
	_, rv.port, _ = net.SplitHostPort(strings.TrimPrefix(rv.url, "http://"))
	return rv
}

// unchanged fails the test if anything a command could change has
// changed: the e-stop (engaged at the start), the mode, the teleop
// command, the instruction.
func (rv *robotViewer) unchanged(t *testing.T, what string) {
	t.Helper()
	rv.mu.Lock()
	defer rv.mu.Unlock()
	vals, _ := rv.mux.Latest()
	if !rv.estop.Status().Engaged || rv.mux.Mode() != teleop.Policy || len(vals) != 0 || rv.teleop != 0 || len(rv.instr) != 0 {
		t.Fatalf("%s had an effect: e-stop engaged %v, mode %v, teleop %v (%d), instructions %q",
			what, rv.estop.Status().Engaged, rv.mux.Mode(), vals, rv.teleop, rv.instr)
	}
}

// commands are one message of each type a browser may send.
var commands = map[string]string{
	OpTeleop:      `{"type":"teleop","values":[0.5,0,0,0,0,0,1],"source":"keyboard","id":1}`,
	OpMode:        `{"type":"mode","mode":"takeover","id":2}`,
	OpEStopReset:  `{"type":"estop_reset","id":3}`,
	OpInstruction: `{"type":"instruction","instruction":"open the drawer","id":4}`,
}

// TestLoopbackMeansLoopback is issue 19's attacks on the viewer, from
// outside: a page of a rebound name (Host and Origin both the
// attacker's) or of another site cannot open the websocket, so no
// command of any type — teleop, takeover, e-stop release, instruction —
// has any effect; every other route refuses a forged Host too, but
// engaging the e-stop stays open. The page and its websocket still work
// at http://127.0.0.1:PORT/viewer/ and http://localhost:PORT/viewer/.
func TestLoopbackMeansLoopback(t *testing.T) {
	rv := newRobotViewer(t, Conf{})
	rv.estop.Trigger("test")
	ws := "ws://127.0.0.1:" + rv.port + "/viewer/ws"
	rebind := "attacker.example:" + rv.port
	attacks := []http.Header{
		{"Host": {"attacker.example"}, "Origin": {"http://attacker.example"}}, // the handshake
		{"Host": {rebind}, "Origin": {"http://" + rebind}, "Sec-Fetch-Site": {"same-origin"}},
		{"Host": {rebind}},
		{"Host": {"localhost.attacker.example:" + rv.port}},
		{"Host": {"127.0.0.1:1"}, "Origin": {"http://127.0.0.1:1"}},
		{"Origin": {"http://evil.example"}},
		{"Origin": {"http://127.0.0.1:" + rv.port}, "Sec-Fetch-Site": {"cross-site"}},
		{"Origin": {"http://localhost:" + rv.port}}, // another origin than the Host's
		{"Origin": {"null"}},
	}
	refused := 0
	for op, cmd := range commands {
		for _, h := range attacks {
			c, resp, err := websocket.DefaultDialer.Dial(ws, h)
			if err == nil {
				_ = c.WriteMessage(websocket.TextMessage, []byte(cmd))
				time.Sleep(50 * time.Millisecond)
				c.Close()
				t.Errorf("%s: a websocket with %v was accepted", op, h)
			} else if resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s: websocket with %v: %v, want 403", op, h, err)
			} else {
				var e struct{ Error string }
				b, _ := io.ReadAll(resp.Body)
				if json.Unmarshal(b, &e) != nil || !strings.Contains(e.Error, "forbidden host") && !strings.Contains(e.Error, "cross-origin") {
					t.Errorf("%s: websocket with %v: body %q", op, h, b)
				}
			}
			refused++
			rv.unchanged(t, op+" over a websocket with "+strings.ReplaceAll(strings.TrimSpace(strings.Join(h.Values("Host"), " ")), "\n", ""))
		}
	}

	// Every other route refuses a forged Host, naming what to use instead.
	for _, path := range []string{"/viewer/", "/viewer/?token=x", "/viewer", "/", "/viewer/app.js", "/viewer/style.css", "/metrics", "/viewer/nothing"} {
		code, body := request(t, http.MethodGet, rv.url+path, rebind, map[string]string{"Accept": "text/html"})
		if code != http.StatusForbidden || !strings.Contains(body, "attacker.example") || !strings.Contains(body, "http://127.0.0.1:"+rv.port+"/") {
			t.Errorf("GET %s Host %s: %d %.200q, want 403 naming the Host and http://127.0.0.1:%s/", path, rebind, code, body, rv.port)
		}
		refused++
	}
	if code, _ := request(t, http.MethodPost, rv.url+"/viewer/ws", "", map[string]string{"Origin": "http://evil.example"}); code != http.StatusForbidden {
		t.Errorf("cross-site POST: %d, want 403", code)
	}
	refused++
	rv.unchanged(t, "forged requests")
	if st := rv.v.Stats(); st.Forbidden != uint64(refused) {
		t.Errorf("Stats.Forbidden %d, want %d", st.Forbidden, refused)
	}

	// Engaging the e-stop is open to anyone, whatever the Host or origin.
	rv.estop.Reset()
	code, _ := request(t, http.MethodPost, rv.url+"/viewer/estop", rebind,
		map[string]string{"Origin": "http://evil.example", "Content-Type": "application/x-www-form-urlencoded"})
	if code != 200 || !rv.estop.Status().Engaged {
		t.Fatalf("POST /viewer/estop with a forged Host: %d, engaged %v", code, rv.estop.Status().Engaged)
	}

	// The page and its websocket work by this machine's names, as a
	// browser opens them (Origin set), and from clients without Origin.
	for _, base := range []string{"http://127.0.0.1:" + rv.port, "http://localhost:" + rv.port} {
		code, body := request(t, http.MethodGet, base+"/viewer/", "", map[string]string{"Accept": "text/html"})
		if code != 200 || !strings.Contains(body, `<script src="/viewer/app.js"`) {
			t.Fatalf("GET %s/viewer/: %d", base, code)
		}
		for _, h := range []http.Header{{"Origin": {base}, "Sec-Fetch-Site": {"same-origin"}}, nil} {
			c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/viewer/ws", h)
			if err != nil {
				t.Fatalf("websocket at %s with %v: %v", base, h, err)
			}
			waitFor(t, c, 5*time.Second, "hello", func(m msg) bool { return m.Type == "hello" })
			c.Close()
		}
	}
	// And a command from the page of this origin is carried out.
	c, _, err := websocket.DefaultDialer.Dial(ws, http.Header{"Origin": {"http://127.0.0.1:" + rv.port}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	send(t, c, commands[OpMode])
	if r := reply(t, c, 2); r["ok"] != true || rv.mux.Mode() != teleop.Takeover {
		t.Fatalf("takeover from the page: %v, mode %v", r, rv.mux.Mode())
	}
}

// With a token any Host is answered (with the token), a page of another
// site is still refused, and openpi's "Api-Key" scheme works too.
func TestGuardWithToken(t *testing.T) {
	_, srv := start(t, Conf{Token: testToken})
	if code, body := request(t, http.MethodGet, srv.URL+"/viewer/?token="+testToken, "attacker.example", nil); code != 200 {
		t.Fatalf("forged Host with the token: %d %.200q", code, body)
	}
	if code, _ := request(t, http.MethodGet, srv.URL+"/viewer/", "attacker.example", map[string]string{"Authorization": "Api-Key " + testToken}); code != 200 {
		t.Fatalf("Api-Key: %d", code)
	}
	if code, _ := request(t, http.MethodGet, srv.URL+"/viewer/", "attacker.example", nil); code != 401 {
		t.Fatalf("forged Host without the token: %d, want 401", code)
	}
	_, resp, err := websocket.DefaultDialer.Dial(wsURL(srv, "?token="+testToken), http.Header{"Origin": {"http://evil.example"}})
	if err == nil || resp == nil || resp.StatusCode != 403 {
		t.Fatalf("cross-site websocket with the token: %v %v, want 403", err, resp)
	}
	c, _, err := websocket.DefaultDialer.Dial(wsURL(srv, "?token="+testToken), http.Header{"Host": {"robot.example"}, "Origin": {"http://robot.example"}})
	if err != nil {
		t.Fatalf("websocket by another name with the token: %v", err)
	}
	c.Close()
}

// A viewer that is full answers 503 — for a browser a page that still
// offers the e-stop and says how many are connected and that a token
// makes slots need it — and stopping still works.
func TestFull(t *testing.T) {
	rv := newRobotViewer(t, Conf{MaxClients: 1})
	ws := "ws://127.0.0.1:" + rv.port + "/viewer/ws"
	c, _, err := websocket.DefaultDialer.Dial(ws, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitFor(t, c, 5*time.Second, "hello", func(m msg) bool { return m.Type == "hello" })

	code, body := request(t, http.MethodGet, rv.url+"/viewer/", "", map[string]string{"Accept": "text/html"})
	for _, want := range []string{`action="/viewer/estop"`, "1 of 1 browsers are connected", "--token", "--viewer-clients"} {
		if code != http.StatusServiceUnavailable || !strings.Contains(body, want) {
			t.Errorf("full page: %d, %q lacks %q", code, body, want)
		}
	}
	_, resp, err := websocket.DefaultDialer.Dial(ws, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("second websocket: %v %v, want 503", err, resp)
	}
	b, _ := io.ReadAll(resp.Body)
	var e struct {
		Error     string
		Connected int
	}
	if json.Unmarshal(b, &e) != nil || e.Connected != 1 || !strings.Contains(e.Error, "too many browsers") {
		t.Fatalf("503 body %q", b)
	}
	if code, _ := request(t, http.MethodPost, rv.url+"/viewer/estop", "", nil); code != 200 || !rv.estop.Status().Engaged {
		t.Fatalf("e-stop while full: %d", code)
	}
	if st := rv.v.Stats(); st.Full != 2 {
		t.Fatalf("Stats.Full %d, want 2", st.Full)
	}
}
