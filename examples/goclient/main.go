// Command goclient queries an efferent (or any openpi-compatible) server
// from Go through package policy/remote:
//
//	go run ./examples/goclient [-url ws://127.0.0.1:8000] [-token T]
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/policy/remote"
)

func main() {
	url := flag.String("url", "ws://127.0.0.1:8000", "server")
	token := flag.String("token", os.Getenv("EFFERENT_TOKEN"), "bearer token, if the server wants one")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Connect gives a Client, which dials again after a break (remote.Dial
	// gives one connection).
	p, err := remote.Connect(ctx, *url, remote.Conf{Token: *token})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	blank := func() efferent.Image { return efferent.Image{H: 224, W: 224, C: 3, Pix: make([]byte, 224*224*3)} }
	obs := efferent.Observation{
		Images: map[string]efferent.Image{"observation/image": blank(), "observation/wrist_image": blank()},
		State:  make([]float64, 8),
		Prompt: "put the red block in the blue bowl",
	}
	var ch efferent.Chunk
	for i := 0; i < 3; i++ {
		start := time.Now()
		if err := p.Infer(ctx, &obs, &ch); err != nil { // a server error comes back as *remote.ServerError
			log.Fatal(err)
		}
		fmt.Printf("chunk %dx%d in %v; first action %.3f\n", ch.H, ch.D, time.Since(start).Round(time.Microsecond), ch.Actions[:ch.D])
	}
}
