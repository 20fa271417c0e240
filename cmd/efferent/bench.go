package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/bench"
	"github.com/efferent/efferent/models"
	"github.com/efferent/efferent/policy"
	"github.com/efferent/efferent/policy/ort"
	"github.com/efferent/efferent/tokenizer"
)

func benchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure efferent: tick, detok, preprocess, infer, serve — each prints a table and writes JSON",
	}
	cmd.AddCommand(benchServeCmd(), benchTickCmd(), benchDetokCmd(), benchPreprocessCmd(), benchInferCmd())
	return cmd
}

func benchServeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Requests/s and p50/p99 latency of the websocket server at 1, 4 and 16 concurrent clients, with and without batching",
		Long: `bench serve starts the server in this process on 127.0.0.1 (the configured
model, default the bundled one, under ONNX Runtime) — or measures another
server with --url — and, for each client count, runs that many openpi clients
at once, each sending LIBERO-sized observations (two 224x224 cameras, 8-d
state, an instruction) back to back for --duration after a short warm-up.
It prints requests/s, the nearest-rank p50/p99 of the round trip, and the
mean batch the server ran them in (from its /metrics).

The server started here is measured once per --max-batch value: 1 is no
batching (one model run per request), larger values let the requests that
queue while the model runs share one run. With --url the server's own
configuration applies and --max-batch is not used.

--tune instead measures every serving configuration of this model on this
machine (ONNX Runtime's intra-op threads 1, 2, 4, ... and spinning, the
server's max batch 1, 8, 16) at 1 and --tune-clients clients, and writes the
best (the most requests/s, ties broken by one client's latency) as a
configuration file to --tune-out, to pass with --config.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd.Flags())
			if err != nil {
				return err
			}
			f := cmd.Flags()
			if tune, _ := f.GetBool("tune"); tune {
				return benchTune(cmd, cfg)
			}
			var c bench.ServeConf
			c.URL, _ = f.GetString("url")
			if !f.Changed("addr") {
				cfg.Server.Addr = "127.0.0.1:0" // a free port, not the configured one
			}
			if c.Clients, err = intList(f, "clients", 1, 1024); err != nil {
				return err
			}
			if c.MaxBatch, err = intList(f, "max-batch", 1, 256); err != nil {
				return err
			}
			if c.URL != "" && f.Changed("max-batch") {
				return fmt.Errorf("--max-batch: the server at --url batches as it is configured; drop one of the two")
			}
			if f.Changed("batch-wait") {
				cfg.Server.BatchWait, _ = f.GetDuration("batch-wait")
			}
			if c.Duration, err = benchDuration(f); err != nil {
				return err
			}
			c.Floor, _ = f.GetBool("floor")
			c.Python, _ = f.GetString("python")
			if c.Image, err = imageSize(f); err != nil {
				return err
			}
			return benchWrite(cmd, func() (bench.Report, error) { return benchServe(cmd.Context(), cfg, c, cmd.OutOrStdout()) })
		},
	}
	f := cmd.Flags()
	f.Bool("floor", true, "also measure the transport floor (a websocket server answering prepared replies) and, at one client, the same floor answering after as much busy work as the model's run (the waiting floor), and each overhead against them")
	f.String("python", "", "also measure openpi's Python server stack run by this interpreter (needs msgpack, websockets, numpy; e.g. /usr/bin/python3 with Debian's python3-msgpack python3-websockets)")
	f.String("image", "224x224", "the cameras' size the clients send, HEIGHTxWIDTH (480x640: the server resizes every frame)")
	f.Bool("tune", false, "measure every serving configuration and write the best to --tune-out")
	f.String("tune-out", "efferent-tuned.yaml", "where --tune writes the configuration it chose")
	f.Int("tune-clients", 16, "the load --tune ranks configurations at")
	f.String("url", "", "measure this server (ws://host:port) instead of one started here")
	f.String("clients", "1,4,16", "concurrent client counts to measure")
	f.String("max-batch", "1,8", "server.max_batch values to compare (1: no batching) for the server started here")
	f.Duration("batch-wait", 0, "server.batch_wait for the server started here (default: the configured one, 0)")
	f.Duration("duration", 5*time.Second, "measured time per client count")
	addBenchOut(f)
	f.String("addr", "127.0.0.1:0", "listen address of the server started here")
	f.String("token", "", "bearer token: the one the --url server wants, or the one the server started here requires (default $EFFERENT_TOKEN)")
	addModelFlags(f)
	return cmd
}

// benchServe runs bench.Serve against c.URL, or servers started here
// from cfg (startServer) with the max batch and room for the clients.
func benchServe(ctx context.Context, cfg Config, c bench.ServeConf, w io.Writer) (bench.Report, error) {
	log := cfg.Log.logger()
	c.Token, c.Model, c.Provider = cfg.Server.AuthToken, cfg.Model, cfg.ORT.Provider
	if m, err := models.Manifest(cfg.Model); err == nil {
		c.FloorShape = [2]int{m.Action.Horizon, m.Action.Dim} // the floor's replies as large as the model's
	}
	c.IntraOpThreads, c.BatchWait = cfg.ORT.IntraOpThreads, cfg.Server.BatchWait
	c.Start = func(ctx context.Context, maxBatch, queue int) (bench.Server, error) {
		sc := cfg
		sc.Server.QueueSize = max(cfg.Server.QueueSize, queue)
		sc.Server.SkipWarmup, sc.Server.MaxBatch = false, maxBatch
		// Back-to-back clients are the load measured, not abuse: the
		// per-client pixel rate would refuse 640×480 frames at a few
		// hundred requests/s.
		sc.Server.MaxPixelRate = -1
		srv, err := startServer(ctx, sc, log)
		if err != nil {
			return nil, err
		}
		return srv, nil
	}
	return bench.Serve(ctx, c, w)
}

// imageSize is the --image flag, HEIGHTxWIDTH.
func imageSize(f *pflag.FlagSet) ([2]int, error) {
	v, _ := f.GetString("image")
	var h, w int
	if n, err := fmt.Sscanf(v, "%dx%d", &h, &w); err != nil || n != 2 || h < 16 || w < 16 || h > 4096 || w > 4096 {
		return [2]int{}, fmt.Errorf("--image %q: want HEIGHTxWIDTH, 16..4096 each, e.g. 480x640", v)
	}
	return [2]int{h, w}, nil
}

// benchTune runs bench.Tune with servers started from cfg and writes the
// configuration it chose.
func benchTune(cmd *cobra.Command, cfg Config) error {
	f := cmd.Flags()
	log := cfg.Log.logger()
	dur, err := benchDuration(f)
	if err != nil {
		return err
	}
	if !f.Changed("duration") {
		dur = 2 * time.Second
	}
	clients, _ := f.GetInt("tune-clients")
	if clients < 2 || clients > 1024 {
		return fmt.Errorf("--tune-clients %d: want 2..1024", clients)
	}
	c := bench.TuneConf{Clients: clients, Duration: dur}
	c.Start = func(ctx context.Context, tc bench.TuneCase, queue int) (bench.Server, error) {
		sc := cfg
		sc.Server.QueueSize = max(cfg.Server.QueueSize, queue)
		sc.Server.SkipWarmup, sc.Server.MaxBatch, sc.Server.AuthToken = false, tc.MaxBatch, ""
		sc.ORT.IntraOpThreads, sc.ORT.Spinning = tc.IntraOpThreads, &tc.Spinning
		return startServer(ctx, sc, log)
	}
	out := cmd.OutOrStdout()
	best, all, rep, err := bench.Tune(cmd.Context(), c, out)
	if err != nil {
		return err
	}
	path, _ := f.GetString("tune-out")
	if err := os.WriteFile(path, []byte(bench.TunedConfig(best, cfg.Model, all, clients)), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(out, "best: %s (%.0f requests/s at %d clients); wrote %s (efferent serve --config %s)\n", best.Case, best.RPS, clients, path, path)
	return benchWrite(cmd, func() (bench.Report, error) { return rep, nil })
}

// intList parses a comma-separated flag of integers in [lo, hi].
func intList(f *pflag.FlagSet, name string, lo, hi int) ([]int, error) {
	v, _ := f.GetString(name)
	var out []int
	for _, s := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < lo || n > hi {
			return nil, fmt.Errorf("--%s: %q: want a list of numbers in %d..%d, e.g. %s", name, s, lo, hi, f.Lookup(name).DefValue)
		}
		out = append(out, n)
	}
	return out, nil
}

// benchDuration is the --duration flag, 100ms .. 1h.
func benchDuration(f *pflag.FlagSet) (time.Duration, error) {
	dur, _ := f.GetDuration("duration")
	if dur < 100*time.Millisecond || dur > time.Hour {
		return 0, fmt.Errorf("--duration %v: want 100ms .. 1h", dur)
	}
	return dur, nil
}

func benchTickCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tick",
		Short: "The real-time path at the robot's rate in real time: scheduler, the whole safety chain and the hand-off to the publisher; jitter, missed deadlines, allocations",
		Long: `bench tick runs the control loop for --duration in real time at the robot
profile's rate (1 kHz for the Franka), exactly as efferent run does on a ROS
robot: the scheduler interpolates 20 Hz chunks from a policy that takes 20 ms
per chunk on its own goroutine, every setpoint passes the e-stop, the
watchdog, the limits and the motion gate, and is handed to a publisher
goroutine over the same kind of bounded queue the ROS bridge uses. It
reports how late each tick ran (from its deadline to the hand-off: p50,
p99, max), the deadlines missed, and the heap allocations per tick of the
whole process.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := cmd.Flags()
			var c bench.TickConf
			var err error
			c.Robot, _ = f.GetString("robot")
			c.Spin, _ = f.GetDuration("spin")
			c.Probe, _ = f.GetDuration("probe")
			if c.Duration, err = benchDuration(f); err != nil {
				return err
			}
			return benchWrite(cmd, func() (bench.Report, error) { return bench.Tick(cmd.Context(), c) })
		},
	}
	f := cmd.Flags()
	f.Duration("duration", 30*time.Second, "how long to run")
	f.String("robot", "franka", "robot profile whose rate, limits and gates to use")
	f.Duration("spin", 200*time.Microsecond, "busy-wait this long before each deadline (what efferent run uses above 200 Hz); 0: Go timers only")
	f.Duration("probe", 5*time.Second, "first measure the machine itself for this long: a busy loop on one thread counting the gaps over 1 ms it sees (the hypervisor or kernel taking the CPU away); 0: skip")
	addBenchOut(f)
	return cmd
}

func benchDetokCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "detok",
		Short: "Action detokenizers: ns per chunk of the bundled model's residual VQ and of OpenVLA's 256 bins",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd.Flags())
			if err != nil {
				return err
			}
			n, _ := cmd.Flags().GetInt("n")
			return benchWrite(cmd, func() (bench.Report, error) {
				return bench.Detok(bench.DetokConf{Model: cfg.Model, N: n, Open: ortOpener(cfg.ORT)})
			})
		},
	}
	cmd.Flags().Int("n", 200000, "chunks decoded per detokenizer")
	addBenchOut(cmd.Flags())
	addModelFlags(cmd.Flags())
	return cmd
}

func benchPreprocessCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "preprocess",
		Short: "Camera preprocessing with OpenCV: a 640x480 frame to the model's 224x224 (resize with pad; and undistort + crop + resize + BGR in one remap)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := needOpenCV("bench preprocess"); err != nil {
				return err
			}
			n, _ := cmd.Flags().GetInt("n")
			c := bench.PreprocessConf{N: n, New: newPreprocessor}
			return benchWrite(cmd, func() (bench.Report, error) { return bench.Preprocess(c) })
		},
	}
	cmd.Flags().Int("n", 2000, "frames per case")
	addBenchOut(cmd.Flags())
	return cmd
}

func benchInferCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "infer",
		Short: "The model: prefix (encoder), one action token (decoder step) and the whole chunk, p50/p99, with and without the KV cache",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd.Flags())
			if err != nil {
				return err
			}
			n, _ := cmd.Flags().GetInt("n")
			o := cfg.ORT.WithDefaults()
			c := bench.InferConf{Model: cfg.Model, N: n, Open: ortOpener(cfg.ORT), Bare: ortBare, Provider: o.Provider, IntraOpThreads: o.IntraOpThreads}
			return benchWrite(cmd, func() (bench.Report, error) { return bench.Infer(cmd.Context(), c) })
		},
	}
	cmd.Flags().Int("n", 1000, "inferences per case")
	addBenchOut(cmd.Flags())
	addModelFlags(cmd.Flags())
	return cmd
}

// benchWrite runs a measurement and writes its report to --out.
func benchWrite(cmd *cobra.Command, measure func() (bench.Report, error)) error {
	rep, err := measure()
	if err != nil {
		return err
	}
	out, _ := cmd.Flags().GetString("out")
	return rep.Write(cmd.OutOrStdout(), out)
}

// ortOpener opens models under ONNX Runtime with conf for the bench.
func ortOpener(conf ort.Conf) bench.Opener {
	return func(m *policy.Manifest, noKVCache bool) (bench.Model, error) {
		c := conf
		c.NoKVCache = noKVCache
		if m.LayoutName() != policy.LayoutAutoregressive {
			v, err := ort.OpenContinuous(m, c)
			if err != nil {
				return nil, err
			}
			return ortModel{Policy: v, timed: v}, nil
		}
		v, err := ort.Open(m, c)
		if err != nil {
			return nil, err
		}
		return ortModel{Policy: v, timed: v, detok: v.Detokenizer()}, nil
	}
}

// ortModel is an ONNX Runtime model as a bench.Model.
type ortModel struct {
	policy.Policy
	timed interface{ LastTiming() ort.Timing }
	detok tokenizer.Detokenizer // nil: a layout without one
}

// ortBare is the bare ONNX Runtime loop over an ortModel's graphs.
func ortBare(m bench.Model, obs *efferent.Observation) (bench.Runner, error) {
	om, ok := m.(ortModel)
	if !ok {
		return nil, fmt.Errorf("bench: %T is not an ONNX Runtime model", m)
	}
	b, err := ort.NewBare(om.Policy, obs)
	if errors.Is(err, ort.ErrBare) {
		return nil, fmt.Errorf("%w: %v", bench.ErrNoBare, err)
	}
	return b, err
}

// Copies forwards the model's count of host↔device copies per chunk.
func (m ortModel) Copies() policy.Copies {
	if c, ok := m.Policy.(policy.Copier); ok {
		return c.Copies()
	}
	return policy.Copies{}
}

// Detokenizer is the autoregressive layout's (nil for the others).
func (m ortModel) Detokenizer() tokenizer.Detokenizer { return m.detok }

// Timing is the split of the last Infer (LastTiming).
func (m ortModel) Timing(t *bench.Timing) {
	lt := m.timed.LastTiming()
	t.Encoder, t.Total = lt.Encoder, lt.Total
	t.Steps = append(t.Steps[:0], lt.Steps[:lt.NSteps]...)
}

func addBenchOut(f *pflag.FlagSet) {
	f.String("out", "efferent-bench", "directory for the JSON result")
}
