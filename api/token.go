package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// RequestToken returns the token an HTTP request presents: the token of
// its Authorization header — "Bearer <token>", or "Api-Key <token>" as
// openpi's WebsocketClientPolicy(api_key=…) sends it; the scheme is
// case-insensitive — else its "token" query parameter (a browser cannot
// set headers on a page link or a websocket handshake). presented is
// false when the request carries neither.
func RequestToken(r *http.Request) (tok string, presented bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if ok && (strings.EqualFold(scheme, "Bearer") || strings.EqualFold(scheme, "Api-Key")) {
			return strings.TrimSpace(tok), true
		}
		return "", true
	}
	if q := r.URL.Query(); q.Has("token") {
		return q.Get("token"), true
	}
	return "", false
}

// TokenMatches reports whether got is want. Both are hashed first, so the
// comparison takes the same time whatever got is, its length included.
func TokenMatches(got, want string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}
