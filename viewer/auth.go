package viewer

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// tokenFrom returns the token a request presents: the bearer token of its
// Authorization header, else its "token" query parameter (a browser cannot
// set headers on a page link or a websocket handshake). As the server's.
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

// authorized reports whether r may see the page and command the robot:
// always without a Token (loopback, or AllowNoAuth), else only with it.
// Both sides are hashed first, so the comparison takes the same time
// whatever the presented token, its length included.
func (v *Viewer) authorized(r *http.Request) (ok, presented bool) {
	if v.conf.Token == "" {
		return true, false
	}
	tok, presented := tokenFrom(r)
	got, want := sha256.Sum256([]byte(tok)), sha256.Sum256([]byte(v.conf.Token))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1, presented
}

// authMode says how the page is protected (shown on the page).
func (v *Viewer) authMode() string {
	switch {
	case v.conf.Token != "":
		return "token"
	case v.conf.Loopback:
		return "loopback"
	}
	return "none"
}
