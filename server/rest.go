package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"

	"github.com/efferent/efferent/api"
)

// serveAct answers OpenVLA-style POST /act: a JSON observation in (see
// api.ActRequest), the first action of the chunk out as a json_numpy array
// of shape (D,) — or the whole chunk, (H, D), with "chunk": true. Every
// failure is an HTTP error with a JSON body {"error": "…"}: 400 bad
// request, 405 not POST, 413 body too large, 429 rate limited, 503 busy or shutting down
// (with Retry-After), 504 not answered within request_timeout, 500 the
// model failed; before it, the route's guard (guard.go) answers 403 a
// browser request from another site (or, without a token, a Host that is
// not this machine's) and 415 a Content-Type other than application/json.
// A client gets actions only with a 200.
func (s *Server) serveAct(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSONError(w, http.StatusMethodNotAllowed, "POST /act with a JSON body")
		return
	}
	reqStart := s.now()
	if !s.rate.allow(clientKey(r.RemoteAddr), reqStart) {
		s.metrics.rateLimited.Inc()
		w.Header().Set("Retry-After", "1")
		writeJSONError(w, http.StatusTooManyRequests, ErrRateLimited.Error())
		return
	}
	// The whole body must arrive within body_timeout; a trickled one is
	// cut off, and its connection closed.
	_ = http.NewResponseController(w).SetReadDeadline(reqStart.Add(s.conf.BodyTimeout))
	in := s.newIntake(r.Context(), s.addrPixels(r.RemoteAddr))
	defer in.done()
	body, err := in.read(http.MaxBytesReader(w, r.Body, s.conf.MaxFrameBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		var ne net.Error
		switch {
		case errors.As(err, &tooLarge):
			s.metrics.badRequest.Inc()
			writeJSONError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than server.max_frame_bytes (%d)", s.conf.MaxFrameBytes))
		case errors.Is(err, ErrOverloaded):
			s.metrics.busy.Inc()
			w.Header().Set("Retry-After", "1")
			writeJSONError(w, http.StatusServiceUnavailable, err.Error())
		case errors.As(err, &ne) && ne.Timeout():
			s.metrics.badRequest.Inc()
			s.log.Info("REST body not received within server.body_timeout", "remote", r.RemoteAddr, "body_timeout", s.conf.BodyTimeout)
			w.Header().Set("Connection", "close")
			writeJSONError(w, http.StatusRequestTimeout, fmt.Sprintf("body not received within %v (server.body_timeout)", s.conf.BodyTimeout))
		default:
			s.metrics.badRequest.Inc()
			writeJSONError(w, http.StatusBadRequest, "reading the body: "+err.Error())
		}
		return
	}
	req, err := api.DecodeActRequest(body, in.spec, s.limits)
	if err == nil {
		err = in.prepare(&req.Obs)
	}
	s.metrics.decode.Observe(s.now().Sub(reqStart).Seconds())
	switch {
	case errors.Is(err, ErrPixelRate):
		s.metrics.rateLimited.Inc()
		w.Header().Set("Retry-After", "1")
		writeJSONError(w, http.StatusTooManyRequests, err.Error())
		return
	case errors.Is(err, ErrOverloaded), errors.Is(err, ErrClosed):
		s.metrics.busy.Inc()
		w.Header().Set("Retry-After", "1")
		writeJSONError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	if err == nil && req.UnnormKey != "" && req.UnnormKey != s.meta.Name {
		// A wrong un-normalisation would scale every action wrongly: refuse
		// rather than guess.
		err = fmt.Errorf("unnorm_key %q: this model (%s) has one action normalisation, named %q; omit unnorm_key or use that name",
			req.UnnormKey, s.meta.Name, s.meta.Name)
	}
	if err != nil {
		s.metrics.badRequest.Inc()
		writeJSONError(w, http.StatusBadRequest, "bad observation: "+err.Error())
		return
	}
	var verdict *api.Premise
	if g := newPremiseGate(s.conf.Premise); g != nil {
		// REST requests are independent: each is checked on its own frame.
		v, refusal, err := s.checkPremise(g, &req.Obs, s.log)
		if err != nil {
			s.metrics.badRequest.Inc()
			writeJSONError(w, http.StatusBadRequest, "bad observation: "+err.Error())
			return
		}
		if refusal != "" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnprocessableEntity)
			_ = json.NewEncoder(w).Encode(map[string]any{"error": refusal, "premise": v})
			return
		}
		verdict = &v
	}
	j := &job{obs: req.Obs}
	j.obs.Time = reqStart
	switch err := s.answer(j, newTimer()); {
	case errors.Is(err, ErrBusy), errors.Is(err, ErrClosed):
		w.Header().Set("Retry-After", "1")
		writeJSONError(w, http.StatusServiceUnavailable, err.Error())
		return
	case errors.Is(err, ErrTimeout):
		in.forget() // the worker may still read the body's images
		writeJSONError(w, http.StatusGatewayTimeout, err.Error())
		return
	case isBadObservation(err):
		writeJSONError(w, http.StatusBadRequest, err.Error())
		return
	case err != nil:
		writeJSONError(w, http.StatusInternalServerError, err.Error())
		return
	}
	encStart := s.now()
	ch := &j.chunk
	var out []byte
	if req.Chunk {
		out = api.AppendJSONNumpy(nil, []int{ch.H, ch.D}, ch.Actions)
	} else {
		out = api.AppendJSONNumpy(nil, []int{ch.D}, ch.Actions[:ch.D])
	}
	s.metrics.encode.Observe(s.now().Sub(encStart).Seconds())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Efferent-Infer-Ms", strconv.FormatFloat(ms(j.inferDur), 'f', 3, 64))
	w.Header().Set("X-Efferent-Batch-Size", strconv.Itoa(j.batchSize))
	if verdict != nil {
		w.Header().Set("X-Efferent-Premise", verdict.Decision)
	}
	_, _ = w.Write(out)
	s.metrics.ok.Inc()
	s.metrics.totalTime.Observe(s.now().Sub(reqStart).Seconds())
}
