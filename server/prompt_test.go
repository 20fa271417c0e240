package server

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// TestLongLiberoInstruction: a real 17-word LIBERO instruction, one word
// more than efferent-tiny's 16 tokens, is answered as openpi's LIBERO
// client sends it (cut by the manifest's default text.truncation), and
// each such answer is counted in /metrics.
func TestLongLiberoInstruction(t *testing.T) {
	pol, m, g := embeddedPolicy(t, "efferent-tiny")
	s := start(t, Conf{}, pol)
	c, _ := dial(t, s)
	obs, err := g.Cases[0].Observation(m.Obs.ImageHeight, m.Obs.ImageWidth)
	if err != nil {
		t.Fatal(err)
	}
	obs.Prompt = "pick up the black bowl between the plate and the ramekin and place it on the plate"
	for i := range 2 {
		if err := c.WriteMessage(websocket.BinaryMessage, libero(obs, pol.Metadata().ImageKeys)); err != nil {
			t.Fatal(err)
		}
		typ, data, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if typ != websocket.BinaryMessage {
			t.Fatalf("reply %d: type %d %q, want the actions", i, typ, data)
		}
		if r, err := parseReply(data); err != nil || len(r.shape) != 2 || r.shape[0] != m.Action.Horizon {
			t.Fatalf("reply %d: %v %v", i, err, r.shape)
		}
	}
	res, err := http.Get("http://" + s.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(body), "\nefferent_prompt_truncated_total 2\n") {
		t.Fatalf("metrics do not count 2 truncated prompts:\n%s", grepLines(string(body), "truncated"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
