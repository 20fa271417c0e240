package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"sync/atomic"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/efferent/efferent/models"
	"github.com/efferent/efferent/policy"
	"github.com/efferent/efferent/policy/ort"
	"github.com/efferent/efferent/rig"
	"github.com/efferent/efferent/server"
	"github.com/efferent/efferent/viewer"
)

func serveCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve a policy over the openpi websocket protocol (ws://127.0.0.1:8000 by default)",
		Long: `serve loads a model (a directory with manifest.yaml, or an embedded model by
name) under ONNX Runtime and answers openpi-protocol clients: metadata frame
first, then one msgpack observation in, one action chunk out. With --viewer,
http://ADDR/viewer/ shows what the server sees: the last request's camera
frames and instruction, the chunk it answered and the inference latency.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd.Flags())
			if err != nil {
				return err
			}
			return serve(cmd.Context(), cfg, nil)
		},
	}
	f := cmd.Flags()
	f.String("addr", "127.0.0.1:8000", "listen address (host:port)")
	addAuthFlags(f)
	addViewerFlags(f)
	f.Bool("premise", false, "check each client's instruction against its camera frames (the simulator's false-premise checker, or --premise-detector's) before running the policy; refused instructions get no actions (server.premise)")
	addPremiseDetectorFlag(f)
	addModelFlags(f)
	return cmd
}

// addAuthFlags adds the flags of the server's authentication.
func addAuthFlags(f *pflag.FlagSet) {
	f.String("token", "", "require this token of every client (Authorization: Bearer or Api-Key, or ?token=); required for a non-loopback --addr; without it only this machine's names (localhost, 127.0.0.1) and server.allowed_hosts are answered (default $EFFERENT_TOKEN)")
	f.Bool("insecure-no-auth", false, "allow a non-loopback --addr without a token: anyone who reaches it can query the policy")
}

// addModelFlags adds the flags every model-loading command shares.
func addModelFlags(f *pflag.FlagSet) {
	f.String("model", models.Default, "model directory, or the name of an embedded model ("+fmt.Sprint(models.Names())+")")
	f.String("ort-library", "", "path of libonnxruntime.so (default: found automatically; see README)")
	f.String("provider", "cpu", "ONNX Runtime execution provider: cpu, cuda or tensorrt")
	f.String("log-level", "info", "debug, info, warn or error")
}

// openPolicy loads the model and wraps it so images of any size are resized
// as its manifest says.
func openPolicy(ref string, conf ort.Conf) (policy.Policy, *policy.Manifest, error) {
	m, err := models.Manifest(ref)
	if err != nil {
		return nil, nil, err
	}
	pol, err := ort.OpenPolicy(m, conf)
	if err != nil {
		return nil, nil, err
	}
	return policy.Resizing(pol, func(key string) (policy.Resizer, error) { return newResizer(m.CameraSpecFor(key)) }), m, nil
}

// serveHeapMargin is the Go heap efferent serve allows beyond
// server.max_inflight_bytes before its garbage collector works harder (its
// soft memory limit, unless GOMEMLIMIT is set).
const serveHeapMargin = 256 << 20

// serve runs the server until ctx ends or a signal arrives. listening, when
// not nil, is told the bound address once clients can connect.
func serve(ctx context.Context, cfg Config, listening func(addr string)) error {
	log := cfg.Log.logger()
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	var wrap func(policy.Policy) policy.Policy
	var started atomic.Pointer[server.Server]
	if cfg.Viewer {
		v, err := viewer.New(rig.ViewerConf(cfg.Server, "efferent serve", cfg.ViewerClients, log))
		if err != nil {
			return fmt.Errorf("--viewer: %w", err)
		}
		defer v.Close()
		cfg.Server.Routes = v.Routes()
		// The page shows clients' requests, not the warm-up's blank ones
		// (the worker warms up before it turns ready).
		warmingUp := func() bool { s := started.Load(); return s == nil || !s.Ready() }
		wrap = func(p policy.Policy) policy.Policy { return viewer.Tap(p, v, warmingUp) }
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// Large frames leave garbage behind; without a soft limit Go lets
		// the heap grow to twice what is live before collecting it. The
		// server's live memory is bounded by max_inflight_bytes plus what
		// small requests and the model hold.
		debug.SetMemoryLimit(cfg.Server.WithDefaults().MaxInflightBytes + serveHeapMargin)
	}
	srv, err := startServerWith(ctx, cfg, log, wrap)
	if err != nil {
		return err
	}
	started.Store(srv)
	addr := srv.Addr().String()
	if cfg.Viewer {
		rig.LogViewerURL(log, addr, cfg.Server.AuthToken != "")
	}
	if listening != nil {
		listening(addr)
	}
	err = srv.Run(ctx)
	if cerr := srv.Close(); err == nil {
		err = cerr
	}
	log.Info("stopped")
	return err
}

// startServer loads the configured model and binds the server's address
// (clients can connect once it returns; Run serves them, and /readyz turns
// ready once the server's worker has warmed the model up).
func startServer(ctx context.Context, cfg Config, log *slog.Logger) (*server.Server, error) {
	return startServerWith(ctx, cfg, log, nil)
}

// startServerWith is startServer with the policy wrapped by wrap (nil: as
// it is), the hook through which serve --viewer sees every request.
func startServerWith(ctx context.Context, cfg Config, log *slog.Logger, wrap func(policy.Policy) policy.Policy) (*server.Server, error) {
	pol, m, err := openPolicy(cfg.Model, cfg.ORT)
	if err != nil {
		return nil, err
	}
	if wrap != nil {
		pol = wrap(pol)
	}
	lib, _ := ort.Init(cfg.ORT.Library)
	md := pol.Metadata()
	log.Info("model loaded", "model", m.Name, "version", m.Version, "source", m.Source, "weights", m.Weights,
		"onnxruntime", ort.RuntimeVersion(), "library", lib, "provider", cfg.ORT.Provider,
		"chunk", fmt.Sprintf("%dx%d", md.Horizon, md.Dim))
	if m.Weights == "random" {
		log.Warn("this model has RANDOM weights: its actions are meaningless (a runtime fixture); do not drive a robot with it")
	}
	conf := cfg.Server
	conf.DecodeImage = decodeImage     // PNG/JPEG camera frames through OpenCV (refused by the nocv build)
	conf.TrimNative = trimNativeMemory // OpenCV's decode buffers, after a burst of large frames
	if md.Resize != "none" {
		// Each client's images are brought to the model's size on its own
		// goroutine, as policy.Resizing would in the model's worker.
		spec := m.CameraSpec()
		conf.NewResizer = func() (policy.Resizer, error) { return newResizer(spec) }
	}
	if conf.CheckPremise {
		// One frame: a client waits for each reply before it sends the
		// next observation, so the first request of an instruction decides.
		if conf.Premise, err = rig.SimPremiseChecker(1, cfg.premiseDetector(log)); err != nil {
			pol.Close()
			return nil, fmt.Errorf("server.premise: %w", err)
		}
		if cfg.PremiseDetector == "" {
			log.Info("checking clients' instructions for false premises (the simulator's objects)")
		} else {
			log.Info("checking clients' instructions for false premises", "premise_detector", cfg.PremiseDetector)
		}
	} else if cfg.PremiseDetector != "" && conf.Premise == nil {
		log.Warn("premise_detector is set but the premise check is off: clients' instructions are not checked (--premise, server.premise)",
			"premise_detector", cfg.PremiseDetector)
	}
	srv, err := server.New(conf, pol, log)
	if err != nil {
		pol.Close()
		return nil, err
	}
	switch {
	case cfg.Server.AuthToken != "":
		log.Info("clients must present the token (Authorization: Bearer … or Api-Key …, or ?token=…)")
	case !server.IsLoopback(cfg.Server.Addr):
		log.Warn("listening on a non-loopback address WITHOUT authentication (--insecure-no-auth): anyone who can reach it can query the policy",
			"addr", cfg.Server.Addr)
	}
	addr := srv.Addr().String()
	log.Info("serving the openpi websocket protocol",
		"url", "ws://"+addr, "healthz", "http://"+addr+"/healthz", "readyz", "http://"+addr+"/readyz", "metrics", "http://"+addr+"/metrics")
	log.Info("connect an openpi client, e.g. LIBERO: python examples/libero/main.py --args.host " + hostOf(addr) + " --args.port " + portOf(addr))
	return srv, nil
}

func portOf(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return port
}

func hostOf(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host
}
