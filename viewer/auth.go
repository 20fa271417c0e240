package viewer

import (
	"net/http"

	"github.com/efferent/efferent/api"
)

// authorized reports whether r may see the page and command the robot:
// always without a Token (loopback, or AllowNoAuth), else only with it.
// The comparison takes the same time whatever the presented token.
func (v *Viewer) authorized(r *http.Request) (ok, presented bool) {
	if v.conf.Token == "" {
		return true, false
	}
	tok, presented := api.RequestToken(r)
	return api.TokenMatches(tok, v.conf.Token), presented
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
