package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/policy/remote"
	"github.com/efferent/efferent/record"
	"github.com/efferent/efferent/sim"
)

// freePort returns a port that was free a moment ago on host.
func freePort(t *testing.T, host string) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// startRun runs `efferent run` in-process with args until the test ends,
// and waits until url answers (any status).
func startRun(t *testing.T, url string, args ...string) (stop func() error, logs *bytes.Buffer) {
	t.Helper()
	cmd, logs := newRunCmd(t, args...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			t.Fatal("run did not stop within 30 s of its context ending")
			return nil
		}
	}
	t.Cleanup(func() { _ = stop() })
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := http.Get(url)
		if err == nil {
			res.Body.Close()
			return stop, logs
		}
		select {
		case err := <-done:
			t.Fatalf("run ended before serving %s: %v", url, err)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer within 60 s: %v", url, err)
		}
	}
}

// outsideIP is an address of this machine other than loopback, or "" when
// it has none.
func outsideIP() string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	return ""
}

// viewerMessage reads viewer messages until one of typ arrives (frames are
// returned as their JSON header).
func viewerMessage(t *testing.T, c *websocket.Conn, typ string, d time.Duration) map[string]any {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		_ = c.SetReadDeadline(deadline)
		kind, data, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("waiting for a %s message: %v", typ, err)
		}
		var m map[string]any
		if kind == websocket.BinaryMessage {
			n := binary.BigEndian.Uint32(data)
			data = data[4 : 4+n]
		}
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		if m["type"] == typ {
			return m
		}
	}
}

// TestViewerBehindToken: `efferent run --viewer` bound to a non-loopback
// address with a token refuses the page and its websocket without the
// token (401), serves them with it, and still lets anyone stop the robot;
// without a token such an address is refused at start-up.
func TestViewerBehindToken(t *testing.T) {
	bundledConfig(t) // skips in -short: loads the model
	port := freePort(t, "0.0.0.0")
	if _, _, err := func() (string, string, error) {
		t.Setenv("EFFERENT_CONFIG", "")
		cmd := runCmd()
		cmd.Flags().String("config", "", "")
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		cmd.SetArgs([]string{"--robot", "sim", "--viewer", "--addr", "0.0.0.0:" + port, "--log-level", "warn"})
		return "", "", cmd.ExecuteContext(context.Background())
	}(); err == nil || !strings.Contains(err.Error(), "not a loopback address") {
		t.Fatalf("a non-loopback viewer without a token: %v, want a refusal", err)
	}

	const token = "viewer-test-token-0123456789"
	host := outsideIP()
	if host == "" {
		host = "127.0.0.1" // no other interface: 0.0.0.0 is still not loopback to the viewer
	}
	base := "http://" + net.JoinHostPort(host, port)
	startRun(t, base+"/viewer/app.js", "--robot", "sim", "--episodes", "0", "--viewer", "--addr", "0.0.0.0:"+port,
		"--token", token, "--log-level", "warn")

	for _, c := range []struct {
		url  string
		code int
	}{
		{"/viewer/", 401}, {"/viewer/?token=wrong-wrong-wrong-wrong", 401}, {"/viewer/?token=" + token, 200},
		{"/viewer/ws", 401}, // not even a websocket handshake without the token
	} {
		res, err := http.Get(base + c.url)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != c.code {
			t.Fatalf("GET %s: %d, want %d", c.url, res.StatusCode, c.code)
		}
	}
	origin := http.Header{"Origin": {base}}
	ws := "ws://" + net.JoinHostPort(host, port) + "/viewer/ws"
	if _, res, err := websocket.DefaultDialer.Dial(ws, origin); err == nil || res == nil || res.StatusCode != 401 {
		t.Fatalf("websocket without the token: %v, %v; want 401", err, res)
	}
	c, _, err := websocket.DefaultDialer.Dial(ws+"?token="+token, origin)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if hello := viewerMessage(t, c, "hello", 10*time.Second); hello["auth"] != "token" {
		t.Fatalf("hello %v", hello)
	}
	if f := viewerMessage(t, c, "frame", 20*time.Second); f["w"] != 224.0 {
		t.Fatalf("frame %v", f)
	}

	// Anyone may stop the robot; only the token's holder may release it.
	res, err := http.Post(base+"/viewer/estop", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	engaged := func(want bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			st := viewerMessage(t, c, "status", time.Until(deadline))
			if e, _ := st["control"].(map[string]any)["estop"].(map[string]any); e["engaged"] == want {
				return
			}
		}
	}
	if res.StatusCode != 200 {
		t.Fatalf("POST /viewer/estop without the token: %d", res.StatusCode)
	}
	engaged(true)
	if err := c.WriteMessage(websocket.TextMessage, []byte(`{"type":"estop_reset","id":1}`)); err != nil {
		t.Fatal(err)
	}
	engaged(false)
}

// TestServeViewer: `efferent serve --viewer` shows what the server sees:
// a client's frames, instruction and the chunk it was answered.
func TestServeViewer(t *testing.T) {
	cfg := bundledConfig(t)
	cfg.Viewer = true
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrs := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, func(a string) { addrs <- a }) }()
	var addr string
	select {
	case addr = <-addrs:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	v, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/viewer/ws", http.Header{"Origin": {"http://" + addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if hello := viewerMessage(t, v, "hello", 10*time.Second); hello["controls"].(map[string]any)["teleop"] != false {
		t.Fatalf("hello %v: serve has no robot to command", hello)
	}

	obs := simObservation(t, "spatial/put_the_red_block_in_the_blue_bowl")
	client, err := remote.Connect(ctx, "ws://"+addr, remote.Conf{})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	var out efferent.Chunk
	if err := client.Infer(ctx, &obs, &out); err != nil {
		t.Fatal(err)
	}
	if f := viewerMessage(t, v, "frame", 10*time.Second); f["w"] != 224.0 {
		t.Fatalf("frame %v", f)
	}
	ch := viewerMessage(t, v, "chunk", 10*time.Second)
	if ch["h"] != float64(out.H) || ch["d"] != float64(out.D) || ch["infer_ms"].(float64) <= 0 {
		t.Fatalf("chunk %v, want %dx%d with its latency", ch, out.H, out.D)
	}
	// The page is sent 6 significant digits.
	got := ch["actions"].([]any)[0].([]any)[0].(float64)
	if want := out.Actions[0]; math.Abs(got-want) > 1e-5*math.Abs(want)+1e-9 {
		t.Fatalf("chunk's first action %v, the client got %v", got, want)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := viewerMessage(t, v, "status", time.Until(deadline))
		if st["instruction"] == obs.Prompt {
			break
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
}

// TestViewerTeleopAndInstruction: over the viewer's websocket, a
// teleoperator's commands in the shadow of the policy are compared with
// it and recorded; an instruction that is no simulator task's is refused;
// a valid one ends the episode under way and the next one runs it; the
// comparison is recorded as an event and written next to the recording.
func TestViewerTeleopAndInstruction(t *testing.T) {
	bundledConfig(t) // skips in -short: loads the model
	port := freePort(t, "127.0.0.1")
	base := "http://127.0.0.1:" + port
	path := filepath.Join(t.TempDir(), "run.mcap")
	stop, logs := startRun(t, base+"/viewer/app.js", "--robot", "sim", "--episodes", "0", "--viewer",
		"--addr", "127.0.0.1:"+port, "--record", path, "--log-level", "warn")
	c, _, err := websocket.DefaultDialer.Dial("ws://127.0.0.1:"+port+"/viewer/ws", http.Header{"Origin": {base}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var mu sync.Mutex // one writer at a time on the websocket
	write := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		if err := c.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
			t.Error(err)
		}
	}
	viewerMessage(t, c, "hello", 10*time.Second)
	viewerMessage(t, c, "frame", 20*time.Second) // the policy is running

	// The teleoperator follows along at 30 Hz, as the page does.
	tk := time.NewTicker(33 * time.Millisecond)
	defer tk.Stop()
	quit := make(chan struct{})
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for {
			select {
			case <-quit:
				return
			case <-tk.C:
				write(`{"type":"teleop","values":[0.5,0,0,0,0,0,-1],"source":"keyboard"}`)
			}
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := viewerMessage(t, c, "status", time.Until(deadline))
		ctl := st["control"].(map[string]any)
		if cmp, ok := ctl["compare"].(map[string]any); ok && cmp["n"].(float64) >= 10 {
			if ctl["mode"] != "policy" {
				t.Fatalf("mode %v: the policy should drive", ctl["mode"])
			}
			break
		}
	}
	close(quit)
	<-sent

	write(`{"type":"instruction","instruction":"fly to the moon","id":1}`)
	if r := viewerMessage(t, c, "reply", 10*time.Second); r["ok"] != false || !strings.Contains(r["error"].(string), "not a simulator task") {
		t.Fatalf("bogus instruction: %v", r)
	}
	goal, err := sim.Tasks("goal")
	if err != nil {
		t.Fatal(err)
	}
	next := goal[0]
	write(`{"type":"instruction","instruction":` + strconv.Quote(next.Instruction) + `,"id":2}`)
	if r := viewerMessage(t, c, "reply", 10*time.Second); r["ok"] != true {
		t.Fatalf("instruction %q: %v", next.Instruction, r)
	}
	for {
		e := viewerMessage(t, c, "event", 20*time.Second)
		if e["kind"] == "episode_end" && e["detail"] != "ended early: instruction changed" {
			t.Fatalf("the episode under way ended otherwise: %v", e)
		}
		if e["kind"] == "episode_start" {
			if e["instruction"] != next.Instruction {
				t.Fatalf("next episode: %v, want %q", e, next.Instruction)
			}
			break
		}
	}
	deadline = time.Now().Add(20 * time.Second)
	for viewerMessage(t, c, "status", time.Until(deadline))["instruction"] != next.Instruction {
	}
	if err := stop(); err != nil {
		t.Fatalf("run: %v\n%s", err, logs)
	}

	rec, err := record.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Teleop) < 10 || rec.Teleop[0].Source != "keyboard" || rec.Teleop[0].Mode != "policy" {
		t.Fatalf("%d teleop commands recorded, first %+v", len(rec.Teleop), rec.Teleop)
	}
	var comparisons int
	for _, e := range rec.Events {
		if e.Kind == record.EventComparison && strings.Contains(e.Detail, `"n":`) {
			comparisons++
		}
	}
	if comparisons == 0 || len(rec.Episodes) < 2 || rec.Episodes[1].Start.Instruction != next.Instruction {
		t.Fatalf("%d comparison events, %d episodes", comparisons, len(rec.Episodes))
	}
	if _, err := os.Stat(strings.TrimSuffix(path, ".mcap") + "-comparison-ep1.png"); err != nil {
		t.Fatalf("the first episode's comparison is not next to the recording: %v", err)
	}
}
