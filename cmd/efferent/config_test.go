package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/efferent/efferent/models"
)

// flagsFor parses args with serve's flag set, as cobra would.
func flagsFor(t testing.TB, args ...string) *flagSet {
	t.Helper()
	cmd := serveCmd()
	cmd.Flags().String("config", "", "")
	if err := cmd.Flags().Parse(args); err != nil {
		t.Fatal(err)
	}
	return &flagSet{cmd.Flags()}
}

func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "efferent.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigDefaults(t *testing.T) {
	t.Setenv("EFFERENT_CONFIG", "")
	cfg, err := loadConfig(flagsFor(t).fs)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Model != models.Default || cfg.Server.Addr != "127.0.0.1:8000" || cfg.ORT.Provider != "cpu" || cfg.Log.Level != "info" {
		t.Fatalf("defaults: %+v", cfg)
	}
}

// File, then environment, then flags: each later source wins, and a flag
// the user did not set never overrides the file.
func TestConfigPrecedence(t *testing.T) {
	p := writeConfig(t, "server:\n  addr: 127.0.0.1:9000\n  queue_size: 3\nlog:\n  level: debug\n")
	t.Setenv("EFFERENT_CONFIG", p)
	cfg, err := loadConfig(flagsFor(t).fs)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Addr != "127.0.0.1:9000" || cfg.Server.QueueSize != 3 || cfg.Log.Level != "debug" {
		t.Fatalf("file not applied: %+v", cfg)
	}
	t.Setenv("EFFERENT_ADDR", "127.0.0.1:9001")
	cfg, _ = loadConfig(flagsFor(t).fs)
	if cfg.Server.Addr != "127.0.0.1:9001" {
		t.Fatalf("env did not override the file: %s", cfg.Server.Addr)
	}
	cfg, _ = loadConfig(flagsFor(t, "--addr", "127.0.0.1:9002").fs)
	if cfg.Server.Addr != "127.0.0.1:9002" || cfg.Server.QueueSize != 3 {
		t.Fatalf("flag did not override env, or clobbered the file: %+v", cfg.Server)
	}
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	cases := []struct{ yaml, want string }{
		// An unknown key is named by its path, with its line.
		{"server:\n  adr: x\n", "line 2: server.adr: unknown key; did you mean addr?"},
		{"server:\n  queue_size: many\n", "line 2: server.queue_size: cannot unmarshal"},
		{"server:\n  addr: nonsense\n", "server.addr"},
		{"server:\n  queue_size: -1\n", "server.queue_size"},
		{"server:\n  max_frame_bytes: 10\n", "server.max_frame_bytes"},
		{"ort:\n  provider: rocm\n", "provider"},
		{"log:\n  level: loud\n", "log.level"},
		{"log:\n  format: xml\n", "log.format"},
		{"server:\n  addr: 0.0.0.0:8000\n", "server.auth_token is empty"},
		{"server:\n  auth_token: short\n", "server.auth_token"},
		{"server:\n  request_timeout: 0s\n  addr: x:1\n", "server.addr"},
		// What were flags only: the run, its scheduler, the ROS link.
		{"run:\n  scheduler:\n    mdoe: async\n", "line 3: run.scheduler.mdoe: unknown key; did you mean mode?"},
		{"run:\n  watchdog: soon\n", "line 2: run.watchdog: cannot unmarshal"},
		{"run:\n  watchdog: -1s\n", "run.watchdog"},
		{"run:\n  init: 50\n", "run.init"},
		{"run:\n  scheduler:\n    kinds: [delta]\n", "run.scheduler: kinds"},
		{"run:\n  record:\n    images: gif\n", "run.record.images"},
		{"ros:\n  mastr: x\n", "line 2: ros.mastr: unknown key; did you mean master?"},
		{"ros:\n  ready_timeout: -1s\n", "ros.ready_timeout"},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			t.Setenv("EFFERENT_CONFIG", writeConfig(t, tc.yaml))
			_, err := loadConfig(flagsFor(t).fs)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one naming %s", err, tc.want)
			}
		})
	}
	t.Run("non-loopback allowed with a token or explicitly without", func(t *testing.T) {
		for _, y := range []string{
			"server:\n  addr: 0.0.0.0:8000\n  auth_token: 0123456789abcdef\n",
			"server:\n  addr: 0.0.0.0:8000\n  allow_no_auth: true\n",
		} {
			t.Setenv("EFFERENT_CONFIG", writeConfig(t, y))
			if _, err := loadConfig(flagsFor(t).fs); err != nil {
				t.Fatalf("%q: %v", y, err)
			}
		}
	})
	t.Run("missing file", func(t *testing.T) {
		t.Setenv("EFFERENT_CONFIG", filepath.Join(t.TempDir(), "nope.yaml"))
		if _, err := loadConfig(flagsFor(t).fs); err == nil || !strings.Contains(err.Error(), "nope.yaml") {
			t.Fatalf("err = %v", err)
		}
	})
}

type flagSet struct{ fs *pflag.FlagSet }

// The token comes from EFFERENT_TOKEN or --token; --insecure-no-auth is the
// only way to expose the policy without one.
func TestConfigAuthFlags(t *testing.T) {
	if _, err := loadConfig(flagsFor(t, "--addr", "0.0.0.0:8000").fs); err == nil || !strings.Contains(err.Error(), "--insecure-no-auth") {
		t.Fatalf("non-loopback without a token: err = %v", err)
	}
	cfg, err := loadConfig(flagsFor(t, "--addr", "0.0.0.0:8000", "--insecure-no-auth").fs)
	if err != nil || !cfg.Server.AllowNoAuth {
		t.Fatalf("--insecure-no-auth: %v, allow %v", err, cfg.Server.AllowNoAuth)
	}
	t.Setenv("EFFERENT_TOKEN", "from-the-environment-0123")
	cfg, err = loadConfig(flagsFor(t, "--addr", "0.0.0.0:8000").fs)
	if err != nil || cfg.Server.AuthToken != "from-the-environment-0123" {
		t.Fatalf("EFFERENT_TOKEN: %v, token %q", err, cfg.Server.AuthToken)
	}
	cfg, err = loadConfig(flagsFor(t, "--token", "from-the-flag-0123456789").fs)
	if err != nil || cfg.Server.AuthToken != "from-the-flag-0123456789" {
		t.Fatalf("--token over the environment: %v, token %q", err, cfg.Server.AuthToken)
	}
}

// The run and ros sections configure efferent run; its flags override
// them only where given.
func TestConfigRunSection(t *testing.T) {
	t.Setenv("EFFERENT_CONFIG", writeConfig(t, `
run:
  robot: franka
  task: put the cup on the plate
  scheduler: {mode: async, blend_steps: 2}
  watchdog: 300ms
  premise: true
  record: {path: /tmp/x.mcap, images: png}
ros:
  master: 127.0.0.1:11399
  cameras: [observation/image=ros:/cam]
  ready_timeout: 3s
`))
	runFlags := func(args ...string) *pflag.FlagSet {
		cmd := runCmd()
		cmd.Flags().String("config", "", "")
		if err := cmd.Flags().Parse(args); err != nil {
			t.Fatal(err)
		}
		return cmd.Flags()
	}
	cfg, err := loadConfig(runFlags())
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.runConf()
	if r.Robot != "franka" || r.Task != "put the cup on the plate" || r.Scheduler.Mode != "async" || r.Scheduler.BlendSteps != 2 ||
		r.Watchdog.Milliseconds() != 300 || r.Premise == nil || !*r.Premise || r.Record.Images != "png" || r.Episodes != 1 ||
		r.ROS.Master != "127.0.0.1:11399" || len(r.ROS.Cameras) != 1 || r.ROS.ReadyTimeout.Seconds() != 3 || r.Server.Addr != "127.0.0.1:8000" {
		t.Fatalf("from the file: %+v", r)
	}
	cfg, err = loadConfig(runFlags("--mode", "replan", "--premise=false", "--camera", "ros:/a", "--camera", "ros:/b", "--ready-timeout", "1s"))
	if err != nil {
		t.Fatal(err)
	}
	r = cfg.runConf()
	if r.Scheduler.Mode != "replan" || r.Scheduler.BlendSteps != 2 || *r.Premise || len(r.ROS.Cameras) != 2 || r.ROS.ReadyTimeout.Seconds() != 1 || r.Robot != "franka" {
		t.Fatalf("flags over the file: %+v", r)
	}
}
