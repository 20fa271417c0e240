package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/eval"
	"github.com/efferent/efferent/policy/remote"
)

// ServeConf configures Serve. Zero values mean the documented default.
type ServeConf struct {
	// URL is a server to measure (ws://host:port) instead of starting
	// them with Start; it batches as it is configured, and MaxBatch is
	// not used. Default "": Start one per MaxBatch value.
	URL string
	// Token is the bearer token the server wants (URL's, or the one the
	// started servers require). Default "": none.
	Token string
	// Clients are the concurrent client counts measured, one row each.
	// Default 1, 4, 16.
	Clients []int
	// MaxBatch are the server.max_batch values of the servers started
	// here, one table each (1: no batching). Default 1, 8.
	MaxBatch []int
	// Duration is the measured time per client count, after each client
	// has connected and sent one warm-up request. Default 5s.
	Duration time.Duration
	// Start starts a server in this process on a free loopback port with
	// at most maxBatch requests per model run and room for at least queue
	// waiting requests; Serve Runs it and Closes it. Required without URL.
	Start func(ctx context.Context, maxBatch, queue int) (Server, error)
	// Floor also measures the transport floor (StartFloor: a websocket
	// server that answers each request with a prepared reply of
	// FloorShape's H×D chunk) at the same client counts, and reports each
	// table's overhead p50 against it; and, at one client, the waiting
	// floor (StartFloor with the model's mean run as its wait). Default
	// false.
	Floor      bool
	FloorShape [2]int
	// Python, when set, also measures openpi's own Python server stack
	// (asyncio websockets + msgpack with openpi's numpy encoding, run by
	// this interpreter, which must import msgpack, websockets and numpy)
	// with a policy that busy-waits as long as the model served here took
	// per request, at the same client counts, and reports each
	// configuration's requests/s against it. Skipped, with the reason, when
	// the interpreter lacks them. Default "": not measured.
	Python string
	// Image is the cameras' size the clients send, height and width.
	// Default 224×224 (LIBERO's, after openpi's client resizes); 480×640
	// makes the server resize each frame.
	Image [2]int
	// Model, Provider, IntraOpThreads and BatchWait describe the servers
	// Start starts, in the header of their tables.
	Model, Provider string
	IntraOpThreads  int
	BatchWait       time.Duration
}

// Server is a server Start started (server.Server).
type Server interface {
	// Addr is the address it listens on.
	Addr() net.Addr
	// MaxBatch is the most requests it runs as one batch (1: none).
	MaxBatch() int
	// Run serves until Close or ctx ends.
	Run(ctx context.Context) error
	// Close stops it.
	Close() error
}

// WithDefaults returns c with zero fields replaced by their defaults.
func (c ServeConf) WithDefaults() ServeConf {
	if len(c.Clients) == 0 {
		c.Clients = []int{1, 4, 16}
	}
	if len(c.MaxBatch) == 0 {
		c.MaxBatch = []int{1, 8}
	}
	if c.Duration == 0 {
		c.Duration = 5 * time.Second
	}
	if c.FloorShape[0] == 0 {
		c.FloorShape = [2]int{10, 7}
	}
	if c.Image[0] == 0 {
		c.Image = [2]int{224, 224}
	}
	return c
}

// Serve measures the server at c.URL, or one started with c.Start for
// each max batch in c.MaxBatch: for each client count, that many openpi
// clients at once, each sending LIBERO-sized observations (two 224x224
// cameras, 8-d state, an instruction) back to back. It prints one table
// per server to w as it goes (requests/s, the nearest-rank p50/p99 of
// the round trip, the mean batch and the mean time per request of each
// stage on the server, from its /metrics) and returns the rows.
func Serve(ctx context.Context, c ServeConf, w io.Writer) (Report, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	c = c.WithDefaults()
	rep := Report{Name: "serve", Targets: []string{"server overhead (everything but queueing and the model run) < 1 ms per LIBERO-sized request"}}
	if c.URL != "" {
		fmt.Fprintf(w, "server: %s (batching as it is configured)\n", c.URL)
		return rep, serveTable(ctx, c, c.URL, "-", w, &rep)
	}
	if c.Start == nil {
		return rep, errors.New("bench: ServeConf.Start: required without a URL")
	}
	for _, mb := range c.MaxBatch {
		// Room for every client's request: measure serving, not refusals.
		srv, err := c.Start(ctx, mb, slices.Max(c.Clients))
		if err != nil {
			return rep, err
		}
		go func() { _ = srv.Run(ctx) }()
		target := "ws://" + srv.Addr().String()
		batching := "none (one model run per request)"
		if srv.MaxBatch() > 1 {
			batching = fmt.Sprintf("up to %d requests per model run, batch_wait %v", srv.MaxBatch(), c.BatchWait)
		} else if mb > 1 {
			batching = fmt.Sprintf("none: server.max_batch %d, but the model's graphs have a fixed batch of one", mb)
		}
		fmt.Fprintf(w, "server: %s in this process, model %s, ORT %s, %d intra-op threads\nbatching: %s\n",
			target, c.Model, c.Provider, c.IntraOpThreads, batching)
		err = serveTable(ctx, c, target, strconv.Itoa(srv.MaxBatch()), w, &rep)
		srv.Close()
		if err != nil {
			return rep, err
		}
	}
	measured := len(rep.Rows)
	if c.Floor {
		if err := serveFloors(ctx, c, w, &rep, measured); err != nil {
			return rep, err
		}
	}
	if c.Python != "" {
		if err := serveOpenpi(ctx, c, w, &rep, measured); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// serveOpenpi measures openpi's Python stack with a policy as costly as
// the model's mean run at one client, and reports the first measured
// rows' requests/s against it at each client count.
func serveOpenpi(ctx context.Context, c ServeConf, w io.Writer, rep *Report, measured int) error {
	if why := pythonStack(c.Python); why != "" {
		line := "openpi stack: not measured: " + why
		fmt.Fprintln(w, line)
		rep.Targets = append(rep.Targets, line)
		return nil
	}
	cost := modelCost(rep.Rows[:measured])
	url, stop, err := startOpenpi(ctx, c.Python, cost, c.FloorShape)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "openpi stack: %s, Python asyncio websockets + msgpack (openpi's numpy encoding), a policy busy-waiting %.3f ms (the model's mean here)\n", url, cost)
	n := len(rep.Rows)
	err = serveTable(ctx, c, url, openpiLabel, w, rep)
	stop()
	if err != nil {
		return err
	}
	compare(w, rep, measured, n, "req_per_s", "req_per_s_over_openpi", func(r Row, ref, ratio float64) string {
		return fmt.Sprintf("%s: %.0f req/s, openpi stack %.0f: %.2f×", r.Case, r.Extra["req_per_s"], ref, ratio)
	})
	return nil
}

// compare reports key of each of the first measured rows against the
// reference rows' (those from index from on) at the same client count:
// the ratio goes in the row as ratioKey and, as line words it, in the
// report's targets and to w.
func compare(w io.Writer, rep *Report, measured, from int, key, ratioKey string, line func(r Row, ref, ratio float64) string) {
	ref := map[float64]float64{}
	for _, r := range rep.Rows[from:] {
		ref[r.Extra["clients"]] = r.Extra[key]
	}
	for _, r := range rep.Rows[:measured] {
		if v := ref[r.Extra["clients"]]; v > 0 {
			ratio := r.Extra[key] / v
			r.Extra[ratioKey] = ratio
			l := line(r, v, ratio)
			fmt.Fprintln(w, l)
			rep.Targets = append(rep.Targets, l)
		}
	}
}

// openpiLabel labels the openpi stack's rows.
const openpiLabel = "openpi"

// serveFloors measures the transport floor at the same client counts, and
// the waiting floor at one client, and reports the first measured rows'
// overhead p50 against each.
//
// The waiting floor burns as much CPU time per request as the model's
// mean run at one client before answering (StartFloor with a wait). The
// plain floor answers at once, so its client never waits long enough for
// its caches to go cold or its core to idle; this one does, as efferent's
// clients do, and what is left between the two is the server's own work.
func serveFloors(ctx context.Context, c ServeConf, w io.Writer, rep *Report, measured int) error {
	if err := serveFloor(ctx, c, w, rep, measured, 0); err != nil {
		return err
	}
	cost := modelCost(rep.Rows[:measured])
	if cost <= 0 || !slices.Contains(c.Clients, 1) {
		return nil
	}
	one := c
	one.Clients = []int{1}
	return serveFloor(ctx, one, w, rep, measured, cost)
}

// serveFloor measures one floor: the transport floor when waitMS is 0, the
// waiting floor otherwise.
func serveFloor(ctx context.Context, c ServeConf, w io.Writer, rep *Report, measured int, waitMS float64) error {
	f, err := StartFloor(c.FloorShape[0], c.FloorShape[1], time.Duration(waitMS*float64(time.Millisecond)))
	if err != nil {
		return err
	}
	label, name, key := floorLabel, "floor", "overhead_over_floor"
	desc := fmt.Sprintf("transport floor: ws://%s, a websocket server that reads each request whole and answers a prepared %dx%d reply",
		f.Addr(), c.FloorShape[0], c.FloorShape[1])
	if waitMS > 0 {
		label, name, key = waitingFloorLabel, "waiting floor", "overhead_over_waiting_floor"
		desc = fmt.Sprintf("waiting floor: ws://%s, the transport floor answering after %.3f ms of busy work (the model's mean here)", f.Addr(), waitMS)
	}
	fmt.Fprintln(w, desc)
	n := len(rep.Rows)
	err = serveTable(ctx, c, "ws://"+f.Addr().String(), label, w, rep)
	f.Close()
	if err != nil {
		return err
	}
	compare(w, rep, measured, n, "overhead_p50_ms", key, func(r Row, ref, ratio float64) string {
		return fmt.Sprintf("%s: overhead p50 %.3f ms, %s %.3f ms: %.2f× the %s", r.Case, r.Extra["overhead_p50_ms"], name, ref, ratio, name)
	})
	return nil
}

// modelCost is the model's mean run (ms) at one client in rows, 0 when
// none was measured.
func modelCost(rows []Row) float64 {
	for _, r := range rows {
		if r.Extra["clients"] == 1 && r.Extra["infer_ms"] > 0 {
			return r.Extra["infer_ms"]
		}
	}
	return 0
}

// waitingFloorLabel labels the waiting floor's rows.
const waitingFloorLabel = "waiting"

// floorLabel labels the transport floor's rows.
const floorLabel = "floor"

// serveResult is one client count's measurement.
type serveResult struct {
	requests int
	errors   int
	firstErr error
	elapsed  time.Duration
	lat      []time.Duration // sorted
	// over are the round trips less the model's time the server reported
	// (policy_timing.infer_ms; the whole round trip for the floor), sorted.
	over      []time.Duration
	meanBatch float64 // requests per model run on the server; 0 when unknown
}

// serveTable prints one row per client count against the server at url;
// label (its max batch, "-" when unknown, or floorLabel) labels the rows.
func serveTable(ctx context.Context, c ServeConf, url, label string, out io.Writer, rep *Report) error {
	fmt.Fprintf(out, "%9s %8s %10s %10s %10s %10s %10s %8s   %s\n", "max_batch", "clients", "requests", "req/s", "p50 ms", "p99 ms", "mean batch", "errors",
		"mean per request, ms: decode queue infer encode | overhead")
	for _, n := range c.Clients {
		before := scrapeMetrics(ctx, url, c.Token)
		r := runClients(ctx, url, c.Token, n, c.Duration, c.Image)
		after := scrapeMetrics(ctx, url, c.Token)
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
		name := fmt.Sprintf("max_batch %s, %d clients", label, n)
		switch label {
		case floorLabel:
			name = fmt.Sprintf("transport floor, %d clients", n)
		case openpiLabel:
			name = fmt.Sprintf("openpi stack, %d clients", n)
		case waitingFloorLabel:
			name = fmt.Sprintf("waiting floor, %d clients", n)
		}
		row := durationRow(name, r.lat)
		row.Allocs = -1
		row.Extra = map[string]float64{"req_per_s": rps, "mean_batch": r.meanBatch, "errors": float64(r.errors),
			"overhead_p50_ms": ms(eval.Percentile(r.over, 50)), "clients": float64(n)}
		for k, v := range stages {
			row.Extra[k+"_ms"] = v
		}
		rep.Rows = append(rep.Rows, row)
		if r.firstErr != nil {
			fmt.Fprintf(out, "          first error: %v\n", r.firstErr)
		}
		if r.requests == 0 {
			return fmt.Errorf("bench serve: no request succeeded with %d clients: %v", n, r.firstErr)
		}
	}
	return nil
}

// serverMetrics is what serveTable reads from the server's /metrics: the
// efferent_batch_size histogram (model runs and the requests they
// answered) and efferent_request_stage_seconds per stage.
type serverMetrics struct {
	runs, requests   float64
	stageSum, stageN map[string]float64
}

// scrapeMetrics reads the server's /metrics (zero when it cannot: an
// older server, or no token).
func scrapeMetrics(ctx context.Context, wsURL, token string) serverMetrics {
	var bc serverMetrics
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

// runClients runs n clients against url for dur (after a warm-up request
// each) and collects every round trip.
func runClients(ctx context.Context, url, token string, n int, dur time.Duration, image [2]int) serveResult {
	var res serveResult
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
			defer func() {
				if p != nil { // the last connection (nil when a redial failed)
					p.Close()
				}
			}()
			obs := cameraObservation(uint64(i), image[0], image[1])
			var ch efferent.Chunk
			if err := p.Infer(ctx, &obs, &ch); err != nil { // warm-up, not measured
				fail(err)
			}
			warmed.Done()
			<-ready
			lat, over := make([]time.Duration, 0, 1024), make([]time.Duration, 0, 1024)
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
				rtt := time.Since(t0)
				model, _ := p.LastTiming()
				lat, over = append(lat, rtt), append(over, rtt-time.Duration(model*float64(time.Millisecond)))
			}
			mu.Lock()
			res.lat, res.over = append(res.lat, lat...), append(res.over, over...)
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
	slices.Sort(res.over)
	return res
}

// LiberoObservation is a LIBERO-sized observation with noise images (so
// no layer of the path can shortcut on constant input).
func LiberoObservation(seed uint64) efferent.Observation { return cameraObservation(seed, 224, 224) }

// cameraObservation is LiberoObservation with h×w cameras.
func cameraObservation(seed uint64, h, w int) efferent.Observation {
	rng := rand.New(rand.NewPCG(seed, 99))
	im := func() efferent.Image {
		pix := make([]byte, h*w*3)
		for i := range pix {
			pix[i] = byte(rng.Uint32())
		}
		return efferent.Image{H: h, W: w, C: 3, Pix: pix}
	}
	return efferent.Observation{
		Images: map[string]efferent.Image{"observation/image": im(), "observation/wrist_image": im()},
		State:  make([]float64, 8),
		Prompt: "put the red block in the blue bowl",
	}
}
