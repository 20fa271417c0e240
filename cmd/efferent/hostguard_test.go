package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/efferent/efferent/rig"
	"github.com/efferent/efferent/server"
)

// server.allowed_hosts reaches the server and the viewer, is checked, and
// --viewer-clients sets the viewer's slots.
func TestConfigAllowedHostsAndViewerClients(t *testing.T) {
	t.Setenv("EFFERENT_CONFIG", writeConfig(t, "server:\n  allowed_hosts: [robot.lab.example]\n"))
	cfg, err := loadConfig(flagsFor(t, "--viewer-clients", "3").fs)
	if err != nil {
		t.Fatal(err)
	}
	vc := rig.ViewerConf(cfg.Server, "t", cfg.ViewerClients, nil)
	if len(cfg.Server.AllowedHosts) != 1 || vc.AllowedHosts[0] != "robot.lab.example" || vc.MaxClients != 3 {
		t.Fatalf("allowed_hosts %v, viewer %v / %d", cfg.Server.AllowedHosts, vc.AllowedHosts, vc.MaxClients)
	}
	for yaml, want := range map[string]string{
		"server:\n  allowed_hosts: [\"robot:8000\"]\n":    "server.allowed_hosts[0]",
		"server:\n  allowed_hosts: [\"http://robot\"]\n":  "server.allowed_hosts[0]",
		"server:\n  allowed_hosts: [ok, \"10.0.0.1\"]\n":  "server.allowed_hosts[1]",
		"server:\n  allowed_hosts: [\"*.lab.example\"]\n": "server.allowed_hosts[0]",
	} {
		t.Setenv("EFFERENT_CONFIG", writeConfig(t, yaml))
		if _, err := loadConfig(flagsFor(t).fs); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", yaml, err, want)
		}
	}
	t.Setenv("EFFERENT_CONFIG", "")
	if _, err := loadConfig(flagsFor(t, "--viewer-clients", "0").fs); err == nil || !strings.Contains(err.Error(), "--viewer-clients") {
		t.Fatalf("--viewer-clients 0: %v", err)
	}
}

// The metrics-only listener of a ROS run refuses a forged Host without a
// token, as the server and the viewer do.
func TestHostGuard(t *testing.T) {
	cfg := Config{}
	cfg.Server.Addr = "127.0.0.1:8000"
	h := server.HostGuard(cfg.Server, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	for host, want := range map[string]int{"attacker.example:" + port: 403, "localhost:" + port: 200, "": 200} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/metrics", nil)
		if host != "" {
			req.Host = host
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %q: %d, want %d", host, resp.StatusCode, want)
		}
	}
	cfg.Server.AuthToken = "0123456789abcdef"
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Host = "attacker.example"
	server.HostGuard(cfg.Server, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("with a token the Host is not restricted: %d", rec.Code)
	}
}
