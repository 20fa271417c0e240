package server_test

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/policy"
	"github.com/efferent/efferent/policy/remote"
	"github.com/efferent/efferent/server"
)

// guideEcho answers a 4-step chunk: the guide's rows where there is one,
// with the delay in the last row, else the state. lag is its declared
// lag tolerance (policy.Metadata.MaxLagSteps).
type guideEcho struct {
	guides bool
	lag    float64
}

func (p guideEcho) Metadata() policy.Metadata {
	md := hold{}.Metadata()
	md.Name, md.Horizon, md.Guides, md.MaxLagSteps = "guide-echo", 4, p.guides, p.lag
	return md
}

func (guideEcho) Infer(_ context.Context, obs *efferent.Observation, out *efferent.Chunk) error {
	out.H, out.D = 4, 3
	out.Actions = out.Actions[:0]
	g := obs.Guide
	for k := range 3 {
		if k < g.Steps {
			out.Actions = append(out.Actions, g.Row(k)...)
		} else {
			out.Actions = append(out.Actions, obs.State...)
		}
	}
	out.Actions = append(out.Actions, float64(g.Steps), float64(g.Delay), 0)
	return nil
}

func (guideEcho) Close() error { return nil }

// TestGuideOverTheWire: a server whose model reads a guide says so in its
// metadata frame; efferent's client then sends the guide (from its second
// request on, once the chunk's width is known) and the model receives it
// intact. A server whose model cannot guide says nothing, and the client
// sends no guide. The model's declared lag tolerance reaches the client's
// metadata the same way (api.MetaMaxLagSteps), and none when undeclared.
func TestGuideOverTheWire(t *testing.T) {
	for _, guides := range []bool{true, false} {
		lag := 0.0
		if guides {
			lag = 2.5
		}
		srv, err := server.New(server.Conf{Addr: "127.0.0.1:0"}, guideEcho{guides, lag}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- srv.Run(context.Background()) }()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := remote.Connect(ctx, "ws://"+srv.Addr().String(), remote.Conf{
			ImageKeys: []string{"observation/image"}, ImageHeight: 4, ImageWidth: 4, StateDim: 3,
		})
		if err != nil {
			t.Fatal(err)
		}
		if c.Metadata().Guides != guides {
			t.Fatalf("server model guides %v; the client's metadata says %v", guides, c.Metadata().Guides)
		}
		if got := c.Metadata().MaxLagSteps; got != lag {
			t.Fatalf("server model tolerates a lag of %v steps; the client's metadata says %v", lag, got)
		}
		obs := efferent.Observation{
			Images: map[string]efferent.Image{"observation/image": {H: 4, W: 4, C: 3, Pix: make([]byte, 4*4*3)}},
			State:  []float64{0.1, -0.2, 0.3}, Prompt: "hold still",
			Guide: efferent.ActionGuide{Actions: []float64{1, 2, 3, 4, 5, 6}, Steps: 2, D: 3, Delay: 1},
		}
		var ch efferent.Chunk
		for call := range 2 {
			if err := c.Infer(ctx, &obs, &ch); err != nil {
				t.Fatal(err)
			}
			want := []float64{0.1, -0.2, 0.3, 0.1, -0.2, 0.3, 0.1, -0.2, 0.3, 0, 0, 0}
			if guides && call == 1 {
				want = []float64{1, 2, 3, 4, 5, 6, 0.1, -0.2, 0.3, 2, 1, 0}
			}
			if !slices.Equal(ch.Actions, want) {
				t.Fatalf("guides %v, call %d: the model answered %v, want %v", guides, call, ch.Actions, want)
			}
		}
		cancel()
		c.Close()
		srv.Close()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
