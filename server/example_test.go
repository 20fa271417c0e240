package server_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/policy"
	"github.com/efferent/efferent/policy/remote"
	"github.com/efferent/efferent/server"
)

// hold is a tiny policy written in Go: every action of its chunk holds
// the state's three values. The server runs any policy.Policy: a model
// (policy/ort), a wrapper around one, or Go code like this.
type hold struct{}

func (hold) Metadata() policy.Metadata {
	return policy.Metadata{
		Name:      "hold",
		ImageKeys: []string{"observation/image"}, ImageHeight: 4, ImageWidth: 4,
		StateKey: "observation/state", StateDim: 3,
		PromptKey: "prompt", MaxPromptBytes: 256,
		Horizon: 2, Dim: 3, StepPeriod: 50 * time.Millisecond,
	}
}

func (hold) Infer(ctx context.Context, obs *efferent.Observation, out *efferent.Chunk) error {
	out.H, out.D = 2, 3
	out.Actions = append(append(out.Actions[:0], obs.State...), obs.State...)
	return nil
}

func (hold) Close() error { return nil }

// Serving a policy over openpi's websocket protocol, and querying it with
// efferent's client (an openpi client in Python would do the same).
func ExampleNew() {
	srv, err := server.New(server.Conf{Addr: "127.0.0.1:0"}, hold{}, slog.New(slog.DiscardHandler))
	if err != nil {
		log.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(context.Background()) }()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The protocol does not carry the model's geometry: the client is
	// told what to send.
	c, err := remote.Connect(ctx, "ws://"+srv.Addr().String(), remote.Conf{
		ImageKeys: []string{"observation/image"}, ImageHeight: 4, ImageWidth: 4, StateDim: 3,
	})
	if err != nil {
		log.Fatal(err)
	}
	obs := efferent.Observation{
		Images: map[string]efferent.Image{"observation/image": {H: 4, W: 4, C: 3, Pix: make([]byte, 4*4*3)}},
		State:  []float64{0.1, -0.2, 0.3},
		Prompt: "hold still",
	}
	var chunk efferent.Chunk
	if err := c.Infer(ctx, &obs, &chunk); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d actions of %d dims: %v\n", chunk.H, chunk.D, chunk.Actions)

	c.Close()
	srv.Close() // Run returns; the server closes the policy
	if err := <-done; err != nil {
		log.Fatal(err)
	}
	// Output:
	// 2 actions of 3 dims: [0.1 -0.2 0.3 0.1 -0.2 0.3]
}
