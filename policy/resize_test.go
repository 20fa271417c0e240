package policy_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/policy"
)

// recorder is a Policy that remembers the images it was given.
type recorder struct {
	md     policy.Metadata
	got    map[string]efferent.Image
	closed bool
}

func (r *recorder) Infer(_ context.Context, obs *efferent.Observation, _ *efferent.Chunk) error {
	r.got = map[string]efferent.Image{}
	for k, v := range obs.Images {
		r.got[k] = v
	}
	return nil
}
func (r *recorder) Metadata() policy.Metadata { return r.md }
func (r *recorder) Close() error              { r.closed = true; return nil }

// halver is a Resizer seam that fills dst with the model size and counts
// calls; the real one (OpenCV) is tested in camera/cv.
type halver struct {
	h, w   int
	calls  int
	closed bool
}

func (z *halver) Apply(src efferent.Image, dst *efferent.Image) error {
	z.calls++
	n := z.h * z.w * 3
	if cap(dst.Pix) < n {
		dst.Pix = make([]byte, n)
	}
	*dst = efferent.Image{H: z.h, W: z.w, C: 3, Pix: dst.Pix[:n]}
	return nil
}
func (z *halver) Close() { z.closed = true }

func img(h, w int) efferent.Image {
	return efferent.Image{H: h, W: w, C: 3, Pix: make([]byte, h*w*3)}
}

func TestResizing(t *testing.T) {
	inner := &recorder{md: policy.Metadata{ImageHeight: 4, ImageWidth: 4, Resize: "resize_with_pad"}}
	made := map[string]*halver{}
	p := policy.Resizing(inner, func(key string) (policy.Resizer, error) {
		z := &halver{h: 4, w: 4}
		made[key] = z
		return z, nil
	})
	right := img(4, 4)
	obs := &efferent.Observation{Images: map[string]efferent.Image{"a": right, "b": img(8, 6)}}
	for range 3 {
		if err := p.Infer(context.Background(), obs, &efferent.Chunk{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := made["a"]; ok {
		t.Fatal("an image of the model's size was resized")
	}
	if &inner.got["a"].Pix[0] != &right.Pix[0] {
		t.Fatal("an image of the model's size was copied")
	}
	if b := inner.got["b"]; b.H != 4 || b.W != 4 {
		t.Fatalf("b reached the policy as %dx%d", b.H, b.W)
	}
	if made["b"].calls != 3 || len(made) != 1 {
		t.Fatalf("resizer made %d times, called %d times; want one resizer reused", len(made), made["b"].calls)
	}
	if obs.Images["b"].H != 8 {
		t.Fatal("the caller's observation was modified")
	}
	if err := p.Close(); err != nil || !inner.closed || !made["b"].closed {
		t.Fatalf("Close: err %v, policy closed %v, resizer closed %v", err, inner.closed, made["b"].closed)
	}
}

func TestResizingForbidden(t *testing.T) {
	inner := &recorder{md: policy.Metadata{ImageHeight: 4, ImageWidth: 4, Resize: "none"}}
	p := policy.Resizing(inner, func(string) (policy.Resizer, error) {
		t.Fatal("resizer requested although the manifest forbids resizing")
		return nil, nil
	})
	obs := &efferent.Observation{Images: map[string]efferent.Image{"cam": img(8, 8)}}
	err := p.Infer(context.Background(), obs, &efferent.Chunk{})
	if !errors.Is(err, policy.ErrBadObservation) || !strings.Contains(err.Error(), `"cam"`) || !strings.Contains(err.Error(), "forbids") {
		t.Fatalf("err = %v, want a bad observation naming the camera", err)
	}
	if inner.got != nil {
		t.Fatal("the policy ran on a wrongly sized image")
	}
}

type refuser struct{}

func (refuser) Apply(src efferent.Image, _ *efferent.Image) error {
	return errors.New("image has 1 channels, want 3")
}

// TestResizingRefusedImage: an image the resizer cannot take is the
// client's error (policy.ErrBadObservation), named by its camera.
func TestResizingRefusedImage(t *testing.T) {
	inner := &recorder{md: policy.Metadata{ImageHeight: 4, ImageWidth: 4, Resize: "resize_with_pad"}}
	p := policy.Resizing(inner, func(string) (policy.Resizer, error) { return refuser{}, nil })
	obs := &efferent.Observation{Images: map[string]efferent.Image{"cam": {H: 8, W: 8, C: 1, Pix: make([]byte, 64)}}}
	err := p.Infer(context.Background(), obs, &efferent.Chunk{})
	if !errors.Is(err, policy.ErrBadObservation) || !strings.Contains(err.Error(), `image "cam": image has 1 channels`) {
		t.Fatalf("err = %v, want a bad observation naming the camera and the resizer's reason", err)
	}
}
