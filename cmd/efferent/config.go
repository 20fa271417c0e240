package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/efferent/efferent/internal/strictyaml"
	"github.com/efferent/efferent/models"
	"github.com/efferent/efferent/policy/ort"
	"github.com/efferent/efferent/rig"
	"github.com/efferent/efferent/server"
)

// Config is the whole configuration. It is assembled from defaults, then
// the YAML file (--config or $EFFERENT_CONFIG), then environment variables,
// then flags, and validated; unknown YAML keys are errors.
type Config struct {
	// Model is a model directory or the name of an embedded model.
	// Default "efferent-tiny" (embedded, trained). Env: EFFERENT_MODEL.
	Model string `yaml:"model"`
	// Server: see server.Conf. Env: EFFERENT_ADDR for server.addr.
	Server server.Conf `yaml:"server"`
	// ORT: see ort.Conf. Env: EFFERENT_ORT_LIBRARY, EFFERENT_ORT_PROVIDER.
	ORT ort.Conf `yaml:"ort"`
	// Log configures logging.
	Log LogConf `yaml:"log"`
	// Run configures efferent run: the robot, the task, the policy, the
	// scheduler, the watchdog, the premise check, the recording (see
	// rig.Conf; its flags override it).
	Run rig.Conf `yaml:"run"`
	// ROS connects efferent run to a ROS robot (rig.ROSConf): master,
	// cameras, ready_timeout.
	ROS rig.ROSConf `yaml:"ros"`
	// PremiseDetector is a detector directory (safety/premise/onnxdet:
	// detector.yaml, its ONNX graph and tokenizer, optionally
	// vocabulary.yaml) whose open-vocabulary detector the false-premise
	// check of run, serve and eval premise uses instead of the OpenCV one
	// for the simulator's objects. Default "": the OpenCV one.
	// --premise-detector.
	PremiseDetector string `yaml:"premise_detector"`
	// Viewer serves the viewer page beside the server or run (--viewer;
	// a flag only).
	Viewer bool `yaml:"-"`
	// ViewerClients is how many browsers the viewer takes at once
	// (--viewer-clients; 0: the viewer's default, 8).
	ViewerClients int `yaml:"-"`
}

// LogConf configures the process log (stderr).
type LogConf struct {
	// Level is debug, info (default), warn or error. Env: EFFERENT_LOG_LEVEL.
	Level string `yaml:"level"`
	// Format is text (default) or json.
	Format string `yaml:"format"`
}

// loadConfig builds the configuration; flags are applied only where the
// user set them, so a flag's default never overrides the file.
func loadConfig(flags *pflag.FlagSet) (Config, error) {
	cfg := Config{Model: models.Default, Run: rig.DefaultConf()}
	cfg.ROS = cfg.Run.ROS
	path, _ := flags.GetString("config")
	if path == "" {
		path = os.Getenv("EFFERENT_CONFIG")
	}
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return cfg, fmt.Errorf("config: %w", err)
		}
		if err := strictyaml.Decode(data, &cfg); err != nil {
			return cfg, fmt.Errorf("config %s: %w", path, err)
		}
	}
	for env, dst := range map[string]*string{
		"EFFERENT_MODEL": &cfg.Model, "EFFERENT_ADDR": &cfg.Server.Addr,
		"EFFERENT_ORT_LIBRARY": &cfg.ORT.Library, "EFFERENT_ORT_PROVIDER": &cfg.ORT.Provider,
		"EFFERENT_LOG_LEVEL": &cfg.Log.Level, "EFFERENT_TOKEN": &cfg.Server.AuthToken,
	} {
		if v, ok := os.LookupEnv(env); ok && v != "" {
			*dst = v
		}
	}
	set := func(name string, dst *string) {
		if f := flags.Lookup(name); f != nil && f.Changed {
			*dst = f.Value.String()
		}
	}
	set("model", &cfg.Model)
	set("addr", &cfg.Server.Addr)
	set("ort-library", &cfg.ORT.Library)
	set("provider", &cfg.ORT.Provider)
	set("log-level", &cfg.Log.Level)
	set("token", &cfg.Server.AuthToken)
	set("premise-detector", &cfg.PremiseDetector)
	if f := flags.Lookup("premise"); f != nil && f.Changed {
		cfg.Server.CheckPremise = f.Value.String() == "true"
	}
	if f := flags.Lookup("viewer"); f != nil {
		cfg.Viewer = f.Value.String() == "true"
	}
	if n, err := flags.GetInt("viewer-clients"); err == nil {
		if n < 1 {
			return cfg, fmt.Errorf("--viewer-clients %d: want at least 1", n)
		}
		cfg.ViewerClients = n
	}
	if f := flags.Lookup("insecure-no-auth"); f != nil && f.Changed {
		cfg.Server.AllowNoAuth = f.Value.String() == "true"
	}
	applyRunFlags(flags, &cfg)
	cfg.Server = cfg.Server.WithDefaults()
	cfg.ORT = cfg.ORT.WithDefaults()
	if cfg.Log.Level == "" {
		cfg.Log.Level = "info"
	}
	if cfg.Log.Format == "" {
		cfg.Log.Format = "text"
	}
	return cfg, cfg.Validate()
}

// Validate checks every section; the error names the key.
func (c Config) Validate() error {
	if strings.TrimSpace(c.Model) == "" {
		return fmt.Errorf("model: empty")
	}
	if err := c.Server.Validate(); err != nil {
		return err
	}
	if err := c.ORT.Validate(); err != nil {
		return err
	}
	if err := c.runConf().Validate(); err != nil {
		return err
	}
	if _, err := c.Log.level(); err != nil {
		return err
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		return fmt.Errorf("log.format: %q, want text or json", c.Log.Format)
	}
	return nil
}

func (l LogConf) level() (slog.Level, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(l.Level)); err != nil {
		return 0, fmt.Errorf("log.level: %q, want debug, info, warn or error", l.Level)
	}
	return lv, nil
}

func (l LogConf) logger() *slog.Logger {
	lv, _ := l.level()
	opts := &slog.HandlerOptions{Level: lv}
	if l.Format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}
