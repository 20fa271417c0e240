package server

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/gorilla/websocket"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/api"
)

// connection is one websocket client. Its goroutine does all reads and
// data writes; only pings come from elsewhere (WriteControl is safe to call
// concurrently).
type connection struct {
	s      *Server
	ws     *websocket.Conn
	remote string
	// session is this connection's id (unique in the process), sent in
	// every reply with the request's seq: a client that reconnects can
	// never be answered on its new connection for a request of the old
	// one, because the reply to a request is only ever written on the
	// connection that read it, and the reply says which it was.
	session  int64
	requests int64       // requests read on this connection
	timer    *time.Timer // the request deadline, reused (see Server.answer)

	in    *intake // reads and decodes requests within the server's budgets
	frame []byte  // the request being answered (in's buffer)
	// reading is true while a message is read (its deadline is
	// body_timeout, which pongs must not extend); idleUntil is when the
	// connection is closed unless a request starts (idle_timeout).
	reading   bool
	idleUntil time.Time
	reply     []byte // the last reply, reused
	job       job
	// prevTotal is openpi's prev_total_ms: the previous request's time from
	// the start of waiting for it to its reply being sent.
	prevTotal time.Duration
	havePrev  bool
	premise   *premiseGate // nil without Conf.Premise
}

func (c *connection) serve() {
	s := c.s
	log := s.log.With("remote", c.remote)
	log.Info("client connected")
	defer c.ws.Close()
	c.ws.SetReadLimit(s.conf.MaxFrameBytes)
	stop := make(chan struct{})
	defer close(stop)
	c.keepalive(stop)
	go func() {
		select {
		case <-s.ctx.Done():
			c.closeWith(websocket.CloseGoingAway, "server shutting down")
		case <-stop:
		}
	}()

	if err := c.ws.WriteMessage(websocket.BinaryMessage, s.metaFrame); err != nil {
		log.Debug("metadata write failed", "err", err)
		return
	}
	for {
		waitStart := s.now()
		c.waitDeadline()
		typ, r, err := c.ws.NextReader()
		if err != nil {
			c.endRead(log, err)
			return
		}
		// From its first frame, a message must arrive within body_timeout:
		// answering pings does not keep a trickled message alive.
		c.reading = true
		_ = c.ws.SetReadDeadline(s.now().Add(s.conf.BodyTimeout))
		c.frame, err = c.in.read(r)
		if err != nil {
			c.in.done()
			switch {
			case errors.Is(err, websocket.ErrReadLimit):
				// gorilla has already sent close 1009 (message too big).
				s.metrics.badRequest.Inc()
				s.refusals.Warn(log, "too_large", "request too large", "limit_bytes", s.conf.MaxFrameBytes)
				c.linger()
			case errors.Is(err, ErrOverloaded):
				s.metrics.busy.Inc()
				c.fail(log, websocket.CloseTryAgainLater, err)
			case errors.Is(err, ErrClosed):
				c.closeWith(websocket.CloseGoingAway, "server shutting down")
			default:
				c.endRead(log, err)
			}
			return
		}
		c.reading = false
		if typ != websocket.BinaryMessage {
			c.in.done()
			s.metrics.badRequest.Inc()
			c.fail(log, websocket.ClosePolicyViolation, fmt.Errorf("%w: expected a binary msgpack frame, got a text frame", api.ErrMalformed))
			return
		}
		ok := c.handle(log, waitStart)
		c.in.done()
		if !ok {
			return
		}
		// An idle connection keeps nothing of its last request but its
		// small frame buffer and its model-sized image buffers (one per
		// camera): the frame went back to the budget.
		c.frame, c.job.obs = nil, efferent.Observation{}
		c.idleUntil = s.now().Add(s.conf.IdleTimeout)
	}
}

// handle answers one request; it returns false when the connection must end.
func (c *connection) handle(log *slog.Logger, waitStart time.Time) bool {
	s := c.s
	reqStart := s.now()
	if !s.rate.allow(clientKey(c.remote), reqStart) {
		s.metrics.rateLimited.Inc()
		c.fail(log, websocket.CloseTryAgainLater, ErrRateLimited)
		return false
	}
	obs, info, err := api.DecodeRequest(c.frame, c.in.spec, s.limits)
	if err == nil {
		err = c.in.prepare(&obs)
	}
	decodeDur := s.now().Sub(reqStart)
	s.metrics.decode.Observe(decodeDur.Seconds())
	switch {
	case errors.Is(err, ErrPixelRate):
		s.metrics.rateLimited.Inc()
		c.fail(log, websocket.CloseTryAgainLater, err)
		return false
	case errors.Is(err, ErrOverloaded):
		s.metrics.busy.Inc()
		c.fail(log, websocket.CloseTryAgainLater, err)
		return false
	case errors.Is(err, ErrClosed):
		c.closeWith(websocket.CloseGoingAway, "server shutting down")
		return false
	}
	if err != nil {
		s.metrics.badRequest.Inc()
		c.fail(log, websocket.ClosePolicyViolation, fmt.Errorf("bad observation: %w", err))
		return false
	}
	c.requests++
	seq := c.requests
	if info.HasSeq {
		seq = info.Seq
	}
	var verdict *api.Premise
	if c.premise != nil {
		v, refusal, err := s.checkPremise(c.premise, &obs, log)
		if err != nil {
			s.metrics.badRequest.Inc()
			c.fail(log, websocket.ClosePolicyViolation, fmt.Errorf("bad observation: %w", err))
			return false
		}
		if refusal != "" {
			// No inference, no actions: the instruction cannot be acted
			// on. The client may send another on this connection.
			c.reply = api.AppendResponse(c.reply[:0], &api.Response{Premise: &v, Error: refusal,
				ServerInferMS: ms(s.now().Sub(reqStart)), Session: c.session, Seq: seq, HaveSeq: true})
			if err := c.ws.WriteMessage(websocket.BinaryMessage, c.reply); err != nil {
				log.Info("client left before its reply", "seq", seq, "err", err)
				return false
			}
			return true
		}
		verdict = &v
	}
	j := &c.job
	j.obs = obs
	j.obs.Time = reqStart
	j.obs.Seq = uint64(c.requests)
	switch err := s.answer(j, c.timer); {
	case errors.Is(err, ErrClosed):
		c.closeWith(websocket.CloseGoingAway, "server shutting down")
		return false
	case errors.Is(err, ErrBusy):
		c.fail(log, websocket.CloseTryAgainLater, err)
		return false
	case isBadObservation(err):
		// The policy refused what the client sent (counted bad_request).
		c.fail(log, websocket.ClosePolicyViolation, err)
		return false
	case err != nil:
		// A timeout ends the connection too: the worker may still hold
		// j, which must not be reused (nor the frame its images may
		// alias); the client reconnects.
		c.in.forget()
		c.fail(log, websocket.CloseInternalServerErr, err)
		return false
	}
	encStart := s.now()
	resp := api.Response{
		Actions: j.chunk.Actions, H: j.chunk.H, D: j.chunk.D,
		PolicyInferMS: ms(j.inferDur), BatchSize: j.batchSize,
		ServerInferMS: ms(encStart.Sub(reqStart)),
		PrevTotalMS:   ms(c.prevTotal), HavePrevTotal: c.havePrev,
		Session: c.session, Seq: seq, HaveSeq: true, Premise: verdict,
	}
	c.reply = api.AppendResponse(c.reply[:0], &resp)
	s.metrics.encode.Observe(s.now().Sub(encStart).Seconds())
	if err := c.ws.WriteMessage(websocket.BinaryMessage, c.reply); err != nil {
		// The client left while its request was being answered; the reply
		// dies with this connection, never reaching another one.
		s.metrics.abandoned.Inc()
		log.Info("client left before its reply", "seq", seq, "err", err)
		return false
	}
	end := s.now()
	s.metrics.ok.Inc()
	s.metrics.totalTime.Observe(end.Sub(reqStart).Seconds())
	c.prevTotal, c.havePrev = end.Sub(waitStart), true
	return true
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// fail reports err as openpi does: a text frame with the message, then a
// close frame with code.
func (c *connection) fail(log *slog.Logger, code int, err error) {
	c.s.refusals.Warn(log, "request_failed", "request failed", "err", err, "close_code", code) // within the log budget; counted by the caller
	_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_ = c.ws.WriteMessage(websocket.TextMessage, []byte(err.Error()))
	reason := "error reported in the previous frame"
	if code == websocket.CloseTryAgainLater {
		reason = "busy, retry later"
	}
	c.closeWith(code, reason)
	c.linger()
}

// Lingering bounds: how long and how much a failed connection is drained.
const (
	lingerTime  = 2 * time.Second
	lingerBytes = 64 << 20
)

// linger half-closes the connection after a close frame and discards what the
// client is still sending, for at most lingerTime and lingerBytes. Without it
// the kernel answers the unread rest of a rejected frame with a TCP reset,
// which can destroy the close frame in flight, and the client sees "broken
// pipe" instead of the reason (the same problem HTTP servers solve with a
// lingering close).
func (c *connection) linger() {
	nc := c.ws.NetConn()
	type closeWriter interface{ CloseWrite() error }
	cw, ok := nc.(closeWriter)
	if !ok {
		return
	}
	if cw.CloseWrite() != nil {
		return
	}
	_ = nc.SetReadDeadline(time.Now().Add(lingerTime))
	_, _ = io.CopyN(io.Discard, nc, lingerBytes)
}

func (c *connection) closeWith(code int, reason string) {
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
}

func (c *connection) logReadError(log *slog.Logger, err error) {
	switch {
	case websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived):
		log.Info("client disconnected")
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		log.Info("client disconnected without a close frame")
	default:
		log.Info("connection ended", "err", err)
	}
}

// keepalive pings the client every PingInterval and expects a pong within
// two intervals; the websockets library that openpi clients use answers
// pings automatically.
func (c *connection) keepalive(stop <-chan struct{}) {
	iv := c.s.conf.PingInterval
	c.waitDeadline()
	c.ws.SetPongHandler(func(string) error {
		// Pongs arrive while the reader reads: between requests they keep
		// a live client's connection open up to idle_timeout; within a
		// message they change nothing.
		if !c.reading {
			c.waitDeadline()
		}
		return nil
	})
	t := time.NewTicker(iv)
	go func() {
		defer t.Stop()
		for {
			select {
			case <-t.C:
				if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(iv)); err != nil {
					return
				}
			case <-stop:
				return
			}
		}
	}()
}

// waitDeadline sets the read deadline between requests: two ping
// intervals from now (a client that answers no ping is gone), but never
// past idleUntil.
func (c *connection) waitDeadline() {
	d := c.s.now().Add(2 * c.s.conf.PingInterval)
	if d.After(c.idleUntil) {
		d = c.idleUntil
	}
	_ = c.ws.SetReadDeadline(d)
}

// endRead ends the connection after a failed read, saying why when the
// server ended it: a message that did not arrive within body_timeout, or a
// client idle for idle_timeout.
func (c *connection) endRead(log *slog.Logger, err error) {
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		c.logReadError(log, err)
		return
	}
	s := c.s
	switch {
	case c.reading:
		s.metrics.closed.WithLabelValues("body_timeout").Inc()
		log.Info("message not received within server.body_timeout; connection closed", "body_timeout", s.conf.BodyTimeout)
		c.closeWith(websocket.ClosePolicyViolation, fmt.Sprintf("message not received within %v (server.body_timeout)", s.conf.BodyTimeout))
	case !s.now().Before(c.idleUntil):
		s.metrics.closed.WithLabelValues("idle").Inc()
		log.Info("client idle for server.idle_timeout; connection closed", "idle_timeout", s.conf.IdleTimeout)
		c.closeWith(websocket.CloseNormalClosure, fmt.Sprintf("idle for %v (server.idle_timeout)", s.conf.IdleTimeout))
	default:
		s.metrics.closed.WithLabelValues("no_pong").Inc()
		log.Info("client answered no ping; connection closed")
	}
}
