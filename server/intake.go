package server

import (
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

	small []byte // the frame buffer kept between requests (cap about smallFrameBytes at most)
	large []byte // the budget's buffer while this request holds a slot
	slot  bool   // holds a budget slot
	// wasLarge: the last frame was over smallFrameBytes, so the next is
	// read straight into a budget buffer (a client's frames keep their
	// size), not into the small one first and then copied.
	wasLarge bool
	// imgs are the model-sized buffers this intake's images are resized
	// (or copied) into, written once each; a websocket connection, which
	// has one request in flight at a time, reuses them request after
	// request. used is how many the current request holds.
	imgs     [][]byte
	used     int
	toResize []resize // scratch: this request's large images to resize
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
	in.pixels, in.compressed, in.used = 0, 0, 0
	if in.wasLarge {
		if err := in.acquire(); err != nil {
			return nil, err
		}
		var err error
		in.large, err = readUpTo(in.s.budget.buffer(), r, int(in.s.budget.maxFrame)+1)
		in.wasLarge = len(in.large) > smallFrameBytes
		return in.large, err
	}
	if in.small == nil {
		in.small = make([]byte, 0, 64<<10)
	}
	buf, err := readUpTo(in.small[:0], r, smallFrameBytes+1)
	in.small = buf[:0] // keeps what it grew to
	if len(buf) <= smallFrameBytes {
		return buf, err
	}
	if err != nil {
		return nil, err
	}
	if err := in.acquire(); err != nil {
		return nil, err
	}
	in.wasLarge = true
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
	in.large, in.imgs = nil, nil
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
			im, err = in.resized(im, in.buffer())
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
	in.toResize = in.toResize[:0]
	for k, im := range obs.Images {
		if im.H == in.s.meta.ImageHeight && im.W == in.s.meta.ImageWidth {
			if in.slot && !in.owns(im) { // it may alias the large frame, given back below
				i := in.buffer()
				in.imgs[i] = append(in.imgs[i][:0], im.Pix...)
				im.Pix = in.imgs[i]
				obs.Images[k] = im
			}
			continue
		}
		if im.H*im.W > smallImagePixels {
			in.toResize = append(in.toResize, resize{key: k, im: im, buf: in.buffer()})
			continue
		}
		im, err := in.resized(im, in.buffer())
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		obs.Images[k] = im
	}
	if len(in.toResize) > 0 {
		// The large images are resized by the decoders, in parallel as far
		// as decoders are free: one hand-off for the request, not one per
		// image.
		rs := in.toResize
		defer clear(rs) // keep no reference to the frame
		if err := in.s.decoders.runEach(in.ctx, in.s.conf.RequestTimeout, len(rs), func(i int) {
			rs[i].im, rs[i].err = in.resized(rs[i].im, rs[i].buf)
		}); err != nil {
			return err
		}
		for _, r := range rs {
			if r.err != nil {
				return fmt.Errorf("%s: %w", r.key, r.err)
			}
			obs.Images[r.key] = r.im
		}
	}
	in.done()
	return nil
}

// resize is one large image of a request, resized by a decoder into
// in.imgs[buf].
type resize struct {
	key string
	im  efferent.Image
	buf int
	err error
}

// buffer takes the next of the intake's model-sized image buffers for
// this request and returns its index in in.imgs.
func (in *intake) buffer() int {
	if in.used == len(in.imgs) {
		in.imgs = append(in.imgs, nil)
	}
	in.used++
	return in.used - 1
}

// owns reports whether im lies in one of this request's image buffers.
func (in *intake) owns(im efferent.Image) bool {
	if len(im.Pix) == 0 {
		return false
	}
	for _, b := range in.imgs[:in.used] {
		if len(b) > 0 && &b[0] == &im.Pix[0] {
			return true
		}
	}
	return false
}

// resized returns im brought to the model's size with a resizer from the
// server's pool, written straight into in.imgs[buf]; im itself when the
// server does not resize or im already has the size. Resizes into
// distinct buffers may run at once.
func (in *intake) resized(im efferent.Image, buf int) (efferent.Image, error) {
	s := in.s
	md := s.meta
	if s.resizers == nil || (im.H == md.ImageHeight && im.W == md.ImageWidth) {
		return im, nil
	}
	rz, err := s.resizers.get()
	if err != nil {
		return efferent.Image{}, fmt.Errorf("resizing: %w", err)
	}
	out := efferent.Image{Pix: in.imgs[buf]}
	err = rz.Apply(im, &out)
	if err != nil {
		closeResizer(rz)
		return efferent.Image{}, fmt.Errorf("resizing %dx%d to %dx%d: %w", im.H, im.W, md.ImageHeight, md.ImageWidth, err)
	}
	in.imgs[buf] = out.Pix
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
