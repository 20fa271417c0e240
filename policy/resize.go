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
// size before inference; it batches when p does. newResizer is called once
// per camera key, lazily; each batch row keeps its own reusable buffers.
// Images that already have the model's size pass through untouched (no
// copy).
func Resizing(p Policy, newResizer func(key string) (Resizer, error)) Batcher {
	return &resizing{Policy: p, newResizer: newResizer, resizers: map[string]Resizer{}}
}

type resizing struct {
	Policy
	newResizer func(string) (Resizer, error)
	resizers   map[string]Resizer
	// rows[i] holds row i's resized images: a batch runs all rows at once,
	// so each needs buffers of its own.
	rows []resizedRow
	// Scratch for the rows that resized cleanly, passed on to the policy.
	okObs  []*efferent.Observation
	okOut  []*efferent.Chunk
	okErrs []error
	okIdx  []int
	one    One // Infer's batch of one
}

// resizedRow is one batch row's observation with its images replaced.
type resizedRow struct {
	obs    efferent.Observation
	images map[string]efferent.Image
	bufs   map[string]*efferent.Image
}

func (r *resizing) Infer(ctx context.Context, obs *efferent.Observation, out *efferent.Chunk) error {
	return r.one.Infer(ctx, r, obs, out)
}

// Unwrap is the wrapped policy (Find).
func (r *resizing) Unwrap() Policy { return r.Policy }

// MaxBatch implements Batcher: the wrapped policy's.
func (r *resizing) MaxBatch() int { return MaxBatch(r.Policy) }

// InferBatch implements Batcher: rows whose images cannot be resized get
// their error; the others go to the wrapped policy together.
func (r *resizing) InferBatch(ctx context.Context, obs []*efferent.Observation, out []*efferent.Chunk, errs []error) {
	if len(out) != len(obs) || len(errs) != len(obs) {
		InferBatch(ctx, r.Policy, obs, out, errs) // reports the mismatch
		return
	}
	for len(r.rows) < len(obs) {
		r.rows = append(r.rows, resizedRow{images: map[string]efferent.Image{}, bufs: map[string]*efferent.Image{}})
	}
	r.okObs, r.okOut, r.okErrs, r.okIdx = r.okObs[:0], r.okOut[:0], r.okErrs[:0], r.okIdx[:0]
	for i, o := range obs {
		if errs[i] = r.resize(o, &r.rows[i]); errs[i] != nil {
			continue
		}
		r.okObs, r.okOut, r.okErrs, r.okIdx = append(r.okObs, &r.rows[i].obs), append(r.okOut, out[i]), append(r.okErrs, nil), append(r.okIdx, i)
	}
	if len(r.okIdx) > 0 {
		InferBatch(ctx, r.Policy, r.okObs, r.okOut, r.okErrs)
	}
	for j, i := range r.okIdx {
		errs[i] = r.okErrs[j]
		r.okObs[j], r.okOut[j], r.okErrs[j] = nil, nil, nil // keep no caller memory alive
	}
	for i := range obs {
		r.rows[i].obs = efferent.Observation{}
		clear(r.rows[i].images)
	}
}

// resize fills row with obs, its images brought to the model's size. Images
// that already have it pass through untouched (no copy).
func (r *resizing) resize(obs *efferent.Observation, row *resizedRow) error {
	md := r.Metadata()
	clear(row.images)
	for k, im := range obs.Images {
		if h, w := md.ImageSize(k); im.H == h && im.W == w {
			row.images[k] = im
			continue
		}
		if md.Resize == "none" {
			h, w := md.ImageSize(k)
			return fmt.Errorf("%w: image %q is %dx%d, model needs %dx%d and its manifest forbids resizing",
				ErrBadObservation, k, im.H, im.W, h, w)
		}
		rz, ok := r.resizers[k]
		if !ok {
			var err error
			if rz, err = r.newResizer(k); err != nil {
				return fmt.Errorf("image %q: %w", k, err)
			}
			r.resizers[k] = rz
		}
		buf := row.bufs[k]
		if buf == nil {
			buf = &efferent.Image{}
			row.bufs[k] = buf
		}
		if err := rz.Apply(im, buf); err != nil {
			// The image (its size, channels, bytes) is what the resizer
			// could not take: the client's to fix.
			return fmt.Errorf("%w: image %q: %w", ErrBadObservation, k, err)
		}
		row.images[k] = *buf
	}
	row.obs = *obs
	row.obs.Images = row.images
	return nil
}

func (r *resizing) Close() error {
	for _, rz := range r.resizers {
		if c, ok := rz.(interface{ Close() }); ok {
			c.Close()
		}
	}
	return r.Policy.Close()
}
