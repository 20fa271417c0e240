package viewer

import (
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/efferent/efferent/api"
)

// Refusal log budget: at most refusalLines WARN lines per kind of refusal
// per refusalEvery (ratelog); Stats counts every refusal.
const (
	refusalLines = 5
	refusalEvery = 10 * time.Second
)

// guard wraps the viewer's routes (all but the open e-stop): without a
// Token the Host must be this machine's (or in AllowedHosts, or, when not
// Loopback, an IP literal), and a non-GET request from a page of another
// site is refused (api.CheckCrossOrigin). The websocket checks its
// handshake's Origin itself (serveWS).
func (v *Viewer) guard(h http.Handler) http.Handler {
	hosts := api.HostPolicy{Token: v.conf.Token != "", Exposed: !v.conf.Loopback, AllowedHosts: v.conf.AllowedHosts}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := hosts.Check(r)
		if err == nil {
			err = api.CheckCrossOrigin(r)
		}
		if err != nil {
			v.refuse(w, r, err)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// refuse answers r with a guard's error: 403 with {"error": …}, counted
// and logged within the budget.
func (v *Viewer) refuse(w http.ResponseWriter, r *http.Request, err error) {
	v.forbidden.Add(1)
	v.refusals.Warn(v.conf.Log, "forbidden", "viewer: request refused", "remote", r.RemoteAddr, "path", r.URL.Path,
		"host", r.Host, "origin", r.Header.Get("Origin"), "err", err)
	securityHeaders(w)
	writeJSON(w, api.GuardStatus(err), map[string]string{"error": err.Error()})
}

var fullPage = template.Must(template.New("503").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>efferent viewer: full</title>
<link rel="stylesheet" href="/viewer/style.css"></head>
<body class="refused"><h1>{{.Title}}: too many browsers</h1>
<p>{{.Why}} <a href="">Try again</a>.</p>
{{if .EStop}}<form method="post" action="/viewer/estop"><button class="estop" type="submit">E-STOP</button></form>
<p>Stopping the robot needs no slot.</p>{{end}}
</body></html>
`))

// tooMany reports whether MaxClients browsers are connected; if so it
// answers r 503 — a page with the e-stop button for a browser, JSON
// otherwise — saying how many are connected and what to do.
func (v *Viewer) tooMany(w http.ResponseWriter, r *http.Request) bool {
	v.mu.Lock()
	n := len(v.clients)
	v.mu.Unlock()
	if n < v.conf.MaxClients {
		return false
	}
	v.full.Add(1)
	why := fmt.Sprintf("%d of %d browsers are connected (MaxClients, efferent --viewer-clients); close one, or try again later.", n, v.conf.MaxClients)
	if v.conf.Token == "" {
		why += " Without a token any process on this machine may take a slot: start the run with --token so that slots need the token."
	}
	v.refusals.Warn(v.conf.Log, "full", "viewer: too many browsers; refused", "remote", r.RemoteAddr, "connected", n, "max", v.conf.MaxClients)
	securityHeaders(w)
	w.Header().Set("Retry-After", "5")
	if !strings.Contains(r.Header.Get("Accept"), "text/html") {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": "viewer: too many browsers connected: " + why,
			"connected": n, "max_clients": v.conf.MaxClients})
		return true
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusServiceUnavailable)
	_ = fullPage.Execute(w, struct {
		Title, Why string
		EStop      bool
	}{v.conf.Title, why, v.conf.EStop != nil})
	return true
}
