package remote

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/api"
	"github.com/efferent/efferent/policy"
)

// Policy is a connection to a policy server. Like every policy.Policy it
// belongs to one goroutine; only Close may be called from another (to abort
// a call in progress).
type Policy struct {
	url    string
	conf   Conf
	spec   api.ObsSpec
	lim    api.Limits
	conn   *websocket.Conn
	server api.Value

	send   []byte // the last request; reused so a call does not allocate ~300 kB
	sent   int64  // requests sent on this connection (an efferent server's seq)
	h, d   int    // chunk geometry, learned from the first reply
	broken error  // non-nil once the connection cannot be used any more
	// guides: the server's metadata says its model reads a guide
	// (api.MetaRealTimeChunking); guides are sent from the first reply
	// on, once the chunk's width is known.
	guides bool
	// maxLag is the server's api.MetaMaxLagSteps (0: not said).
	maxLag float64
	// timing is the last reply's policy_timing.infer_ms and
	// server_timing.infer_ms (LastTiming).
	timing [2]float64

	// The reader goroutine hands each incoming message to Infer on frames
	// and reuses its buffer only after Infer sends on ack.
	frames   chan frame
	ack      chan struct{}
	readErr  error // why the reader stopped; read only after readDone
	readDone chan struct{}
	stopping chan struct{} // closed by stop
	stopOnce sync.Once
}

type frame struct {
	typ  int
	data []byte
}

// Dial connects to a policy server at rawURL ("ws://host:port", or
// "host:port", which gets ws:// as openpi's client does) and reads its
// metadata frame. It does not retry: openpi's client waits forever for a
// server that refuses connections, which is the caller's choice to make.
func Dial(ctx context.Context, rawURL string, conf Conf) (*Policy, error) {
	conf = conf.WithDefaults()
	if err := conf.Validate(); err != nil {
		return nil, err
	}
	u, err := normalizeURL(rawURL)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, conf.DialTimeout)
	defer cancel()
	d := websocket.Dialer{
		Proxy:            http.ProxyFromEnvironment, // as gorilla's and websockets' defaults
		HandshakeTimeout: conf.DialTimeout,
		ReadBufferSize:   64 << 10,
		WriteBufferSize:  64 << 10,
		// openpi turns compression off on both sides.
		EnableCompression: false,
	}
	var hdr http.Header
	if conf.Token != "" {
		hdr = http.Header{"Authorization": {"Bearer " + conf.Token}}
	}
	conn, resp, err := d.DialContext(ctx, u, hdr)
	if err != nil {
		if resp != nil {
			if why := handshakeReason(resp); why != "" {
				err = fmt.Errorf("%w (HTTP %s: %s)", err, resp.Status, why)
			} else {
				err = fmt.Errorf("%w (HTTP %s)", err, resp.Status)
			}
		}
		return nil, fmt.Errorf("remote: dial %s: %w", u, err)
	}
	meta, err := readMetadata(ctx, conn, u, conf)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("remote %s: metadata frame: %w", u, err)
	}
	conn.SetReadLimit(conf.MaxFrameBytes)
	p := &Policy{
		url: u, conf: conf, conn: conn, server: meta, lim: api.DefaultLimits(),
		spec: api.ObsSpec{ImageKeys: conf.ImageKeys, StateKey: conf.StateKey, StateDim: conf.StateDim,
			PromptKey: conf.PromptKey},
		frames:   make(chan frame),
		ack:      make(chan struct{}, 1),
		readDone: make(chan struct{}),
		stopping: make(chan struct{}),
	}
	if g, ok := meta.Get(api.MetaRealTimeChunking); ok && g.Kind == api.Bool && g.Bool {
		p.guides = true
	}
	if v, ok := meta.Get(api.MetaMaxLagSteps); ok {
		// Only a sane tolerance is taken; anything else leaves the
		// scheduler's default.
		if f, ok := v.Number(); ok && f > 0 && f <= api.MaxGuideSteps {
			p.maxLag = f
		}
	}
	go p.readLoop()
	return p, nil
}

func normalizeURL(raw string) (string, error) {
	if !strings.Contains(raw, "://") {
		raw = "ws://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("remote: url %q: %w", raw, err)
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return "", fmt.Errorf("remote: url %q: scheme %q, want ws or wss", raw, u.Scheme)
	}
	if u.Host == "" {
		return "", fmt.Errorf("remote: url %q has no host", raw)
	}
	return u.String(), nil
}

// readMetadata reads the server's first frame within ctx.
func readMetadata(ctx context.Context, conn *websocket.Conn, u string, conf Conf) (api.Value, error) {
	conn.SetReadLimit(min(conf.MaxFrameBytes, maxMetadataBytes))
	dl, _ := ctx.Deadline()
	_ = conn.SetReadDeadline(dl)
	// The deadline covers the timeout; closing covers cancellation.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	typ, data, err := conn.ReadMessage()
	if !stop() || (err != nil && ctx.Err() != nil) {
		return api.Value{}, ctx.Err()
	}
	if err != nil {
		if errors.Is(err, websocket.ErrReadLimit) {
			return api.Value{}, fmt.Errorf("larger than %d bytes: %w", min(conf.MaxFrameBytes, maxMetadataBytes), api.ErrTooLarge)
		}
		return api.Value{}, err
	}
	_ = conn.SetReadDeadline(time.Time{})
	if typ == websocket.TextMessage {
		return api.Value{}, &ServerError{URL: u, Message: string(data)}
	}
	// data is ours (ReadMessage allocates), so the Value may alias it.
	v, err := api.Decode(data, api.DefaultLimits())
	if err != nil {
		return api.Value{}, err
	}
	if v.Kind != api.Map && v.Kind != api.Nil {
		return api.Value{}, fmt.Errorf("%w: metadata is %v, want a map", api.ErrMalformed, v.Kind)
	}
	return v, nil
}

// URL is the server's address as dialled.
func (p *Policy) URL() string { return p.url }

// ServerMetadata is the server's metadata frame: a Map (empty for openpi's
// LIBERO configs) or Nil.
func (p *Policy) ServerMetadata() api.Value { return p.server }

// Metadata describes the remote model from Conf; Horizon and Dim are 0
// until the first reply has shown them. Weights is empty: the protocol does
// not say whether the server's model is trained.
func (p *Policy) Metadata() policy.Metadata {
	return policy.Metadata{
		Name:        p.url,
		ImageKeys:   slices.Clone(p.conf.ImageKeys),
		ImageHeight: p.conf.ImageHeight, ImageWidth: p.conf.ImageWidth,
		// What openpi's LIBERO client does before sending.
		Resize:   "resize_with_pad",
		StateKey: p.conf.StateKey, StateDim: p.conf.StateDim,
		PromptKey: p.conf.PromptKey,
		Horizon:   p.h, Dim: p.d,
		StepPeriod: p.conf.StepPeriod,
		Guides:     p.guides,
		// The server's model's declared lag tolerance (0: none).
		MaxLagSteps: p.maxLag,
	}
}

// Infer sends obs and waits for the chunk, as long as ctx and
// Conf.CallTimeout allow. A server error comes back as a *ServerError.
// After an error other than a bad observation or ctx already being done on
// entry, the connection is closed and later calls return ErrClosed (Client
// dials again).
func (p *Policy) Infer(ctx context.Context, obs *efferent.Observation, out *efferent.Chunk) error {
	if err := p.usable(); err != nil {
		return err
	}
	if err := p.check(obs); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("remote %s: %w", p.url, err)
	}
	if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > p.conf.CallTimeout {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.conf.CallTimeout)
		defer cancel()
	}
	p.send = api.EncodeObservation(p.send[:0], obs, p.spec)
	if err := p.write(ctx); err != nil {
		return err
	}
	p.sent++
	var f frame
	select {
	case f = <-p.frames:
	case <-p.readDone:
		return p.fail(p.readError())
	case <-ctx.Done():
		// The reply is still coming and would be taken for the next one's.
		return p.fail(fmt.Errorf("remote %s: %w", p.url, ctx.Err()))
	}
	err := p.reply(f, obs, out)
	p.ack <- struct{}{}
	return err
}

// usable reports why the connection cannot take a request, if it cannot.
func (p *Policy) usable() error {
	if p.broken != nil {
		return p.broken
	}
	select {
	case <-p.stopping:
		return fmt.Errorf("remote %s: %w", p.url, ErrClosed)
	default:
	}
	select {
	case f := <-p.frames:
		// Nothing was asked: a text frame is an error report (the server
		// closes next); anything else breaks request/response pairing.
		var err error
		if f.typ == websocket.TextMessage {
			err = &ServerError{URL: p.url, Message: string(f.data)}
		} else {
			err = fmt.Errorf("remote %s: %w: the server sent a %d-byte frame without a request", p.url, api.ErrMalformed, len(f.data))
		}
		p.ack <- struct{}{}
		return p.fail(err)
	case <-p.readDone:
		return p.fail(p.readError())
	default:
	}
	return nil
}

// check refuses observations the server would refuse, before they cost a
// connection (a server reports a bad request by closing).
func (p *Policy) check(obs *efferent.Observation) error {
	for _, k := range p.conf.ImageKeys {
		im, ok := obs.Images[k]
		if !ok {
			return fmt.Errorf("remote: observation has no image %q", k)
		}
		if err := im.Validate(); err != nil {
			return fmt.Errorf("remote: image %q: %w", k, err)
		}
		if im.C != 3 {
			return fmt.Errorf("remote: image %q has %d channels, want 3 (RGB)", k, im.C)
		}
	}
	if len(obs.State) != p.conf.StateDim {
		return fmt.Errorf("remote: state has %d values, Conf.StateDim is %d", len(obs.State), p.conf.StateDim)
	}
	return nil
}

// write sends p.send. The write deadline covers ctx's deadline; closing the
// connection covers its cancellation (and aborts a write blocked on a
// server that does not read).
func (p *Policy) write(ctx context.Context) error {
	dl, _ := ctx.Deadline()
	_ = p.conn.SetWriteDeadline(dl)
	stop := context.AfterFunc(ctx, p.stop)
	err := p.conn.WriteMessage(websocket.BinaryMessage, p.send)
	if !stop() || (err != nil && ctx.Err() != nil) {
		return p.fail(fmt.Errorf("remote %s: %w", p.url, ctx.Err()))
	}
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// The deadline passed a hair before ctx noticed.
			return p.fail(fmt.Errorf("remote %s: send: %w", p.url, context.DeadlineExceeded))
		}
		return p.fail(fmt.Errorf("remote %s: send: %w: %w", p.url, ErrClosed, err))
	}
	return nil
}

// LastTiming is what the last reply said of its request's time: the
// model's (policy_timing.infer_ms, of the whole batch it ran in) and the
// server's (server_timing.infer_ms, from the request's arrival to its
// reply), in milliseconds; 0 when the server sent none. A round trip
// less the model's time is the transport's and the server's overhead.
func (p *Policy) LastTiming() (modelMS, serverMS float64) { return p.timing[0], p.timing[1] }

// reply turns a reply frame into out.
func (p *Policy) reply(f frame, obs *efferent.Observation, out *efferent.Chunk) error {
	if f.typ == websocket.TextMessage {
		return p.fail(&ServerError{URL: p.url, Message: string(f.data)})
	}
	r, err := api.DecodeResponse(f.data, p.lim)
	if err != nil {
		return p.fail(fmt.Errorf("remote %s: reply: %w", p.url, err))
	}
	if r.HaveSeq && r.Seq != p.sent {
		// An efferent server numbers a connection's requests from 1 when
		// the client sends no seq: this reply is not for this request.
		return p.fail(fmt.Errorf("remote %s: %w: reply seq %d, request %d", p.url, ErrStale, r.Seq, p.sent))
	}
	if r.Error != "" {
		return fmt.Errorf("remote %s: %w: %s", p.url, ErrRefused, r.Error)
	}
	if r.H < 1 || r.D < 1 {
		return p.fail(fmt.Errorf("remote %s: reply: %w: actions shape (%d, %d)", p.url, api.ErrBadShape, r.H, r.D))
	}
	if p.h == 0 {
		p.h, p.d = r.H, r.D
		if p.guides {
			p.spec.GuideDim = r.D
		}
	} else if r.H != p.h || r.D != p.d {
		// Metadata already promised the first geometry to the caller.
		return fmt.Errorf("remote %s: reply: %w: actions shape (%d, %d), earlier replies (%d, %d)",
			p.url, api.ErrBadShape, r.H, r.D, p.h, p.d)
	}
	p.timing = [2]float64{r.PolicyTiming["infer_ms"], r.ServerTiming["infer_ms"]}
	out.Actions = append(out.Actions[:0], r.Actions...)
	out.H, out.D = r.H, r.D
	out.Tokens = out.Tokens[:0]
	out.ObsTime, out.Seq = obs.Time, obs.Seq
	out.Model = p.url
	out.StepPeriod = p.conf.StepPeriod
	return nil
}

// readError explains why the reader stopped.
func (p *Policy) readError() error {
	err := p.readErr
	switch {
	case errors.Is(err, websocket.ErrReadLimit):
		return fmt.Errorf("remote %s: reply larger than Conf.MaxFrameBytes (%d bytes): %w", p.url, p.conf.MaxFrameBytes, api.ErrTooLarge)
	case err == nil:
		return fmt.Errorf("remote %s: %w", p.url, ErrClosed)
	default:
		return fmt.Errorf("remote %s: %w: %w", p.url, ErrClosed, err)
	}
}

// fail closes the connection because of err, remembers why, and returns
// err.
func (p *Policy) fail(err error) error {
	if p.broken == nil {
		p.broken = fmt.Errorf("%w (earlier: %v)", ErrClosed, err)
	}
	p.stop()
	return err
}

// stop closes the connection, which ends the reader. Safe from any
// goroutine, any number of times.
func (p *Policy) stop() {
	p.stopOnce.Do(func() {
		close(p.stopping)
		p.conn.Close()
	})
}

// Close says goodbye to the server (a normal closure, so it logs a client
// that left rather than one that vanished), closes the connection and waits
// for the reader to end. It may be called from any goroutine, more than
// once.
func (p *Policy) Close() error {
	select {
	case <-p.stopping:
	default:
		_ = p.conn.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	}
	p.stop()
	<-p.readDone
	return nil
}
