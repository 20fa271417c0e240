package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestServeBundledModel starts what `make run` starts (the bundled model
// under the real ONNX Runtime) on a free port, checks it answers /healthz
// and sends openpi's metadata frame, then stops it through its context.
func TestServeBundledModel(t *testing.T) {
	cfg := bundledConfig(t)
	ctx, cancel := context.WithCancel(context.Background())
	addr, done := startServe(t, ctx, cfg)
	res, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || string(body) != "OK\n" {
		t.Fatalf("healthz: %d %q", res.StatusCode, body)
	}
	c, _, err := websocket.DefaultDialer.Dial("ws://"+addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	typ, meta, err := c.ReadMessage()
	c.Close()
	if err != nil || typ != websocket.BinaryMessage || len(meta) == 0 || meta[0]&0xf0 != 0x80 {
		t.Fatalf("metadata frame: type %d, % x, %v; want a msgpack map", typ, meta, err)
	}
	// eval drives the simulator through this server as a remote policy,
	// as it would any openpi-compatible server.
	out := t.TempDir()
	if code := execute([]string{"eval", "--suite", "goal", "--episodes", "1", "--workers", "2",
		"--policy", "ws://" + addr, "--out", out, "--log-level", "warn"}); code != 0 {
		t.Fatalf("eval against the server exited %d", code)
	}
	if episodes, errs := evalOverall(t, out); episodes != 10 || errs != 0 {
		t.Fatalf("remote eval report: %d episodes, %d errors (want 10 episodes, no errors)", episodes, errs)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v after its context ended", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within 30s of its context ending")
	}
}

// evalOverall reads the overall episode and error counts of the eval
// report written to out.
func evalOverall(t *testing.T, out string) (episodes, errs int) {
	t.Helper()
	var rep struct {
		Overall struct {
			Episodes int
			Errors   int `json:"error_count"`
		} `json:"overall"`
	}
	readReport(t, out, &rep)
	return rep.Overall.Episodes, rep.Overall.Errors
}

func TestServeMissingModel(t *testing.T) {
	t.Setenv("EFFERENT_CONFIG", "")
	cfg, err := loadConfig(flagsFor(t, "--model", "/nonexistent/model", "--addr", "127.0.0.1:0").fs)
	if err != nil {
		t.Fatal(err)
	}
	err = serve(context.Background(), cfg, func(string) { t.Error("listened without a model") })
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/model") {
		t.Fatalf("err = %v, want one naming the model directory", err)
	}
}

// bundledConfig is the default configuration (the bundled model) on a free
// loopback port; it skips the test in -short mode, which has no ONNX
// Runtime.
func bundledConfig(t *testing.T) Config {
	t.Helper()
	if testing.Short() {
		t.Skip("loads the model under ONNX Runtime")
	}
	t.Setenv("EFFERENT_CONFIG", "")
	cfg, err := loadConfig(flagsFor(t, "--addr", "127.0.0.1:0", "--log-level", "warn").fs)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// startServe runs `efferent serve` with cfg until ctx ends and returns its
// address and the channel serve's result arrives on.
func startServe(t *testing.T, ctx context.Context, cfg Config) (string, <-chan error) {
	t.Helper()
	addrs := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, func(a string) { addrs <- a }) }()
	select {
	case addr := <-addrs:
		return addr, done
	case err := <-done:
		t.Fatalf("serve ended before listening: %v", err)
	}
	return "", nil
}
