package server

import (
	"bytes"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/efferent/efferent"
)

// A finite but huge state (1e30) overflows the model's float32
// arithmetic: the policy refuses it (policy.ErrBadObservation), and the
// server answers a bad request — close 1008 over websocket, 400 over REST,
// counted bad_request — never "inference failed" (1011/500, error).
func TestHugeStateIsBadRequest(t *testing.T) {
	pol, m, g := fixturePolicy(t)
	s := start(t, Conf{}, pol)
	keys := pol.Metadata().ImageKeys
	obs, err := g.Cases[0].Observation(m.Obs.ImageHeight, m.Obs.ImageWidth)
	if err != nil {
		t.Fatal(err)
	}
	obs.State = slices.Clone(obs.State)
	obs.State[0] = 1e30

	c, _ := dial(t, s)
	if err := c.WriteMessage(websocket.BinaryMessage, libero(obs, keys)); err != nil {
		t.Fatal(err)
	}
	expectError(t, c, websocket.ClosePolicyViolation, `state "observation/state"[0] is 1e+30, beyond ±1e+06`)

	body := map[string]any{keys[0]: jsonNumpy(obs.Images[keys[0]]), keys[1]: jsonNumpy(obs.Images[keys[1]]),
		"prompt": obs.Prompt, "observation/state": obs.State}
	code, _, _, msg := postAct(t, s, body, nil)
	if code != 400 || !strings.Contains(msg, "beyond ±1e+06") {
		t.Fatalf("REST: %d %q, want 400 naming the state's bound", code, msg)
	}
	url := "http://" + s.Addr().String() + "/metrics"
	if bad, failed := counter(t, url, `efferent_requests_total{outcome="bad_request"}`), counter(t, url, `efferent_requests_total{outcome="error"}`); bad != 2 || failed != 0 {
		t.Fatalf("counted %v bad_request and %v error, want 2 and 0", bad, failed)
	}
}

// An image of extreme aspect (1×4096) is resized with padding to one
// pixel row instead of to nothing: it is answered, over websocket and
// REST, not refused and not "inference failed".
func TestExtremeAspectImage(t *testing.T) {
	pol, m, g := fixturePolicy(t)
	s := start(t, Conf{}, pol)
	keys := pol.Metadata().ImageKeys
	obs, err := g.Cases[0].Observation(m.Obs.ImageHeight, m.Obs.ImageWidth)
	if err != nil {
		t.Fatal(err)
	}
	obs.Images = maps.Clone(obs.Images)
	strip := efferent.Image{H: 1, W: 4096, C: 3, Pix: bytes.Repeat([]byte{200, 150, 100}, 4096)}
	obs.Images[keys[0]] = strip

	c, _ := dial(t, s)
	if err := c.WriteMessage(websocket.BinaryMessage, libero(obs, keys)); err != nil {
		t.Fatal(err)
	}
	if typ, data, err := c.ReadMessage(); err != nil || typ != websocket.BinaryMessage {
		t.Fatalf("websocket: type %d %q %v, want a binary reply", typ, data, err)
	}
	body := map[string]any{keys[0]: jsonNumpy(strip), keys[1]: jsonNumpy(obs.Images[keys[1]]),
		"prompt": obs.Prompt, "observation/state": obs.State}
	if code, _, got, msg := postAct(t, s, body, nil); code != 200 || len(got) != m.Action.Dim {
		t.Fatalf("REST: %d %q, %d values", code, msg, len(got))
	}
	url := "http://" + s.Addr().String() + "/metrics"
	if ok, failed := counter(t, url, `efferent_requests_total{outcome="ok"}`), counter(t, url, `efferent_requests_total{outcome="error"}`); ok != 2 || failed != 0 {
		t.Fatalf("counted %v ok and %v error, want 2 and 0", ok, failed)
	}
}
