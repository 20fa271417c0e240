package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"time"

	"github.com/efferent/efferent/eval"
)

// TuneCase is one serving configuration Tune measures: ONNX Runtime's
// intra-op threads and spinning, and the server's max batch.
type TuneCase struct {
	IntraOpThreads int
	Spinning       bool
	MaxBatch       int
}

func (t TuneCase) String() string {
	return fmt.Sprintf("intra_op_threads %d, spinning %v, max_batch %d", t.IntraOpThreads, t.Spinning, t.MaxBatch)
}

// TuneConf configures Tune. Zero values mean the documented default.
type TuneConf struct {
	// Threads are the intra-op thread counts tried. Default 1, 2, 4, …
	// up to the number of CPUs (at most 8).
	Threads []int
	// MaxBatch are the server.max_batch values tried. Default 1, 8, 16.
	MaxBatch []int
	// Clients is the load the configurations are ranked at (requests/s);
	// one client measures the latency that breaks ties. Default 16.
	Clients int
	// Duration is the measured time per configuration and client count.
	// Default 2s.
	Duration time.Duration
	// Start starts a server in this process with case c and room for at
	// least queue waiting requests (required).
	Start func(ctx context.Context, c TuneCase, queue int) (Server, error)
}

// WithDefaults returns c with zero fields replaced by their defaults.
func (c TuneConf) WithDefaults() TuneConf {
	if len(c.Threads) == 0 {
		for n := 1; n <= min(runtime.NumCPU(), 8); n *= 2 {
			c.Threads = append(c.Threads, n)
		}
	}
	if len(c.MaxBatch) == 0 {
		c.MaxBatch = []int{1, 8, 16}
	}
	if c.Clients == 0 {
		c.Clients = 16
	}
	if c.Duration == 0 {
		c.Duration = 2 * time.Second
	}
	return c
}

// TuneResult is one configuration's measurement.
type TuneResult struct {
	Case TuneCase
	// RPS is requests/s at Clients clients; P50 the round trip's median
	// at one client.
	RPS float64
	P50 time.Duration
}

// tieMargin is how close to the best throughput a configuration must be
// for its one-client latency to decide: closer than runs on a loaded
// machine repeat.
const tieMargin = 0.03

// Tune measures every configuration (each thread count with spinning off
// and, past one thread, on; each max batch) with one client and with
// c.Clients, and returns them with the best: the highest throughput at
// c.Clients, the lowest one-client latency among those within 3 % of it.
// It prints one line per configuration to w as it goes.
func Tune(ctx context.Context, c TuneConf, w io.Writer) (best TuneResult, all []TuneResult, rep Report, err error) {
	c = c.WithDefaults()
	rep = Report{Name: "tune"}
	if c.Start == nil {
		return best, nil, rep, errors.New("bench: TuneConf.Start: required")
	}
	var cases []TuneCase
	for _, th := range c.Threads {
		for _, spin := range []bool{false, true} {
			if spin && th == 1 {
				continue // one thread has no pool to spin
			}
			for _, mb := range c.MaxBatch {
				cases = append(cases, TuneCase{IntraOpThreads: th, Spinning: spin, MaxBatch: mb})
			}
		}
	}
	fmt.Fprintf(w, "%-52s %12s %14s\n", "configuration", "req/s @"+fmt.Sprint(c.Clients), "p50 ms @1")
	for _, tc := range cases {
		srv, err := c.Start(ctx, tc, c.Clients)
		if err != nil {
			return best, all, rep, fmt.Errorf("%s: %w", tc, err)
		}
		go func() { _ = srv.Run(ctx) }()
		url := "ws://" + srv.Addr().String()
		one := runClients(ctx, url, "", 1, c.Duration, [2]int{224, 224})
		many := runClients(ctx, url, "", c.Clients, c.Duration, [2]int{224, 224})
		srv.Close()
		if one.requests == 0 || many.requests == 0 {
			return best, all, rep, fmt.Errorf("%s: no request succeeded: %v %v", tc, one.firstErr, many.firstErr)
		}
		r := TuneResult{Case: tc, RPS: float64(many.requests) / many.elapsed.Seconds(), P50: eval.Percentile(one.lat, 50)}
		all = append(all, r)
		fmt.Fprintf(w, "%-52s %12.1f %14.2f\n", tc, r.RPS, ms(r.P50))
		row := durationRow(tc.String(), one.lat)
		row.Allocs = -1
		row.Extra = map[string]float64{"req_per_s_at_clients": r.RPS, "clients": float64(c.Clients), "errors": float64(one.errors + many.errors)}
		rep.Rows = append(rep.Rows, row)
	}
	best = pickBest(all)
	rep.Targets = []string{"best: " + best.Case.String()}
	return best, all, rep, nil
}

// pickBest is the highest throughput, or among those within tieMargin
// of it the lowest one-client latency.
func pickBest(all []TuneResult) TuneResult {
	top := slices.MaxFunc(all, func(a, b TuneResult) int {
		switch {
		case a.RPS < b.RPS:
			return -1
		case a.RPS > b.RPS:
			return 1
		}
		return 0
	}).RPS
	var near []TuneResult
	for _, r := range all {
		if r.RPS >= top*(1-tieMargin) {
			near = append(near, r)
		}
	}
	return slices.MinFunc(near, func(a, b TuneResult) int { return int(a.P50 - b.P50) })
}

// TunedConfig is the YAML that applies best to efferent's configuration
// file (the ort: and server: sections' keys).
func TunedConfig(best TuneResult, model string, all []TuneResult, clients int) string {
	s := fmt.Sprintf("# efferent bench serve --tune, %s, model %s, %d CPUs:\n# the highest requests/s at %d clients (%.0f), ties within %.0f %% broken by one client's p50 (%.2f ms).\n",
		time.Now().UTC().Format(time.RFC3339), model, runtime.NumCPU(), clients, best.RPS, 100*tieMargin, ms(best.P50))
	for _, r := range all {
		s += fmt.Sprintf("#   %-50s %8.1f req/s  %6.2f ms\n", r.Case, r.RPS, ms(r.P50))
	}
	return s + fmt.Sprintf("ort:\n  intra_op_threads: %d\n  spinning: %v\nserver:\n  max_batch: %d\n",
		best.Case.IntraOpThreads, best.Case.Spinning, best.Case.MaxBatch)
}
