package api

import (
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Request guards shared by the server and the viewer. They keep a
// browser from being used against a server that trusts "whoever is on
// this machine" (a loopback address without a token):
//
//   - DNS rebinding: a page of attacker.example, whose name is then made
//     to resolve to 127.0.0.1, is same-origin with the loopback server in
//     the browser's eyes; only the Host header ("attacker.example") tells.
//     HostPolicy refuses Host names that are not this machine's when no
//     token guards the server.
//   - Cross-site request forgery: any page may make the browser send a
//     form POST or open a websocket to 127.0.0.1. CheckCrossOrigin (Go's
//     http.CrossOriginProtection: Sec-Fetch-Site, else Origin against
//     Host) refuses non-safe cross-origin requests, CheckWebsocketOrigin
//     refuses cross-origin websocket handshakes, and CheckContentType
//     refuses the bodies a cross-site form can send without a preflight.
//
// Clients that are not browsers send neither Origin nor Sec-Fetch-Site
// and are not affected by the origin checks.

// Sentinel errors of the guards: the errors they return wrap one of them
// and say what was refused and what to do instead.
var (
	// ErrForbiddenHost: the Host header names something other than this
	// machine, and no token guards the server (GuardStatus: 403).
	ErrForbiddenHost = errors.New("forbidden host")
	// ErrCrossOrigin: a browser request from a page of another origin
	// (GuardStatus: 403).
	ErrCrossOrigin = errors.New("cross-origin request refused")
	// ErrContentType: a state-changing request with a body type a
	// cross-site form could send, or not the one the route takes
	// (GuardStatus: 415).
	ErrContentType = errors.New("unsupported content type")
)

// GuardStatus is the HTTP status for a guard's error: 415 for
// ErrContentType, 403 for the others.
func GuardStatus(err error) int {
	if errors.Is(err, ErrContentType) {
		return http.StatusUnsupportedMediaType
	}
	return http.StatusForbidden
}

// HostPolicy says which Host headers a server answers. The zero value
// accepts only this machine's names (localhost, *.localhost, 127.0.0.0/8,
// [::1], and the unspecified 0.0.0.0 and [::], which openpi's client
// uses by default) with the port the request arrived on.
type HostPolicy struct {
	// Token: a token guards the server, so any Host is accepted (the
	// token is the boundary, not the name).
	Token bool
	// Exposed: the server listens beyond loopback without a token
	// (allow_no_auth). Any IP-literal Host is accepted too, with any port:
	// DNS rebinding needs a name.
	Exposed bool
	// AllowedHosts are further host names accepted, with any port
	// (server.allowed_hosts); compared case-insensitively, a trailing dot
	// ignored. Check them with CheckAllowedHosts.
	AllowedHosts []string
}

// Check applies the policy to r's Host header and the port r arrived on
// (http.LocalAddrContextKey; unknown, as with a handler called directly,
// it is not compared). The error wraps ErrForbiddenHost and names the URL
// to use instead.
func (p HostPolicy) Check(r *http.Request) error {
	if p.Token {
		return nil
	}
	port := LocalPort(r)
	err := p.CheckHost(r.Host, port)
	if err == nil {
		return nil
	}
	if port == "" {
		port = "PORT"
	}
	path := r.URL.Path
	if path == "" || path[0] != '/' || len(path) > 200 {
		path = "/"
	}
	return fmt.Errorf("%w: %v: without a token this server answers only requests addressed to this machine "+
		"(a defence against DNS rebinding); use http://127.0.0.1:%s%s, or list the name in server.allowed_hosts, "+
		"or start it with a token (--token)", ErrForbiddenHost, err, port, path)
}

// CheckHost applies the policy to a Host header, host, of a request that
// arrived on localPort ("": unknown, not compared). The error says why
// host is refused.
func (p HostPolicy) CheckHost(host, localPort string) error {
	if p.Token {
		return nil
	}
	h, err := ParseHost(host)
	if err != nil {
		return err
	}
	if h.Name != "" {
		for _, a := range p.AllowedHosts {
			if strings.EqualFold(strings.TrimSuffix(a, "."), h.Name) {
				return nil
			}
		}
	}
	if p.Exposed && h.IP.IsValid() {
		return nil
	}
	if !h.Local() {
		return fmt.Errorf("host %q is not this machine's name", host)
	}
	if localPort == "" || h.Port == localPort || h.Port == "" && localPort == "80" {
		return nil
	}
	if h.Port == "" {
		return fmt.Errorf("host %q names no port (80) but the request arrived on port %s", host, localPort)
	}
	return fmt.Errorf("host %q names port %s but the request arrived on port %s", host, h.Port, localPort)
}

// LocalPort is the port r arrived on, "" when unknown.
func LocalPort(r *http.Request) string {
	a, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if a == nil {
		return ""
	}
	_, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return ""
	}
	return port
}

// Host is a parsed Host header.
type Host struct {
	// Name is a host name, lower case, without a trailing dot; "" for an
	// IP literal.
	Name string
	// IP is the address of an IP literal (IPv4, or IPv6 in brackets).
	IP netip.Addr
	// Port is the port in decimal without leading zeros, "" when absent.
	Port string
}

// Local reports whether h names this machine: localhost or a name under
// .localhost (which browsers resolve to loopback themselves), a loopback
// address, or the unspecified address (0.0.0.0 or ::, which connects to
// this machine).
func (h Host) Local() bool {
	if h.Name != "" {
		return h.Name == "localhost" || strings.HasSuffix(h.Name, ".localhost")
	}
	ip := h.IP.Unmap()
	return ip.IsLoopback() || ip.IsUnspecified()
}

// maxHostLen bounds a Host header (a 253-byte name, a colon and a port).
const maxHostLen = 260

// ParseHost parses a Host header: name[:port], IPv4[:port] or
// [IPv6][:port]. Names may hold letters, digits, '-', '_' and '.'
// (browsers send internationalised names as punycode); a trailing dot is
// dropped. IPv6 zones and bare IPv6 are refused.
func ParseHost(s string) (Host, error) {
	var h Host
	bad := func(why string) (Host, error) { return Host{}, fmt.Errorf("host %q is not a host[:port]: %s", s, why) }
	if s == "" {
		return bad("empty")
	}
	if len(s) > maxHostLen {
		return bad("too long")
	}
	hostPart, port := s, ""
	if s[0] == '[' {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return bad("no closing ]")
		}
		hostPart, port = s[1:end], s[end+1:]
		if port != "" {
			if port[0] != ':' {
				return bad("text after ]")
			}
			port = port[1:]
			if port == "" {
				return bad("empty port")
			}
		}
		ip, err := netip.ParseAddr(hostPart)
		if err != nil || !ip.Is6() || ip.Zone() != "" {
			return bad("not an IPv6 address in brackets")
		}
		h.IP = ip
	} else {
		switch strings.Count(s, ":") {
		case 0:
		case 1:
			hostPart, port, _ = strings.Cut(s, ":")
			if port == "" {
				return bad("empty port")
			}
		default:
			return bad("an IPv6 address must be in brackets")
		}
		hostPart = strings.TrimSuffix(hostPart, ".")
		if hostPart == "" {
			return bad("no host")
		}
		if ip, err := netip.ParseAddr(hostPart); err == nil {
			h.IP = ip
		} else {
			for i := 0; i < len(hostPart); i++ {
				c := hostPart[i]
				if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
					return bad(fmt.Sprintf("byte %q in the name", c))
				}
			}
			if hostPart[0] == '.' || hostPart[len(hostPart)-1] == '.' || strings.Contains(hostPart, "..") {
				return bad("empty label in the name")
			}
			h.Name = strings.ToLower(hostPart)
		}
	}
	if port != "" {
		if len(port) > 5 || strings.TrimLeft(port, "0123456789") != "" {
			return bad("port is not a number")
		}
		n, err := strconv.Atoi(port)
		if err != nil || n > 65535 {
			return bad("port out of range")
		}
		h.Port = strconv.Itoa(n)
	}
	return h, nil
}

// CheckAllowedHosts checks the names of server.allowed_hosts: host names
// (letters, digits, '-', '_', '.'), without scheme, port or wildcard. IP
// literals need no listing (see HostPolicy.Exposed).
func CheckAllowedHosts(names []string) error {
	for i, n := range names {
		h, err := ParseHost(n)
		switch {
		case err != nil || h.Port != "":
			return fmt.Errorf("[%d] %q: want a host name without scheme, port or wildcard (e.g. robot.lab.example)", i, n)
		case h.Name == "":
			return fmt.Errorf("[%d] %q: an IP address needs no listing (any IP-literal Host is accepted on a non-loopback address); list names only", i, n)
		}
	}
	return nil
}

var crossOrigin = http.NewCrossOriginProtection()

// CheckCrossOrigin refuses a cross-origin browser request of a non-safe
// method (POST, PUT, …), as Go's http.CrossOriginProtection decides:
// Sec-Fetch-Site other than same-origin or none, else an Origin whose
// host is not the Host header. Requests with neither header (clients that
// are not browsers) and GET, HEAD and OPTIONS pass.
func CheckCrossOrigin(r *http.Request) error {
	if err := crossOrigin.Check(r); err != nil {
		return fmt.Errorf("%w: %s %s from a page of another site (Origin %q, Sec-Fetch-Site %q): "+
			"open the page from this server, or use a client that is not a browser",
			ErrCrossOrigin, r.Method, r.URL.Path, r.Header.Get("Origin"), r.Header.Get("Sec-Fetch-Site"))
	}
	return nil
}

// CheckWebsocketOrigin refuses a websocket handshake from a page of
// another origin: Sec-Fetch-Site cross-site or same-site, or an Origin
// that is not this request's own origin — its host must be the Host
// header (case-insensitively) and its scheme https, or http when the
// request did not come over TLS. A handshake without Origin (a client
// that is not a browser) passes.
func CheckWebsocketOrigin(r *http.Request) error {
	refuse := func(why string) error {
		return fmt.Errorf("%w: websocket %s opened %s: open the page from this server (http://%s/), or use a client that is not a browser",
			ErrCrossOrigin, r.URL.Path, why, r.Host)
	}
	switch site := r.Header.Get("Sec-Fetch-Site"); site {
	case "cross-site", "same-site":
		return refuse("by a page of another site (Sec-Fetch-Site " + site + ")")
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" ||
		!strings.EqualFold(u.Host, r.Host) || !(u.Scheme == "https" || u.Scheme == "http" && r.TLS == nil) {
		return refuse(fmt.Sprintf("by a page of origin %q, not of this server (Host %q)", origin, r.Host))
	}
	return nil
}

// Simple-request content types: what a cross-site HTML form (or a fetch
// without a CORS preflight) can send.
var simpleTypes = []string{"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"}

// CheckContentType checks the Content-Type of a state-changing request
// that takes a JSON body: it must be application/json, or, when
// noneOK, absent. The three types a cross-site form can send are refused
// with a message saying so. GET, HEAD and OPTIONS pass.
func CheckContentType(r *http.Request, noneOK bool) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" && noneOK {
		return nil
	}
	want := "Content-Type: application/json"
	if noneOK {
		want += " (or no body)"
	}
	if ct == "" {
		return fmt.Errorf("%w: %s %s without a Content-Type: send %s", ErrContentType, r.Method, r.URL.Path, want)
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return fmt.Errorf("%w: %s %s with Content-Type %q (%v): send %s", ErrContentType, r.Method, r.URL.Path, ct, err, want)
	}
	if mt == "application/json" {
		return nil
	}
	for _, s := range simpleTypes {
		if mt == s {
			return fmt.Errorf("%w: %s %s with Content-Type %s, which a cross-site form can send, is refused: send %s",
				ErrContentType, r.Method, r.URL.Path, mt, want)
		}
	}
	return fmt.Errorf("%w: %s %s with Content-Type %s: send %s", ErrContentType, r.Method, r.URL.Path, mt, want)
}
