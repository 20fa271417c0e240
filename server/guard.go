package server

import (
	"errors"
	"net/http"
	"time"

	"github.com/efferent/efferent/api"
)

// guardKind is what a route needs checked besides the Host (api/guard.go
// says why each check exists).
type guardKind int

const (
	// guardRead: a route that changes nothing (GET): the Host only.
	guardRead guardKind = iota
	// guardPost: a state-changing POST without a body of interest
	// (/estop/reset): no cross-origin browser request, and no body type a
	// cross-site form can send (application/json or none).
	guardPost
	// guardJSON: a state-changing POST with a JSON body (/act): as
	// guardPost, and Content-Type must be application/json.
	guardJSON
	// guardWebsocket: the openpi websocket: a handshake from a page of
	// another origin is refused.
	guardWebsocket
)

// Refusal log budget: at most refusalLines WARN lines per kind of refusal
// per refusalEvery (ratelog); every refusal is counted in the metrics.
const (
	refusalLines = 5
	refusalEvery = 10 * time.Second
)

// guard wraps one of the server's own routes with its checks: without a
// token, the Host must be this machine's (or in Conf.AllowedHosts, or,
// listening beyond loopback, an IP literal), then what kind asks for.
// Refusals are 403 (415 for a wrong Content-Type) with {"error": …},
// counted (forbidden; bad_request for 415) and logged within the budget.
func (s *Server) guard(kind guardKind, h http.Handler) http.Handler {
	hosts := api.HostPolicy{Token: s.conf.AuthToken != "", Exposed: !IsLoopback(s.conf.Addr), AllowedHosts: s.conf.AllowedHosts}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := hosts.Check(r)
		if err == nil {
			switch kind {
			case guardPost, guardJSON:
				if err = api.CheckCrossOrigin(r); err == nil {
					err = api.CheckContentType(r, kind == guardPost)
				}
			case guardWebsocket:
				err = api.CheckWebsocketOrigin(r)
			}
		}
		if err != nil {
			s.refuse(w, r, err)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// refuse answers r with a guard's error.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, err error) {
	kind := "forbidden"
	if errors.Is(err, api.ErrContentType) {
		kind = "unsupported_media_type"
		s.metrics.badRequest.Inc()
	} else {
		s.metrics.forbidden.Inc()
	}
	s.refusals.Warn(s.log, kind, "request refused", "remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path,
		"host", r.Host, "origin", r.Header.Get("Origin"), "err", err)
	writeJSONError(w, api.GuardStatus(err), err.Error())
}
