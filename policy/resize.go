package policy

import (
	"context"
	"fmt"

	"github.com/efferent/efferent"
)

// Resizer brings an image to a fixed size (implemented with OpenCV by
// camera/cv.Preprocessor). Apply reuses dst.Pix when it is large enough.
type Resizer interface {
	Apply(src efferent.Image, dst *efferent.Image) error
}

// Resizing wraps p so that images of any size are brought to the model's
// size before inference. newResizer is called once per camera key, lazily,
// so each camera keeps its own reusable buffers. Images that already have
// the model's size pass through untouched (no copy).
func Resizing(p Policy, newResizer func(key string) (Resizer, error)) Policy {
	return &resizing{Policy: p, newResizer: newResizer,
		resizers: map[string]Resizer{}, bufs: map[string]*efferent.Image{}, images: map[string]efferent.Image{}}
}

type resizing struct {
	Policy
	newResizer func(string) (Resizer, error)
	resizers   map[string]Resizer
	bufs       map[string]*efferent.Image
	images     map[string]efferent.Image
	obs        efferent.Observation
}

func (r *resizing) Infer(ctx context.Context, obs *efferent.Observation, out *efferent.Chunk) error {
	md := r.Metadata()
	clear(r.images)
	for k, im := range obs.Images {
		if im.H == md.ImageHeight && im.W == md.ImageWidth {
			r.images[k] = im
			continue
		}
		if md.Resize == "none" {
			return fmt.Errorf("image %q is %dx%d, model needs %dx%d and its manifest forbids resizing",
				k, im.H, im.W, md.ImageHeight, md.ImageWidth)
		}
		rz, ok := r.resizers[k]
		if !ok {
			var err error
			if rz, err = r.newResizer(k); err != nil {
				return fmt.Errorf("image %q: %w", k, err)
			}
			r.resizers[k], r.bufs[k] = rz, &efferent.Image{}
		}
		if err := rz.Apply(im, r.bufs[k]); err != nil {
			return fmt.Errorf("image %q: %w", k, err)
		}
		r.images[k] = *r.bufs[k]
	}
	r.obs = *obs
	r.obs.Images = r.images
	return r.Policy.Infer(ctx, &r.obs, out)
}

func (r *resizing) Close() error {
	for _, rz := range r.resizers {
		if c, ok := rz.(interface{ Close() }); ok {
			c.Close()
		}
	}
	return r.Policy.Close()
}
