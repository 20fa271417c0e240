package bench

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/policy"
	"github.com/efferent/efferent/server"
)

// slowPolicy answers LIBERO observations with a 10x7 chunk after 2 ms,
// in batches of up to 4.
type slowPolicy struct{}

func (slowPolicy) Infer(ctx context.Context, obs *efferent.Observation, out *efferent.Chunk) error {
	time.Sleep(2 * time.Millisecond)
	fill(obs, out)
	return nil
}

func fill(obs *efferent.Observation, out *efferent.Chunk) {
	out.Actions = append(out.Actions[:0], make([]float64, 70)...)
	out.H, out.D, out.ObsTime, out.Seq, out.StepPeriod = 10, 7, obs.Time, obs.Seq, 50*time.Millisecond
}

func (slowPolicy) MaxBatch() int { return 4 }

func (slowPolicy) InferBatch(ctx context.Context, obs []*efferent.Observation, out []*efferent.Chunk, errs []error) {
	time.Sleep(2 * time.Millisecond)
	for i := range obs {
		fill(obs[i], out[i])
		errs[i] = nil
	}
}

func (slowPolicy) Metadata() policy.Metadata {
	return policy.Metadata{Name: "slow", Weights: "random", ImageKeys: []string{"observation/image", "observation/wrist_image"},
		ImageHeight: 224, ImageWidth: 224, Resize: "none", StateKey: "observation/state", StateDim: 8, PromptKey: "prompt",
		Horizon: 10, Dim: 7, StepPeriod: 50 * time.Millisecond}
}

func (slowPolicy) Close() error { return nil }

// startSlow starts servers as ServeConf.Start does, recording what it
// was asked for.
type startSlow struct {
	mu     sync.Mutex
	asked  [][2]int
	closed []*server.Server
}

func (s *startSlow) start(ctx context.Context, maxBatch, queue int) (Server, error) {
	s.mu.Lock()
	s.asked = append(s.asked, [2]int{maxBatch, queue})
	s.mu.Unlock()
	srv, err := server.New(server.Conf{Addr: "127.0.0.1:0", MaxBatch: maxBatch, QueueSize: queue},
		slowPolicy{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return nil, err
	}
	return srv, nil
}

// Serve starts one server per max batch with room for the most clients,
// prints one row per client count with the mean batch and the stages
// from the server's metrics, and returns the same rows.
func TestServe(t *testing.T) {
	var st startSlow
	var out bytes.Buffer
	rep, err := Serve(context.Background(), ServeConf{Clients: []int{1, 3}, MaxBatch: []int{1, 4}, Duration: 200 * time.Millisecond,
		Start: st.start, Model: "slow", Provider: "cpu", IntraOpThreads: 2}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.asked) != 2 || st.asked[0] != [2]int{1, 3} || st.asked[1] != [2]int{4, 3} {
		t.Fatalf("Start asked for %v, want max batch 1 and 4, queue 3", st.asked)
	}
	s := out.String()
	for _, want := range []string{"model slow, ORT cpu, 2 intra-op threads\nbatching: none (one model run per request)\n",
		"batching: up to 4 requests per model run, batch_wait 0s\n", "mean per request, ms: decode queue infer encode | overhead"} {
		if !strings.Contains(s, want) {
			t.Fatalf("no %q in\n%s", want, s)
		}
	}
	checkServeRows(t, s, rep, 4)
}

// checkServeRows checks the table's rows and the report's.
func checkServeRows(t *testing.T, s string, rep Report, rows int) {
	t.Helper()
	n := 0
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) != 14 || f[0] == "max_batch" {
			continue
		}
		n++
		reqs, _ := strconv.Atoi(f[2])
		mean, err := strconv.ParseFloat(f[6], 64)
		infer, _ := strconv.ParseFloat(f[10], 64)
		if reqs < 1 || f[7] != "0" || err != nil || mean < 1 || f[12] != "|" || infer < 1 {
			t.Fatalf("row %q: want requests, no errors, a mean batch and the stages (infer ≥ 1 ms)", line)
		}
		if f[0] == "1" && mean != 1 {
			t.Fatalf("row %q: mean batch %v without batching", line, mean)
		}
	}
	if n != rows || len(rep.Rows) != rows || rep.Name != "serve" || len(rep.Targets) != 1 {
		t.Fatalf("%d rows, report %+v, want %d:\n%s", n, rep, rows, s)
	}
	for _, r := range rep.Rows {
		if r.Allocs != -1 || r.N < 1 || r.P50 <= 0 || r.Extra["req_per_s"] <= 0 || r.Extra["infer_ms"] < 1 || r.Extra["errors"] != 0 {
			t.Fatalf("row %+v", r)
		}
	}
}

// With a URL, Serve measures that server as it is configured: no Start,
// rows labelled "-".
func TestServeURL(t *testing.T) {
	var st startSlow
	srv, err := st.start(context.Background(), 2, 8)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Run(context.Background()) }()
	defer srv.Close()
	var out bytes.Buffer
	url := "ws://" + srv.Addr().String()
	rep, err := Serve(context.Background(), ServeConf{URL: url, Clients: []int{2}, Duration: 100 * time.Millisecond}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "server: "+url+" (batching as it is configured)\n") || rep.Rows[0].Case != "max_batch -, 2 clients" {
		t.Fatalf("%+v\n%s", rep.Rows, out.String())
	}
	checkServeRows(t, out.String(), rep, 1)
}

// No server answers: the error names the client count and the cause.
func TestServeNoServer(t *testing.T) {
	var out bytes.Buffer
	_, err := Serve(context.Background(), ServeConf{URL: "ws://127.0.0.1:1", Clients: []int{1}, Duration: 100 * time.Millisecond}, &out)
	if err == nil || !strings.Contains(err.Error(), "bench serve: no request succeeded with 1 clients") {
		t.Fatalf("%v", err)
	}
	if _, err := Serve(context.Background(), ServeConf{}, &out); err == nil {
		t.Fatal("no URL and no Start: want an error")
	}
}

func TestServeDefaults(t *testing.T) {
	c := ServeConf{}.WithDefaults()
	if len(c.Clients) != 3 || c.Clients[2] != 16 || len(c.MaxBatch) != 2 || c.MaxBatch[1] != 8 || c.Duration != 5*time.Second {
		t.Fatalf("%+v", c)
	}
}
