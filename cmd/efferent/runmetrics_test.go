package main

import (
	"bufio"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// scrapeMetrics GETs url and returns its samples, "name{labels}" → value,
// and how often each name appeared as a HELP line (a series registered
// twice would be served twice, or fail the scrape).
func scrapeMetrics(t *testing.T, url string) (samples map[string]float64, helps map[string]int) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(res.Body)
		t.Fatalf("GET %s: %d %s", url, res.StatusCode, body)
	}
	samples, helps = map[string]float64{}, map[string]int{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if name, ok := strings.CutPrefix(line, "# HELP "); ok {
			name, _, _ = strings.Cut(name, " ")
			helps[name]++
			continue
		}
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("sample %q: %v", line, err)
		}
		samples[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return samples, helps
}

// TestRunServeMetrics: `efferent run --robot sim --serve` serves the
// control loop's and the e-stop's series on the openpi server's /metrics,
// beside the server's own (each registered once): ticks count up, the
// e-stop gauge is 0, and after POST /estop it is 1, it tripped once, and
// the ticks held for it grow.
func TestRunServeMetrics(t *testing.T) {
	bundledConfig(t) // skips in -short: the server loads the model
	base := "http://127.0.0.1:" + freePort(t, "127.0.0.1")
	startRun(t, base+"/healthz", "--robot", "sim", "--episodes", "0", "--serve", "--policy", "expert",
		"--addr", strings.TrimPrefix(base, "http://"), "--log-level", "warn")
	const estopHolds = `efferent_loop_holds_by_reason_total{reason="estop"}`
	// waitFor scrapes until ok accepts the samples (the loop runs in real
	// time at 20 Hz; nothing here is timed but the deadline).
	waitFor := func(what string, ok func(map[string]float64) bool) map[string]float64 {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			s, _ := scrapeMetrics(t, base+"/metrics")
			if ok(s) {
				return s
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 60 s; last scrape: %v", what, s)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	s := waitFor("loop ticks", func(s map[string]float64) bool { return s["efferent_loop_ticks_total"] > 0 })
	_, helps := scrapeMetrics(t, base+"/metrics")
	for _, name := range []string{"efferent_requests_total", "efferent_queue_depth", "efferent_loop_ticks_total",
		"efferent_loop_holds_by_reason_total", "efferent_estop_engaged", "go_goroutines", "process_cpu_seconds_total"} {
		if helps[name] != 1 {
			t.Errorf("%s: served %d times, want once", name, helps[name])
		}
	}
	for key, want := range map[string]float64{
		`efferent_estop_engaged`: 0, `efferent_estop_trips_total`: 0, estopHolds: 0,
		`efferent_requests_total{outcome="bad_request"}`: 0,
	} {
		if got, ok := s[key]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", key, got, ok, want)
		}
	}
	if s["efferent_loop_inferences_total"] == 0 || s[`efferent_loop_verdicts_total{kind="allowed"}`] == 0 {
		t.Errorf("the expert drove no ticks: inferences %v, allowed %v", s["efferent_loop_inferences_total"], s[`efferent_loop_verdicts_total{kind="allowed"}`])
	}
	if _, ok := s["efferent_loop_requests_dropped_total"]; !ok {
		t.Error("no efferent_loop_requests_dropped_total")
	}
	res, err := http.Post(base+"/estop", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		t.Fatalf("POST /estop: %d", res.StatusCode)
	}
	s = waitFor("ticks held for the e-stop", func(s map[string]float64) bool { return s[estopHolds] > 0 })
	first := s[estopHolds]
	if s["efferent_estop_engaged"] != 1 || s["efferent_estop_trips_total"] != 1 || s[`efferent_loop_verdict_reasons_total{kind="refused",reason="estop"}`] == 0 {
		t.Errorf("after POST /estop: engaged %v, trips %v, refused for it %v; want 1, 1, > 0",
			s["efferent_estop_engaged"], s["efferent_estop_trips_total"], s[`efferent_loop_verdict_reasons_total{kind="refused",reason="estop"}`])
	}
	waitFor("holds for the e-stop growing", func(s map[string]float64) bool { return s[estopHolds] > first })
}
