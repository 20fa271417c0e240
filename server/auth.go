package server

import (
	"net/http"

	"github.com/efferent/efferent/api"
)

// requireAuth wraps h so that, when an AuthToken is configured, requests
// without it get 401 with a JSON body naming what was wrong. The
// comparison takes the same time whatever the presented token.
func (s *Server) requireAuth(h http.Handler) http.Handler {
	if s.conf.AuthToken == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, presented := api.RequestToken(r)
		if api.TokenMatches(tok, s.conf.AuthToken) {
			h.ServeHTTP(w, r)
			return
		}
		s.metrics.unauthorized.Inc()
		msg := "unauthorized: this server needs a token (header \"Authorization: Bearer <token>\" or \"Authorization: Api-Key <token>\", or query \"?token=<token>\")"
		if presented {
			msg = "unauthorized: wrong token (or an Authorization scheme other than Bearer or Api-Key)"
		}
		s.refusals.Warn(s.log, "unauthorized", "unauthorized request", "remote", r.RemoteAddr, "path", r.URL.Path, "token_presented", presented)
		w.Header().Set("WWW-Authenticate", `Bearer realm="efferent"`)
		writeJSONError(w, http.StatusUnauthorized, msg)
	})
}
