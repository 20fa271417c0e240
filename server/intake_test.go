package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/policy"
)

// pixelEcho answers with the mean pixel value of each camera it was given
// (at the model's size) and the first state value, so a test can tell
// which request's images reached the model.
type pixelEcho struct{ meta policy.Metadata }

func (p *pixelEcho) Infer(_ context.Context, obs *efferent.Observation, out *efferent.Chunk) error {
	out.H, out.D = 1, 3
	out.Actions = out.Actions[:0]
	for _, k := range p.meta.ImageKeys {
		im := obs.Images[k]
		if im.H != p.meta.ImageHeight || im.W != p.meta.ImageWidth {
			return fmt.Errorf("%s is %dx%d", k, im.H, im.W)
		}
		sum := 0
		for _, v := range im.Pix {
			sum += int(v)
		}
		out.Actions = append(out.Actions, float64(sum)/float64(len(im.Pix)))
	}
	out.Actions = append(out.Actions, obs.State[0])
	return nil
}
func (p *pixelEcho) Metadata() policy.Metadata { return p.meta }
func (p *pixelEcho) Close() error              { return nil }

// boxResizer is a Go stand-in for OpenCV's resizer (a unit-test seam; the
// real one is tested with bench serve and in cmd/efferent): it writes the
// top-left pixel of each block straight into dst.Pix, reusing it.
type boxResizer struct{ h, w int }

func (r boxResizer) Apply(src efferent.Image, dst *efferent.Image) error {
	n := r.h * r.w * 3
	if cap(dst.Pix) < n {
		dst.Pix = make([]byte, n)
	}
	dst.H, dst.W, dst.C, dst.Pix = r.h, r.w, 3, dst.Pix[:n]
	for y := range r.h {
		for x := range r.w {
			sy, sx := y*src.H/r.h, x*src.W/r.w
			copy(dst.Pix[(y*r.w+x)*3:][:3], src.Pix[(sy*src.W+sx)*3:])
		}
	}
	return nil
}

func uniform(h, w int, v byte) efferent.Image {
	pix := make([]byte, h*w*3)
	for i := range pix {
		pix[i] = v
	}
	return efferent.Image{H: h, W: w, C: 3, Pix: pix}
}

// TestResizedImagesArePerRequest: each connection's images are resized
// (or copied) into buffers it reuses from request to request, and read
// straight into a budget buffer once its frames are large. Whatever mix
// of sizes a connection sends — large frames resized by the decoders, in
// parallel; small frames after large ones, whose model-sized images must
// leave the budget buffer; mid-sized images resized inline — and however
// many connections do it at once, every answer is computed from its own
// request's images.
func TestResizedImagesArePerRequest(t *testing.T) {
	meta := policy.Metadata{Name: "pixels", ImageKeys: []string{"observation/image", "observation/wrist_image"},
		ImageHeight: 4, ImageWidth: 4, StateKey: "observation/state", StateDim: 2, Horizon: 1, Dim: 3}
	s := start(t, Conf{SkipWarmup: true, MaxDecodes: 2, MaxFrameBytes: 4 << 20, MaxFramePixels: 1 << 20,
		MaxInflightBytes: 64 << 20, NewResizer: func() (policy.Resizer, error) { return boxResizer{4, 4}, nil }},
		&pixelEcho{meta: meta})
	sizes := [][2]int{{600, 600}, {4, 4}, {600, 600}, {600, 600}, {16, 16}, {4, 4}, {600, 600}}
	var wg sync.WaitGroup
	for conn := range 3 {
		wg.Go(func() {
			c, _ := dial(t, s)
			for i, sz := range sizes {
				a, b := byte(10*conn+i+1), byte(100+10*conn+i)
				obs := efferent.Observation{Images: map[string]efferent.Image{
					"observation/image": uniform(sz[0], sz[1], a), "observation/wrist_image": uniform(sz[0], sz[1], b)},
					State: []float64{float64(i), 0}}
				if err := c.WriteMessage(websocket.BinaryMessage, libero(obs, meta.ImageKeys)); err != nil {
					t.Error(err)
					return
				}
				_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
				typ, data, err := c.ReadMessage()
				if err != nil || typ != websocket.BinaryMessage {
					t.Errorf("connection %d, request %d (%dx%d): type %d %q %v", conn, i, sz[0], sz[1], typ, data, err)
					return
				}
				r, err := parseReply(data)
				if err != nil {
					t.Error(err)
					return
				}
				if want := []float64{float64(a), float64(b), float64(i)}; fmt.Sprint(r.actions) != fmt.Sprint(want) {
					t.Errorf("connection %d, request %d (%dx%d): answered %v, want %v", conn, i, sz[0], sz[1], r.actions, want)
				}
			}
		})
	}
	wg.Wait()
	waitFor(t, func() bool { return valueOf(s.metrics.largeInflight) == 0 })
}

// TestDecodersShareOut: runEach hands a request's images to as many
// decoders as are free at once, runs them all on one when only one is,
// and reports busy when none frees up in time.
func TestDecodersShareOut(t *testing.T) {
	s := start(t, Conf{SkipWarmup: true, MaxDecodes: 2}, &echo{meta: fakeMeta()})
	ctx := context.Background()

	// Two decoders free: both images are worked on at once (each waits
	// for the other to have started).
	waitFor(t, func() bool { return s.decoders.idle.Load() == 2 })
	var started sync.WaitGroup
	started.Add(2)
	both := make(chan struct{})
	go func() { started.Wait(); close(both) }()
	if err := s.decoders.runEach(ctx, time.Second, 2, func(int) {
		started.Done()
		select {
		case <-both:
		case <-time.After(5 * time.Second):
			t.Error("the two images were not resized at once with two decoders free")
		}
	}); err != nil {
		t.Fatal(err)
	}

	// One decoder busy: the other does all three.
	hold, held := make(chan struct{}), make(chan struct{})
	go func() { _ = s.decoders.run(ctx, time.Second, func() { close(held); <-hold }) }()
	<-held
	ran := make([]bool, 3)
	if err := s.decoders.runEach(ctx, time.Second, 3, func(i int) { ran[i] = true }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(ran) != "[true true true]" {
		t.Fatalf("ran %v", ran)
	}

	// Both busy: busy after the wait.
	hold2, held2 := make(chan struct{}), make(chan struct{})
	go func() { _ = s.decoders.run(ctx, time.Second, func() { close(held2); <-hold2 }) }()
	<-held2
	err := s.decoders.runEach(ctx, 50*time.Millisecond, 2, func(int) { t.Error("ran with no decoder free") })
	if err == nil || !errors.Is(err, ErrOverloaded) {
		t.Fatalf("no decoder free: %v, want ErrOverloaded", err)
	}
	close(hold)
	close(hold2)
}
