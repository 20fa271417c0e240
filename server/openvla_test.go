package server

import (
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/efferent/efferent/internal/golden"
	"github.com/efferent/efferent/internal/openvlafixture"
	"github.com/efferent/efferent/policy"
)

// TestOpenVLAFixtureREST serves models/efferent-openvla-fixture (loaded
// from a directory: graphs by path with external data, the fetched Llama-
// family tokenizer, OpenVLA's prompt template) and posts what OpenVLA's
// deploy client posts to /act: the image as json_numpy, the instruction,
// unnorm_key. The answer is the 7-d action that OpenVLA's own decoding
// (golden.json: numpy's un-normalisation of PyTorch's greedy tokens) gives,
// to the last bit.
func TestOpenVLAFixtureREST(t *testing.T) {
	dir := openvlafixture.Dir(t)
	m, err := policy.LoadManifest(os.DirFS(dir), dir)
	if err != nil {
		t.Fatal(err)
	}
	g, err := golden.Load(m.FS, m.Golden)
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, Conf{}, resizingPolicy(t, m))
	const exact = 1e-12 // tokens are discrete and the decoding float64 on both sides
	for i, c := range g.Cases {
		obs, err := c.Observation(m.Obs.ImageHeight, m.Obs.ImageWidth)
		if err != nil {
			t.Fatal(err)
		}
		want := c.FlatActions()
		body := map[string]any{"image": jsonNumpy(obs.Images["observation/image"]), "instruction": obs.Prompt,
			"state": obs.State}
		if i%2 == 1 {
			body["unnorm_key"] = m.Name
		}
		code, shape, got, msg := postAct(t, s, body, nil)
		if code != 200 {
			t.Fatalf("case %d: %d %s", i, code, msg)
		}
		if len(shape) != 1 || shape[0] != 7 || len(got) != 7 {
			t.Fatalf("case %d: shape %v, want [7]", i, shape)
		}
		for j := range want {
			if d := math.Abs(got[j] - want[j]); d > exact || math.IsNaN(got[j]) {
				t.Fatalf("case %d (%q, image %s): action[%d] = %v, OpenVLA's decoding of tokens %v gives %v",
					i, c.Prompt, c.Images["observation/image"], j, got[j], c.Tokens, want[j])
			}
		}
	}

	// The whole chunk (H = 1), double-encoded as OpenVLA's client may send it.
	c := g.Cases[len(g.Cases)-1]
	obs, _ := c.Observation(m.Obs.ImageHeight, m.Obs.ImageWidth)
	inner, _ := json.Marshal(map[string]any{"image": jsonNumpy(obs.Images["observation/image"]), "instruction": obs.Prompt,
		"state": obs.State, "chunk": true})
	code, shape, got, msg := postAct(t, s, map[string]any{"encoded": string(inner)}, nil)
	if code != 200 || len(shape) != 2 || shape[0] != 1 || shape[1] != 7 {
		t.Fatalf("chunk: %d %s shape %v", code, msg, shape)
	}
	for j, w := range c.FlatActions() {
		if math.Abs(got[j]-w) > exact {
			t.Fatalf("chunk: action[%d] = %v, want %v", j, got[j], w)
		}
	}

	// OpenVLA's unnorm_key names a dataset; this model has one set of
	// statistics, under its own name: another name is refused, not guessed.
	code, _, _, msg = postAct(t, s, map[string]any{"image": jsonNumpy(obs.Images["observation/image"]),
		"instruction": obs.Prompt, "state": obs.State, "unnorm_key": "libero_spatial_no_noops"}, nil)
	if code != 400 || !strings.Contains(msg, "unnorm_key") {
		t.Fatalf("foreign unnorm_key: %d %s, want 400 naming unnorm_key", code, msg)
	}
}
