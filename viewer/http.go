package viewer

import (
	"embed"
	"encoding/json"
	"html/template"
	"net/http"
	"strings"
)

// web holds the page: no CDN, no external font; the plots are drawn on
// <canvas> by app.js.
//
//go:embed web/index.html web/app.js web/style.css
var web embed.FS

// csp keeps the page to its own script, style and websocket; frames are
// shown from blob: URLs.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

func (v *Viewer) routes() http.Handler {
	mux := http.NewServeMux()
	static := func(name, ctype string) http.HandlerFunc {
		data, err := web.ReadFile("web/" + name)
		if err != nil {
			panic(err) // embedded at build time
		}
		return func(w http.ResponseWriter, r *http.Request) {
			securityHeaders(w)
			w.Header().Set("Content-Type", ctype)
			w.Header().Set("Cache-Control", "no-cache")
			_, _ = w.Write(data)
		}
	}
	index := static("index.html", "text/html; charset=utf-8")
	// The page itself and its websocket need the token; its script and
	// style are the same for everyone and carry nothing secret.
	mux.HandleFunc("GET /viewer/{$}", func(w http.ResponseWriter, r *http.Request) {
		if ok, presented := v.authorized(r); !ok {
			v.refusePage(w, r, presented)
			return
		}
		if v.tooMany(w, r) {
			return
		}
		index(w, r)
	})
	mux.HandleFunc("GET /viewer/app.js", static("app.js", "text/javascript; charset=utf-8"))
	mux.HandleFunc("GET /viewer/style.css", static("style.css", "text/css; charset=utf-8"))
	mux.HandleFunc("GET /viewer/ws", v.serveWS)
	toPage := func(w http.ResponseWriter, r *http.Request) {
		u := "/viewer/"
		if r.URL.RawQuery != "" {
			u += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, u, http.StatusFound)
	}
	mux.HandleFunc("GET /viewer", toPage)
	mux.HandleFunc("GET /{$}", toPage) // when the viewer is a whole server
	for pattern, h := range v.conf.Routes {
		mux.Handle(pattern, h)
	}
	// Everything is guarded (guard.go) but engaging the e-stop, which is
	// open to anyone who reaches the viewer: stopping is never refused.
	outer := http.NewServeMux()
	outer.HandleFunc("POST /viewer/estop", v.serveEStop)
	outer.Handle("/", v.guard(mux))
	return outer
}

func securityHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	// The token may be in the page's URL: never send it on.
	h.Set("Referrer-Policy", "no-referrer")
}

var refusedPage = template.Must(template.New("401").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>efferent viewer: token required</title>
<link rel="stylesheet" href="/viewer/style.css"></head>
<body class="refused"><h1>{{.Title}}: token required</h1>
<p>{{.Why}} Open <code>/viewer/?token=&lt;token&gt;</code> with the token the run was started with
(<code>--token</code> or <code>EFFERENT_TOKEN</code>).</p>
{{if .EStop}}<form method="post" action="/viewer/estop"><button class="estop" type="submit">E-STOP</button></form>
<p>Stopping the robot needs no token.</p>{{end}}
</body></html>
`))

// refusePage answers 401: an HTML page for browsers (with the e-stop
// button, which needs no token), JSON for others.
func (v *Viewer) refusePage(w http.ResponseWriter, r *http.Request, presented bool) {
	why := "This viewer needs a token."
	if presented {
		why = "The token presented is wrong."
	}
	v.unauthorized.Add(1)
	v.refusals.Warn(v.conf.Log, "unauthorized", "viewer: unauthorized request", "remote", r.RemoteAddr, "path", r.URL.Path, "token_presented", presented)
	securityHeaders(w)
	w.Header().Set("WWW-Authenticate", `Bearer realm="efferent"`)
	if !strings.Contains(r.Header.Get("Accept"), "text/html") {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized: " + strings.ToLower(why[:1]) + why[1:]})
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusUnauthorized)
	_ = refusedPage.Execute(w, struct {
		Title, Why string
		EStop      bool
	}{v.conf.Title, why, v.conf.EStop != nil})
}

// serveEStop engages the e-stop for anyone who can reach the viewer:
// stopping is never refused (releasing it needs the page, behind the
// token).
func (v *Viewer) serveEStop(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w)
	if v.conf.EStop == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no e-stop here: this process drives no robot"})
		return
	}
	v.conf.EStop.Trigger("viewer " + r.RemoteAddr)
	v.conf.Log.Warn("e-stop engaged from the viewer (POST /viewer/estop)", "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, v.conf.EStop.Status())
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
