package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/efferent/efferent/bench"
	"github.com/efferent/efferent/internal/strictyaml"
)

// bench serve against the bundled model, without batching and with up to
// 4 requests per model run: one row per (max batch, client count), every
// request answered, none refused, and the mean batch read from the
// server's metrics (exactly 1 without batching, never above the maximum).
func TestBenchServe(t *testing.T) {
	cfg := bundledConfig(t)
	var out bytes.Buffer
	c := bench.ServeConf{Clients: []int{1, 3}, MaxBatch: []int{1, 4}, Duration: 300 * time.Millisecond, Floor: true}
	rep, err := benchServe(context.Background(), cfg, c, &out)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]bool{}
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		if len(f) != 14 || (f[1] != "1" && f[1] != "3") {
			continue
		}
		rows[f[0]+"/"+f[1]] = true
		maxBatch, _ := strconv.ParseFloat(f[0], 64)
		reqs, _ := strconv.Atoi(f[2])
		rps, _ := strconv.ParseFloat(f[3], 64)
		p50, _ := strconv.ParseFloat(f[4], 64)
		p99, _ := strconv.ParseFloat(f[5], 64)
		mean, err := strconv.ParseFloat(f[6], 64)
		if reqs < 1 || rps <= 0 || p50 <= 0 || p99 < p50 || f[7] != "0" {
			t.Fatalf("row %q: want requests, rate, p50 ≤ p99 and no errors", line)
		}
		if err != nil || mean < 1 || mean > maxBatch || (maxBatch == 1 && mean != 1) {
			t.Fatalf("row %q: mean batch %q, want 1 .. max_batch (exactly 1 without batching)", line, f[6])
		}
		// The per-stage split from the server's metrics: decode, queue,
		// infer, encode, | overhead; the model run dominates.
		var stage [4]float64
		for i := range stage {
			stage[i], err = strconv.ParseFloat(f[8+i], 64)
			if err != nil || stage[i] < 0 {
				t.Fatalf("row %q: stage %d %q", line, i, f[8+i])
			}
		}
		if over, err := strconv.ParseFloat(f[13], 64); err != nil || over <= 0 || stage[2] <= 0 || f[12] != "|" {
			t.Fatalf("row %q: want the infer time and the overhead", line)
		}
	}
	// Four measured rows, then the transport floor's two and the waiting
	// floor's one (one client), and each measured row's overhead against
	// the floor's at its client count, and against the waiting floor's at
	// one client.
	if len(rep.Rows) != 7 || rep.Rows[0].Extra["infer_ms"] <= 0 || rep.Rows[4].Case != "transport floor, 1 clients" ||
		rep.Rows[6].Case != "waiting floor, 1 clients" {
		t.Fatalf("JSON rows %+v", rep.Rows)
	}
	for _, r := range rep.Rows[:4] {
		if r.Extra["overhead_over_floor"] <= 0 || r.Extra["overhead_p50_ms"] <= 0 {
			t.Fatalf("row %q: no overhead against the floor: %v", r.Case, r.Extra)
		}
		if (r.Extra["clients"] == 1) != (r.Extra["overhead_over_waiting_floor"] > 0) {
			t.Fatalf("row %q: overhead against the waiting floor %v, want it at one client only", r.Case, r.Extra["overhead_over_waiting_floor"])
		}
	}
	// The waiting floor reports its wait as the model's time, so its
	// overhead is its round trip less the model's mean run here.
	w, cost := rep.Rows[6], rep.Rows[0].Extra["infer_ms"]
	if over := w.Extra["overhead_p50_ms"]; over <= 0 || over > w.P50/1e3-0.5*cost {
		t.Fatalf("waiting floor: overhead p50 %.3f ms, round trip p50 %.3f ms, model %.3f ms: the wait was not subtracted", over, w.P50/1e3, cost)
	}
	if len(rep.Targets) != 7 || !strings.Contains(rep.Targets[1], "× the floor") || !strings.Contains(rep.Targets[6], "× the waiting floor") {
		t.Fatalf("targets %q", rep.Targets)
	}
	if len(rows) != 4 {
		t.Fatalf("want a row for 1 and 3 clients at max_batch 1 and 4, got %v:\n%s", rows, out.String())
	}
	if !strings.Contains(out.String(), "batching: up to 4 requests per model run") {
		t.Fatalf("no batching header:\n%s", out.String())
	}
}

// bench serve --tune measures each configuration and writes the best as a
// configuration file that efferent then loads.
func TestBenchServeTune(t *testing.T) {
	bundledConfig(t)
	dir := t.TempDir()
	tuned := filepath.Join(dir, "tuned.yaml")
	cmd := benchCmd()
	cmd.PersistentFlags().String("config", "", "")
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs([]string{"serve", "--tune", "--tune-clients", "2", "--duration", "150ms", "--tune-out", tuned, "--out", dir})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if n := strings.Count(out.String(), "max_batch 16 "); n < 1 {
		t.Fatalf("no max_batch 16 configuration measured:\n%s", out.String())
	}
	data, err := os.ReadFile(tuned)
	if err != nil {
		t.Fatal(err)
	}
	var cfg Config
	if err := strictyaml.Decode(data, &cfg); err != nil || cfg.ORT.IntraOpThreads < 1 || cfg.ORT.Spinning == nil || cfg.Server.MaxBatch < 1 {
		t.Fatalf("tuned config %v: %+v %+v\n%s", err, cfg.ORT, cfg.Server, data)
	}
}

// Each bench subcommand prints its table and writes its JSON; the numbers
// are whatever this machine gives (speed is judged in docs/performance.md,
// not here), but every row must have been measured.
func TestBenchSubcommands(t *testing.T) {
	bundledConfig(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		rows int
	}{
		{[]string{"tick", "--duration", "300ms", "--probe", "0"}, 1},
		{[]string{"detok", "--n", "2000"}, 2},
		{[]string{"preprocess", "--n", "20"}, 2},
		// With and without the KV cache, 3 rows each, and efferent
		// against the bare ONNX Runtime loop (2 rows).
		{[]string{"infer", "--n", "5"}, 8},
	} {
		cmd := benchCmd()
		cmd.PersistentFlags().String("config", "", "")
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(append(tc.args, "--out", dir))
		if err := cmd.ExecuteContext(context.Background()); err != nil {
			t.Fatalf("bench %v: %v\n%s", tc.args, err, out.String())
		}
		data, err := os.ReadFile(filepath.Join(dir, tc.args[0]+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var rep bench.Report
		if err := json.Unmarshal(data, &rep); err != nil || len(rep.Rows) != tc.rows || rep.Machine.Cores < 1 {
			t.Fatalf("bench %v: %d rows (want %d), %v\n%s", tc.args, len(rep.Rows), tc.rows, err, data)
		}
		for _, r := range rep.Rows {
			if r.N < 1 || r.P50 <= 0 || r.P99 < r.P50 || r.Max < r.P99 {
				t.Fatalf("bench %v: row %+v", tc.args, r)
			}
		}
		if tc.args[0] == "tick" && rep.Rows[0].Extra["ticks"] != 300 {
			t.Fatalf("tick: %v ticks, want 300", rep.Rows[0].Extra["ticks"])
		}
	}
}

// BenchmarkServeRoundTrip: one openpi client against the bundled model
// served in this process, round trip p50/p99 and the server's mean stage
// times per request (decode, queue, infer, encode, overhead = all but
// queue and infer).
func BenchmarkServeRoundTrip(b *testing.B) {
	cfg := bundledBenchConfig(b)
	var out bytes.Buffer
	c := bench.ServeConf{Clients: []int{1}, MaxBatch: []int{1}, Duration: 3 * time.Second}
	rep, err := benchServe(context.Background(), cfg, c, &out)
	if err != nil {
		b.Fatal(err)
	}
	r := rep.Rows[0]
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(r.P50, "p50-µs")
	b.ReportMetric(r.P99, "p99-µs")
	for _, k := range []string{"decode", "infer", "encode", "overhead"} {
		b.ReportMetric(1e3*r.Extra[k+"_ms"], k+"-µs")
	}
}

func bundledBenchConfig(b *testing.B) Config {
	b.Helper()
	b.Setenv("EFFERENT_CONFIG", "")
	cfg, err := loadConfig(flagsFor(b, "--addr", "127.0.0.1:0", "--log-level", "warn").fs)
	if err != nil {
		b.Fatal(err)
	}
	return cfg
}

// bench serve --python measures openpi's Python stack (where Debian's
// python3-msgpack and python3-websockets are installed) beside efferent
// and reports requests/s against it.
func TestBenchServeOpenpiStack(t *testing.T) {
	cfg := bundledConfig(t)
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import msgpack, websockets, numpy").Run(); err != nil {
		t.Skipf("%s lacks msgpack/websockets (apt-get install python3-msgpack python3-websockets): %v", python, err)
	}
	var out bytes.Buffer
	c := bench.ServeConf{Clients: []int{1, 2}, MaxBatch: []int{1}, Duration: 300 * time.Millisecond, Python: python}
	rep, err := benchServe(context.Background(), cfg, c, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if len(rep.Rows) != 4 || rep.Rows[2].Case != "openpi stack, 1 clients" || rep.Rows[3].Extra["req_per_s"] <= 0 {
		t.Fatalf("rows %+v\n%s", rep.Rows, out.String())
	}
	for _, r := range rep.Rows[:2] {
		if r.Extra["req_per_s_over_openpi"] <= 0 {
			t.Fatalf("row %q: no ratio against the openpi stack: %v", r.Case, r.Extra)
		}
	}
	if !strings.Contains(out.String(), "a policy busy-waiting") {
		t.Fatalf("no openpi header:\n%s", out.String())
	}
}
