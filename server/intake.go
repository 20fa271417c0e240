package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/api"
	"github.com/efferent/efferent/policy"
)

// ErrPixelRate is reported to a client that sends more image pixels per
// second than server.max_pixel_rate allows.
var ErrPixelRate = errors.New("rate limited: too many image pixels per second from this client (server.max_pixel_rate); slow down or send smaller images")

// errFramePixels is wrapped (with api.ErrTooLarge) when one request's
// images hold more than server.max_frame_pixels.
var errFramePixels = errors.New("images too large")

// intake is one client's path from bytes to an observation the model can
// take: it reads a frame within the memory budget, decodes it within the
// pixel budgets, and brings its images to the model's size on the
// client's own goroutine, so that what waits in the queue is model-sized
// whatever the client sent. A websocket connection keeps one; a REST
// request has its own.
type intake struct {
	s    *Server
	spec api.ObsSpec // s.spec with DecodeImage = in.decodeImage
	ctx  context.Context

	small []byte // the frame buffer kept between requests (cap ≤ smallFrameBytes)
	large []byte // the budget's buffer while this request holds a slot
	slot  bool   // holds a budget slot
	// pixels are this request's image pixels so far; compressed those of
	// its compressed images (charged to rate before decoding).
	pixels, compressed int
	// take takes n pixels from the client's pixel budget (a websocket
	// connection's bucket, a REST client address's); nil: no limit.
	take func(n float64) bool
}

func (s *Server) newIntake(ctx context.Context, take func(n float64) bool) *intake {
	in := &intake{s: s, spec: s.spec, ctx: ctx, take: take}
	in.spec.DecodeImage = in.decodeImage
	return in
}

// read reads one frame from r (its size already bounded by the
// transport): frames up to smallFrameBytes into the intake's own buffer,
// larger ones into a budget buffer, taking a slot first.
func (in *intake) read(r io.Reader) ([]byte, error) {
	in.pixels, in.compressed = 0, 0
	if in.small == nil {
		in.small = make([]byte, 0, 64<<10)
	}
	buf, err := readUpTo(in.small[:0], r, smallFrameBytes+1)
	if len(buf) <= smallFrameBytes {
		in.small = buf
		return buf, err
	}
	if err != nil {
		return nil, err
	}
	if err := in.acquire(); err != nil {
		return nil, err
	}
	in.large = append(in.s.budget.buffer(), buf...)
	in.large, err = readUpTo(in.large, r, int(in.s.budget.maxFrame)+1)
	return in.large, err
}

// readUpTo appends what r holds to buf, up to limit bytes in all.
func readUpTo(buf []byte, r io.Reader, limit int) ([]byte, error) {
	for len(buf) < limit {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(max(cap(buf), 4<<10), limit-len(buf))) // doubling
		}
		n, err := r.Read(buf[len(buf):min(cap(buf), limit)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}

func (in *intake) acquire() error {
	if in.slot {
		return nil
	}
	if err := in.s.budget.acquire(in.ctx, in.s.conf.RequestTimeout); err != nil {
		return err
	}
	in.slot = true
	in.s.metrics.largeInflight.Inc()
	return nil
}

// done releases what the request held beyond its small buffer.
func (in *intake) done() {
	if !in.slot {
		return
	}
	in.s.budget.release(in.large)
	in.large, in.slot = nil, false
	in.s.metrics.largeInflight.Dec()
}

// forget drops the large buffer without reusing it (the worker may still
// read it: its request timed out) and gives the slot back.
func (in *intake) forget() {
	in.large = nil
	in.done()
}

// decodeImage is the spec's DecodeImage: it reads the image's size from
// its header, charges it against the per-request and per-second pixel
// budgets before any pixel is decompressed, and decodes a large image
// only with a budget slot and a decode slot, resizing it to the model's
// size before the slot is given back.
func (in *intake) decodeImage(data []byte, maxSide int) (efferent.Image, error) {
	h, w, err := api.CompressedImageSize(data, maxSide)
	if err != nil {
		return efferent.Image{}, err
	}
	px := h * w
	if err := in.charge(px); err != nil {
		return efferent.Image{}, err
	}
	in.compressed += px
	decode := in.s.conf.DecodeImage
	if decode == nil {
		decode = api.DecodeStdImage
	}
	if px <= smallImagePixels {
		return decode(data, maxSide)
	}
	if err := in.acquire(); err != nil {
		return efferent.Image{}, err
	}
	var im efferent.Image
	if rerr := in.s.decoders.run(in.ctx, in.s.conf.RequestTimeout, func() {
		if im, err = decode(data, maxSide); err == nil {
			im, err = in.s.resized(im)
		}
	}); rerr != nil {
		return efferent.Image{}, rerr
	}
	return im, err
}

// charge counts px more pixels of this request against
// server.max_frame_pixels and the client's pixel rate.
func (in *intake) charge(px int) error {
	in.pixels += px
	if in.pixels > in.s.conf.MaxFramePixels {
		return fmt.Errorf("%w: %w: the images hold more than %d pixels (server.max_frame_pixels)", api.ErrTooLarge, errFramePixels, in.s.conf.MaxFramePixels)
	}
	if in.take != nil && !in.take(float64(px)) {
		return ErrPixelRate
	}
	return nil
}

// prepare finishes a decoded observation: it charges the raw images'
// pixels, brings every image to the model's size (when the server
// resizes: s.resizers), and, once nothing in obs refers to the frame any
// more, gives the budget back. Otherwise a large request keeps its slot
// until done.
func (in *intake) prepare(obs *efferent.Observation) error {
	total := 0
	for _, im := range obs.Images {
		total += im.H * im.W
	}
	if raw := total - in.compressed; raw > 0 {
		if err := in.charge(raw); err != nil {
			return err
		}
	}
	if in.s.resizers == nil {
		return nil
	}
	for k, im := range obs.Images {
		if im.H == in.s.meta.ImageHeight && im.W == in.s.meta.ImageWidth {
			if in.slot { // it may alias the large frame, given back below
				im.Pix = bytes.Clone(im.Pix)
				obs.Images[k] = im
			}
			continue
		}
		var err error
		if im.H*im.W > smallImagePixels {
			if rerr := in.s.decoders.run(in.ctx, in.s.conf.RequestTimeout, func() { im, err = in.s.resized(im) }); rerr != nil {
				return rerr
			}
		} else {
			im, err = in.s.resized(im)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		obs.Images[k] = im
	}
	in.done()
	return nil
}

// resized returns im brought to the model's size with a resizer from the
// pool, in a buffer of its own; im itself when the server does not resize
// or im already has the size.
func (s *Server) resized(im efferent.Image) (efferent.Image, error) {
	md := s.meta
	if s.resizers == nil || (im.H == md.ImageHeight && im.W == md.ImageWidth) {
		return im, nil
	}
	rz, err := s.resizers.get()
	if err != nil {
		return efferent.Image{}, fmt.Errorf("resizing: %w", err)
	}
	var out efferent.Image
	err = rz.Apply(im, &out)
	if err != nil {
		closeResizer(rz)
		return efferent.Image{}, fmt.Errorf("resizing %dx%d to %dx%d: %w", im.H, im.W, md.ImageHeight, md.ImageWidth, err)
	}
	out.Pix = bytes.Clone(out.Pix) // rz reuses its buffer
	s.resizers.put(rz)
	return out, nil
}

// connPixels is a websocket connection's pixel budget (nil: no limit).
func (s *Server) connPixels() func(n float64) bool {
	if s.conf.MaxPixelRate <= 0 {
		return nil
	}
	rate, burst := s.conf.MaxPixelRate, float64(s.pixelBurst())
	b := &bucket{tokens: burst, last: s.now()}
	return func(n float64) bool { return b.take(rate, burst, n, s.now()) }
}

// addrPixels is a REST client address's pixel budget (nil: no limit).
func (s *Server) addrPixels(remoteAddr string) func(n float64) bool {
	if s.pixels == nil {
		return nil
	}
	key := clientKey(remoteAddr)
	return func(n float64) bool { return s.pixels.allowN(key, s.now(), n) }
}

// resizerPool keeps the resizers connections use to bring images to the
// model's size (they are not safe for concurrent use).
type resizerPool struct {
	newResizer func() (policy.Resizer, error)
	free       chan policy.Resizer
}

func newResizerPool(newResizer func() (policy.Resizer, error), n int) *resizerPool {
	return &resizerPool{newResizer: newResizer, free: make(chan policy.Resizer, n)}
}

// get returns a pooled resizer, or a new one.
func (p *resizerPool) get() (policy.Resizer, error) {
	select {
	case rz := <-p.free:
		return rz, nil
	default:
		return p.newResizer()
	}
}

// put returns rz to the pool, closing it when the pool is full.
func (p *resizerPool) put(rz policy.Resizer) {
	select {
	case p.free <- rz:
	default:
		closeResizer(rz)
	}
}

// close frees the pooled resizers.
func (p *resizerPool) close() {
	for {
		select {
		case rz := <-p.free:
			closeResizer(rz)
		default:
			return
		}
	}
}

func closeResizer(rz policy.Resizer) {
	if c, ok := rz.(interface{ Close() }); ok {
		c.Close()
	}
}
