package server

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

// tokenFrom returns the token a request presents: the bearer token of its
// Authorization header, else its "token" query parameter (browsers cannot
// set headers on a websocket handshake).
func tokenFrom(r *http.Request) (string, bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok), true
		}
		return "", true
	}
	if q := r.URL.Query(); q.Has("token") {
		return q.Get("token"), true
	}
	return "", false
}

// requireAuth wraps h so that, when an AuthToken is configured, requests
// without it get 401 with a JSON body naming what was wrong. The
// comparison takes the same time whatever the presented token.
func (s *Server) requireAuth(h http.Handler) http.Handler {
	if s.conf.AuthToken == "" {
		return h
	}
	want := []byte(s.conf.AuthToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, presented := tokenFrom(r)
		if subtle.ConstantTimeCompare([]byte(tok), want) == 1 {
			h.ServeHTTP(w, r)
			return
		}
		s.metrics.unauthorized.Inc()
		msg := "unauthorized: this server needs a token (header \"Authorization: Bearer <token>\" or query \"?token=<token>\")"
		if presented {
			msg = "unauthorized: wrong token"
		}
		s.log.Warn("unauthorized request", "remote", r.RemoteAddr, "path", r.URL.Path, "token_presented", presented)
		w.Header().Set("WWW-Authenticate", `Bearer realm="efferent"`)
		writeJSONError(w, http.StatusUnauthorized, msg)
	})
}
