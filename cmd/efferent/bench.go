package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/eval"
	"github.com/efferent/efferent/policy/remote"
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
configuration applies and --max-batch is not used.`,
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
			counts, err := intList(f, "clients", 1, 1024)
			if err != nil {
				return err
			}
			batches, err := intList(f, "max-batch", 1, 256)
			if err != nil {
				return err
			}
			if url != "" && f.Changed("max-batch") {
				return fmt.Errorf("--max-batch: the server at --url batches as it is configured; drop one of the two")
			}
			if f.Changed("batch-wait") {
				cfg.Server.BatchWait, _ = f.GetDuration("batch-wait")
			}
			dur, _ := f.GetDuration("duration")
			if dur < 100*time.Millisecond || dur > time.Hour {
				return fmt.Errorf("--duration %v: want 100ms .. 1h", dur)
			}
			outDir, _ := f.GetString("out")
			rep := &benchReport{Name: "serve", Targets: []string{"server overhead (everything but queueing and the model run) < 1 ms per LIBERO-sized request"}}
			w := cmd.OutOrStdout()
			if err := benchServe(cmd.Context(), cfg, url, counts, batches, dur, w, rep); err != nil {
				return err
			}
			return writeBench(w, outDir, *rep)
		},
	}
	f := cmd.Flags()
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

// benchResult is one client count's measurement.
type benchResult struct {
	clients   int
	requests  int
	errors    int
	firstErr  error
	elapsed   time.Duration
	lat       []time.Duration // sorted
	meanBatch float64         // requests per model run on the server; 0 when unknown
}

// benchServe measures the server at url, or, when url is empty, one started
// here for each max batch in batches.
func benchServe(ctx context.Context, cfg Config, url string, counts, batches []int, dur time.Duration, out io.Writer, rep *benchReport) error {
	if ctx == nil {
		ctx = context.Background()
	}
	token := cfg.Server.AuthToken
	if url != "" {
		fmt.Fprintf(out, "server: %s (batching as it is configured)\n", url)
		return benchTable(ctx, url, token, 0, counts, dur, out, rep)
	}
	log := cfg.Log.logger()
	for _, mb := range batches {
		c := cfg
		// Room for every client's request: measure serving, not refusals.
		c.Server.QueueSize = max(cfg.Server.QueueSize, slices.Max(counts))
		c.Server.SkipWarmup = false
		c.Server.MaxBatch = mb
		srv, err := startServer(ctx, c, log)
		if err != nil {
			return err
		}
		go func() { _ = srv.Run(ctx) }()
		target := "ws://" + srv.Addr().String()
		batching := "none (one model run per request)"
		if srv.MaxBatch() > 1 {
			batching = fmt.Sprintf("up to %d requests per model run, batch_wait %v", srv.MaxBatch(), c.Server.BatchWait)
		} else if mb > 1 {
			batching = fmt.Sprintf("none: server.max_batch %d, but the model's graphs have a fixed batch of one", mb)
		}
		fmt.Fprintf(out, "server: %s in this process, model %s, ORT %s, %d intra-op threads\nbatching: %s\n",
			target, c.Model, c.ORT.Provider, c.ORT.IntraOpThreads, batching)
		err = benchTable(ctx, target, token, srv.MaxBatch(), counts, dur, out, rep)
		srv.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// benchTable prints one row per client count against the server at url;
// maxBatch (0: unknown) labels the rows.
func benchTable(ctx context.Context, url, token string, maxBatch int, counts []int, dur time.Duration, out io.Writer, rep *benchReport) error {
	label := "-"
	if maxBatch > 0 {
		label = strconv.Itoa(maxBatch)
	}
	fmt.Fprintf(out, "%9s %8s %10s %10s %10s %10s %10s %8s   %s\n", "max_batch", "clients", "requests", "req/s", "p50 ms", "p99 ms", "mean batch", "errors",
		"mean per request, ms: decode queue infer encode | overhead")
	for _, n := range counts {
		before := scrapeBatch(ctx, url, token)
		r := benchClients(ctx, url, token, n, dur)
		after := scrapeBatch(ctx, url, token)
		if after.runs > before.runs {
			r.meanBatch = (after.requests - before.requests) / (after.runs - before.runs)
		}
		stages := map[string]float64{}
		for _, st := range []string{"decode", "queue", "infer", "encode", "total"} {
			if dn := after.stageN[st] - before.stageN[st]; dn > 0 {
				stages[st] = 1e3 * (after.stageSum[st] - before.stageSum[st]) / dn
			}
		}
		split := "-"
		if len(stages) == 5 {
			// Overhead: the request's time on the server except waiting for
			// and running the model.
			stages["overhead"] = stages["total"] - stages["queue"] - stages["infer"]
			split = fmt.Sprintf("%.3f %.3f %.3f %.3f | %.3f", stages["decode"], stages["queue"], stages["infer"], stages["encode"], stages["overhead"])
		}
		rps := float64(r.requests) / r.elapsed.Seconds()
		mean := "-"
		if r.meanBatch > 0 {
			mean = strconv.FormatFloat(r.meanBatch, 'f', 2, 64)
		}
		fmt.Fprintf(out, "%9s %8d %10d %10.1f %10.2f %10.2f %10s %8d   %s\n", label, n, r.requests, rps,
			ms(eval.Percentile(r.lat, 50)), ms(eval.Percentile(r.lat, 99)), mean, r.errors, split)
		if rep != nil {
			row := durationRow(fmt.Sprintf("max_batch %s, %d clients", label, n), r.lat)
			row.Allocs = -1
			row.Extra = map[string]float64{"req_per_s": rps, "mean_batch": r.meanBatch, "errors": float64(r.errors)}
			for k, v := range stages {
				row.Extra[k+"_ms"] = v
			}
			rep.Rows = append(rep.Rows, row)
		}
		if r.firstErr != nil {
			fmt.Fprintf(out, "          first error: %v\n", r.firstErr)
		}
		if r.requests == 0 {
			return fmt.Errorf("bench serve: no request succeeded with %d clients: %v", n, r.firstErr)
		}
	}
	return nil
}

// batchCounts is the server's efferent_batch_size histogram: model runs and
// the requests they answered.
type batchCounts struct {
	runs, requests float64
	// stageSum and stageN: efferent_request_stage_seconds per stage.
	stageSum, stageN map[string]float64
}

// scrapeBatch reads the batch-size histogram from the server's /metrics
// (zero when it cannot: an older server, or no token).
func scrapeBatch(ctx context.Context, wsURL, token string) batchCounts {
	var bc batchCounts
	u := "http" + strings.TrimPrefix(wsURL, "ws")
	u = strings.TrimSuffix(u, "/") + "/metrics"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return bc
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return bc
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return bc
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return bc
	}
	bc.stageSum, bc.stageN = map[string]float64{}, map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, "efferent_batch_size_count "); ok {
			bc.runs, _ = strconv.ParseFloat(v, 64)
		} else if v, ok := strings.CutPrefix(line, "efferent_batch_size_sum "); ok {
			bc.requests, _ = strconv.ParseFloat(v, 64)
		} else if rest, ok := strings.CutPrefix(line, `efferent_request_stage_seconds_sum{stage="`); ok {
			if stage, v, ok := strings.Cut(rest, `"} `); ok {
				bc.stageSum[stage], _ = strconv.ParseFloat(v, 64)
			}
		} else if rest, ok := strings.CutPrefix(line, `efferent_request_stage_seconds_count{stage="`); ok {
			if stage, v, ok := strings.Cut(rest, `"} `); ok {
				bc.stageN[stage], _ = strconv.ParseFloat(v, 64)
			}
		}
	}
	return bc
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
