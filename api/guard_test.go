package api

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestParseHost(t *testing.T) {
	for _, c := range []struct {
		in         string
		name, port string
		ip         string
		local      bool
		err        string
	}{
		{in: "localhost", name: "localhost", local: true},
		{in: "LOCALHOST.:8000", name: "localhost", port: "8000", local: true},
		{in: "viewer.localhost:80", name: "viewer.localhost", port: "80", local: true},
		{in: "a.b.Localhost.", name: "a.b.localhost", local: true},
		{in: "localhost.evil.example", name: "localhost.evil.example"},
		{in: "evillocalhost", name: "evillocalhost"},
		{in: "attacker.example:8000", name: "attacker.example", port: "8000"},
		{in: "127.0.0.1:8000", ip: "127.0.0.1", port: "8000", local: true},
		{in: "127.3.4.5", ip: "127.3.4.5", local: true},
		{in: "127.0.0.1.:08000", ip: "127.0.0.1", port: "8000", local: true},
		{in: "0.0.0.0:8000", ip: "0.0.0.0", port: "8000", local: true}, // openpi's default host
		{in: "[::1]:8000", ip: "::1", port: "8000", local: true},
		{in: "[::]", ip: "::", local: true},
		{in: "[::ffff:127.0.0.1]:1", ip: "::ffff:127.0.0.1", port: "1", local: true},
		{in: "192.168.1.5:8000", ip: "192.168.1.5", port: "8000"},
		{in: "[2001:db8::1]", ip: "2001:db8::1"},
		{in: "robot_1.lab", name: "robot_1.lab"},
		{in: "", err: "empty"},
		{in: "::1", err: "brackets"},
		{in: "[::1", err: "closing"},
		{in: "[::1]x", err: "after ]"},
		{in: "[::1]:", err: "empty port"},
		{in: "[127.0.0.1]", err: "IPv6"},
		{in: "[fe80::1%25eth0]", err: "IPv6"},
		{in: "localhost:", err: "empty port"},
		{in: "localhost:http", err: "not a number"},
		{in: "localhost:65536", err: "out of range"},
		{in: "localhost:123456", err: "not a number"},
		{in: ":8000", err: "no host"},
		{in: ".", err: "no host"},
		{in: "a..localhost", err: "empty label"},
		{in: ".localhost", err: "empty label"},
		{in: "evil.example/x", err: "byte"},
		{in: "evil example", err: "byte"},
		{in: "127.1", name: "127.1"}, // not canonical: a name, so not local
		{in: strings.Repeat("a", 300), err: "too long"},
	} {
		h, err := ParseHost(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseHost(%q) = %+v, %v; want an error containing %q", c.in, h, err, c.err)
			}
			continue
		}
		ip := ""
		if h.IP.IsValid() {
			ip = h.IP.String()
		}
		if err != nil || h.Name != c.name || h.Port != c.port || ip != c.ip || h.Local() != c.local {
			t.Errorf("ParseHost(%q) = %+v (local %v), %v; want name %q ip %q port %q local %v",
				c.in, h, h.Local(), err, c.name, c.ip, c.port, c.local)
		}
	}
}

func TestHostPolicy(t *testing.T) {
	loop := HostPolicy{}
	exposed := HostPolicy{Exposed: true, AllowedHosts: []string{"Robot.Lab.example."}}
	named := HostPolicy{AllowedHosts: []string{"robot"}}
	token := HostPolicy{Token: true}
	for _, c := range []struct {
		p          HostPolicy
		host, port string
		err        string // "" accepted
	}{
		{loop, "127.0.0.1:8000", "8000", ""},
		{loop, "localhost:8000", "8000", ""},
		{loop, "LocalHost.:8000", "8000", ""},
		{loop, "app.localhost:8000", "8000", ""},
		{loop, "[::1]:8000", "8000", ""},
		{loop, "0.0.0.0:8000", "8000", ""},
		{loop, "127.0.0.1", "80", ""},
		{loop, "localhost:8000", "", ""}, // port unknown: not compared
		{loop, "127.0.0.1", "8000", "names no port (80) but the request arrived on port 8000"},
		{loop, "127.0.0.1:9000", "8000", "names port 9000 but the request arrived on port 8000"},
		{loop, "attacker.example:8000", "8000", `host "attacker.example:8000" is not this machine's name`},
		{loop, "attacker.example", "80", "not this machine's name"},
		{loop, "localhost.attacker.example:8000", "8000", "not this machine's name"},
		{loop, "192.168.1.5:8000", "8000", "not this machine's name"},
		{loop, "robot.lab.example:8000", "8000", "not this machine's name"},
		{loop, "", "8000", "empty"},
		{exposed, "192.168.1.5:8000", "8000", ""},
		{exposed, "[2001:db8::1]:1234", "8000", ""}, // an IP literal needs no port match
		{exposed, "robot.lab.example:443", "8000", ""},
		{exposed, "ROBOT.LAB.EXAMPLE.", "8000", ""},
		{exposed, "localhost:8000", "8000", ""},
		{exposed, "localhost:9000", "8000", "names port 9000"},
		{exposed, "attacker.example:8000", "8000", "not this machine's name"},
		{exposed, "lab.example:8000", "8000", "not this machine's name"},
		{named, "robot:8000", "8000", ""},
		{named, "192.168.1.5:8000", "8000", "not this machine's name"}, // IP literals only when exposed
		{token, "attacker.example:8000", "8000", ""},
		{token, "", "8000", ""},
	} {
		err := c.p.CheckHost(c.host, c.port)
		if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%+v CheckHost(%q, %q) = %v, want %q", c.p, c.host, c.port, err, c.err)
		}
	}
}

// withLocalPort is r as a server on port would hand it to a handler.
func withLocalPort(r *http.Request, port int) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}))
}

func TestHostPolicyCheck(t *testing.T) {
	r := withLocalPort(httptest.NewRequest(http.MethodGet, "/viewer/", nil), 8000)
	r.Host = "attacker.example:8000"
	err := HostPolicy{}.Check(r)
	if !errors.Is(err, ErrForbiddenHost) || GuardStatus(err) != http.StatusForbidden {
		t.Fatalf("Check: %v", err)
	}
	for _, want := range []string{`"attacker.example:8000"`, "http://127.0.0.1:8000/viewer/", "server.allowed_hosts", "--token", "DNS rebinding"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Check's error %q does not say %q", err, want)
		}
	}
	r.Host = "127.0.0.1:8000"
	if err := (HostPolicy{}).Check(r); err != nil {
		t.Fatal(err)
	}
	if LocalPort(httptest.NewRequest(http.MethodGet, "/", nil)) != "" || LocalPort(r) != "8000" {
		t.Fatal("LocalPort")
	}
}

func TestCheckAllowedHosts(t *testing.T) {
	if err := CheckAllowedHosts([]string{"robot", "robot.lab.example", "Robot.Example."}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"http://robot", "robot:8000", "*.example", "10.0.0.1", "", "a b"} {
		if err := CheckAllowedHosts([]string{"ok", bad}); err == nil || !strings.Contains(err.Error(), "[1]") {
			t.Errorf("CheckAllowedHosts(%q): %v", bad, err)
		}
	}
}

func TestCheckCrossOrigin(t *testing.T) {
	for _, c := range []struct {
		method string
		header map[string]string
		ok     bool
	}{
		{"POST", nil, true}, // curl, Go, Python: no browser headers
		{"POST", map[string]string{"Origin": "http://127.0.0.1:8000"}, true},
		{"POST", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://127.0.0.1:8000"}, true},
		{"POST", map[string]string{"Origin": "http://evil.example"}, false},
		{"POST", map[string]string{"Sec-Fetch-Site": "cross-site"}, false},
		{"POST", map[string]string{"Sec-Fetch-Site": "same-site"}, false},
		{"POST", map[string]string{"Origin": "null"}, false},
		{"GET", map[string]string{"Origin": "http://evil.example"}, true}, // safe method
	} {
		r := httptest.NewRequest(c.method, "http://127.0.0.1:8000/estop/reset", nil)
		for k, v := range c.header {
			r.Header.Set(k, v)
		}
		err := CheckCrossOrigin(r)
		if (err == nil) != c.ok || err != nil && (!errors.Is(err, ErrCrossOrigin) || GuardStatus(err) != 403) {
			t.Errorf("%s %v: %v, want ok %v", c.method, c.header, err, c.ok)
		}
	}
}

func TestCheckWebsocketOrigin(t *testing.T) {
	for _, c := range []struct {
		host   string
		tls    bool
		header map[string]string
		ok     bool
	}{
		{"127.0.0.1:8000", false, nil, true}, // openpi's Python client, Go clients
		{"127.0.0.1:8000", false, map[string]string{"Origin": "http://127.0.0.1:8000"}, true},
		{"localhost:8000", false, map[string]string{"Origin": "http://LOCALHOST:8000", "Sec-Fetch-Site": "same-origin"}, true},
		{"robot.example", false, map[string]string{"Origin": "https://robot.example"}, true}, // behind a TLS proxy
		{"robot.example", true, map[string]string{"Origin": "https://robot.example"}, true},
		{"robot.example", true, map[string]string{"Origin": "http://robot.example"}, false},
		{"127.0.0.1:8000", false, map[string]string{"Origin": "http://127.0.0.1:9000"}, false},
		{"127.0.0.1:8000", false, map[string]string{"Origin": "http://evil.example"}, false},
		{"127.0.0.1:8000", false, map[string]string{"Origin": "null"}, false},
		{"127.0.0.1:8000", false, map[string]string{"Origin": "ws://127.0.0.1:8000"}, false},
		{"127.0.0.1:8000", false, map[string]string{"Origin": "http://127.0.0.1:8000/x"}, false},
		{"127.0.0.1:8000", false, map[string]string{"Sec-Fetch-Site": "cross-site"}, false},
		{"127.0.0.1:8000", false, map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "http://127.0.0.1:8000"}, false},
		// DNS rebinding passes the origin check (same origin); the Host check stops it.
		{"attacker.example", false, map[string]string{"Origin": "http://attacker.example"}, true},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Host = c.host
		if c.tls {
			r.TLS = &tls.ConnectionState{}
		}
		for k, v := range c.header {
			r.Header.Set(k, v)
		}
		err := CheckWebsocketOrigin(r)
		if (err == nil) != c.ok || err != nil && !errors.Is(err, ErrCrossOrigin) {
			t.Errorf("Host %s tls %v %v: %v, want ok %v", c.host, c.tls, c.header, err, c.ok)
		}
	}
}

func TestCheckContentType(t *testing.T) {
	for _, c := range []struct {
		method, ct string
		noneOK     bool
		err        string
	}{
		{"POST", "", true, ""},
		{"POST", "application/json", true, ""},
		{"POST", "Application/JSON; charset=utf-8", false, ""},
		{"POST", "", false, "without a Content-Type: send Content-Type: application/json"},
		{"POST", "application/x-www-form-urlencoded", true, "which a cross-site form can send"},
		{"POST", "multipart/form-data; boundary=x", false, "which a cross-site form can send"},
		{"POST", "text/plain;charset=UTF-8", true, "which a cross-site form can send"},
		{"POST", "application/xml", true, "send Content-Type: application/json (or no body)"},
		{"POST", "application/json; =", false, "Content-Type"},
		{"GET", "text/plain", false, ""},
	} {
		r := httptest.NewRequest(c.method, "/act", nil)
		if c.ct != "" {
			r.Header.Set("Content-Type", c.ct)
		}
		err := CheckContentType(r, c.noneOK)
		if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err) ||
			!errors.Is(err, ErrContentType) || GuardStatus(err) != 415) {
			t.Errorf("%s %q noneOK %v: %v, want %q", c.method, c.ct, c.noneOK, err, c.err)
		}
	}
}

func TestRequestToken(t *testing.T) {
	for _, c := range []struct {
		auth, query string
		tok         string
		presented   bool
	}{
		{"Bearer abc", "", "abc", true},
		{"bearer  abc ", "", "abc", true},
		{"Api-Key abc", "", "abc", true}, // openpi's WebsocketClientPolicy(api_key="abc")
		{"API-KEY abc", "", "abc", true},
		{"Basic abc", "", "", true},
		{"abc", "", "", true},
		{"", "?token=abc", "abc", true},
		{"", "", "", false},
	} {
		r := httptest.NewRequest(http.MethodGet, "/"+c.query, nil)
		if c.auth != "" {
			r.Header.Set("Authorization", c.auth)
		}
		tok, presented := RequestToken(r)
		if tok != c.tok || presented != c.presented {
			t.Errorf("%q %q: %q %v, want %q %v", c.auth, c.query, tok, presented, c.tok, c.presented)
		}
	}
}

// FuzzParseHost: ParseHost never panics, and what it accepts is
// consistent: a name xor an IP, a canonical port, the name lower case
// without a trailing dot, and parsing its own rendering gives it back.
func FuzzParseHost(f *testing.F) {
	for _, s := range []string{"localhost:8000", "[::1]:80", "127.0.0.1", "a.localhost.", "[::ffff:1.2.3.4]:0080",
		"0.0.0.0:8000", "evil.example:1", "[fe80::1%25x]", "::1", "x:", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHost(s)
		if err != nil {
			if h != (Host{}) {
				t.Fatalf("error %v with %+v", err, h)
			}
			return
		}
		if (h.Name == "") == !h.IP.IsValid() {
			t.Fatalf("%q: name %q and IP %v", s, h.Name, h.IP)
		}
		if h.Name != strings.ToLower(h.Name) || strings.HasSuffix(h.Name, ".") {
			t.Fatalf("%q: name %q not normalised", s, h.Name)
		}
		out := h.Name
		if h.IP.IsValid() {
			out = h.IP.String()
			if h.IP.Is6() {
				out = "[" + out + "]"
			}
		}
		if h.Port != "" {
			out += ":" + h.Port
		}
		if h2, err := ParseHost(out); err != nil || h2 != h {
			t.Fatalf("%q → %+v → %q → %+v, %v", s, h, out, h2, err)
		}
		if h.Local() && h.Name != "" && h.Name != "localhost" && !strings.HasSuffix(h.Name, ".localhost") {
			t.Fatalf("%q: local name %q", s, h.Name)
		}
	})
}
