package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/eval"
	"github.com/efferent/efferent/policy/remote"
)

func benchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure efferent: serve (throughput and latency under concurrent clients)",
	}
	cmd.AddCommand(benchServeCmd())
	return cmd
}

func benchServeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Requests/s and p50/p99 latency of the websocket server at 1, 4 and 16 concurrent clients",
		Long: `bench serve starts the server in this process on 127.0.0.1 (the configured
model, default the bundled one, under ONNX Runtime) — or measures another
server with --url — and, for each client count, runs that many openpi clients
at once, each sending LIBERO-sized observations (two 224x224 cameras, 8-d
state, an instruction) back to back for --duration after a short warm-up.
It prints requests/s and the nearest-rank p50/p99 of the round trip.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd.Flags())
			if err != nil {
				return err
			}
			f := cmd.Flags()
			url, _ := f.GetString("url")
			if !f.Changed("addr") {
				cfg.Server.Addr = "127.0.0.1:0" // a free port, not the configured one
			}
			clientsFlag, _ := f.GetString("clients")
			dur, _ := f.GetDuration("duration")
			var counts []int
			for _, s := range strings.Split(clientsFlag, ",") {
				n, err := strconv.Atoi(strings.TrimSpace(s))
				if err != nil || n < 1 || n > 1024 {
					return fmt.Errorf("--clients: %q: want a list of counts in 1..1024, e.g. 1,4,16", s)
				}
				counts = append(counts, n)
			}
			if dur < 100*time.Millisecond || dur > time.Hour {
				return fmt.Errorf("--duration %v: want 100ms .. 1h", dur)
			}
			return benchServe(cmd.Context(), cfg, url, counts, dur, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.String("url", "", "measure this server (ws://host:port) instead of one started here")
	f.String("clients", "1,4,16", "concurrent client counts to measure")
	f.Duration("duration", 5*time.Second, "measured time per client count")
	f.String("addr", "127.0.0.1:0", "listen address of the server started here")
	f.String("token", "", "bearer token: the one the --url server wants, or the one the server started here requires (default $EFFERENT_TOKEN)")
	addModelFlags(f)
	return cmd
}

// benchResult is one client count's measurement.
type benchResult struct {
	clients  int
	requests int
	errors   int
	firstErr error
	elapsed  time.Duration
	lat      []time.Duration // sorted
}

func benchServe(ctx context.Context, cfg Config, url string, counts []int, dur time.Duration, out io.Writer) error {
	if ctx == nil {
		ctx = context.Background()
	}
	log := cfg.Log.logger()
	target := url
	if target == "" {
		// Room for every client's request: measure serving, not refusals.
		cfg.Server.QueueSize = max(cfg.Server.QueueSize, slices.Max(counts))
		cfg.Server.SkipWarmup = false
		srv, err := startServer(ctx, cfg, log)
		if err != nil {
			return err
		}
		go func() { _ = srv.Run(ctx) }()
		defer srv.Close()
		target = "ws://" + srv.Addr().String()
		fmt.Fprintf(out, "server: %s in this process, model %s, ORT %s, %d intra-op threads\n", target, cfg.Model, cfg.ORT.Provider, cfg.ORT.IntraOpThreads)
	} else {
		fmt.Fprintf(out, "server: %s\n", target)
	}
	fmt.Fprintf(out, "batching: none (one inference at a time, in arrival order)\n")
	fmt.Fprintf(out, "%8s %10s %10s %10s %10s %8s\n", "clients", "requests", "req/s", "p50 ms", "p99 ms", "errors")
	for _, n := range counts {
		r := benchClients(ctx, target, cfg.Server.AuthToken, n, dur)
		rps := float64(r.requests) / r.elapsed.Seconds()
		fmt.Fprintf(out, "%8d %10d %10.1f %10.2f %10.2f %8d\n", n, r.requests, rps,
			ms(eval.Percentile(r.lat, 50)), ms(eval.Percentile(r.lat, 99)), r.errors)
		if r.firstErr != nil {
			fmt.Fprintf(out, "         first error: %v\n", r.firstErr)
		}
		if r.requests == 0 {
			return fmt.Errorf("bench serve: no request succeeded with %d clients: %v", n, r.firstErr)
		}
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// benchClients runs n clients against url for dur (after a warm-up request
// each) and collects every round trip.
func benchClients(ctx context.Context, url, token string, n int, dur time.Duration) benchResult {
	res := benchResult{clients: n}
	var mu sync.Mutex
	var wg, warmed sync.WaitGroup
	ready := make(chan struct{})
	var start time.Time
	for i := range n {
		wg.Add(1)
		warmed.Add(1)
		go func() {
			defer wg.Done()
			fail := func(err error) {
				mu.Lock()
				res.errors++
				if res.firstErr == nil {
					res.firstErr = err
				}
				mu.Unlock()
			}
			p, err := remote.Dial(ctx, url, remote.Conf{Token: token})
			if err != nil {
				fail(err)
				warmed.Done()
				return
			}
			defer p.Close()
			obs := benchObservation(uint64(i))
			var ch efferent.Chunk
			if err := p.Infer(ctx, &obs, &ch); err != nil { // warm-up, not measured
				fail(err)
			}
			warmed.Done()
			<-ready
			lat := make([]time.Duration, 0, 1024)
			end := start.Add(dur)
			for time.Now().Before(end) && ctx.Err() == nil {
				t0 := time.Now()
				if err := p.Infer(ctx, &obs, &ch); err != nil {
					fail(err)
					// The connection is gone after an error: open another.
					p.Close()
					if p, err = remote.Dial(ctx, url, remote.Conf{Token: token}); err != nil {
						fail(err)
						break
					}
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			res.lat = append(res.lat, lat...)
			mu.Unlock()
		}()
	}
	// Every client has dialled and warmed up (or failed) before the clock
	// starts: the measurement is of steady state, not of connecting.
	warmed.Wait()
	start = time.Now()
	close(ready)
	wg.Wait()
	res.elapsed = time.Since(start)
	res.requests = len(res.lat)
	slices.Sort(res.lat)
	return res
}

// benchObservation is a LIBERO-sized observation with noise images (so no
// layer of the path can shortcut on constant input).
func benchObservation(seed uint64) efferent.Observation {
	rng := rand.New(rand.NewPCG(seed, 99))
	im := func() efferent.Image {
		pix := make([]byte, 224*224*3)
		for i := range pix {
			pix[i] = byte(rng.Uint32())
		}
		return efferent.Image{H: 224, W: 224, C: 3, Pix: pix}
	}
	return efferent.Observation{
		Images: map[string]efferent.Image{"observation/image": im(), "observation/wrist_image": im()},
		State:  make([]float64, 8),
		Prompt: "put the red block in the blue bowl",
	}
}
