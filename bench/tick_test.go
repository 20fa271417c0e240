package bench

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Tick runs the Franka's loop, built by rig, for 300 ms at 1 kHz: every
// tick ran and was published (or counted as dropped), the policy was
// asked for chunks, and the loop allocated (next to) nothing per tick.
func TestTick(t *testing.T) {
	rep, err := Tick(context.Background(), TickConf{Robot: "franka", Duration: 300 * time.Millisecond, Spin: 200 * time.Microsecond, Probe: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Name != "tick" || len(rep.Rows) != 1 || len(rep.Targets) != 1 {
		t.Fatalf("%+v", rep)
	}
	r := rep.Rows[0]
	x := r.Extra
	if x["ticks"] != 300 || r.N != 300 || x["published"]+x["publish_drops"] != 300 || x["inferences"] < 1 {
		t.Fatalf("row %+v", r)
	}
	if r.P50 <= 0 || r.P99 < r.P50 || r.Max < r.P99 || r.Verdict == "" {
		t.Fatalf("row %+v", r)
	}
	if x["probe_seconds"] != 0.01 {
		t.Fatalf("no probe in %+v", x)
	}
	// The whole process: the first chunk's buffers and the policy's timer
	// (about 25 allocations, whatever the duration), nothing per tick.
	if total := r.Allocs * float64(r.N); total > 60 {
		t.Fatalf("%.3f allocs/tick (%.0f in %d ticks), want none per tick", r.Allocs, total, r.N)
	}
}

// An unknown robot is the --robot flag's error.
func TestTickUnknownRobot(t *testing.T) {
	_, err := Tick(context.Background(), TickConf{Robot: "nope"})
	if err == nil || !strings.HasPrefix(err.Error(), "--robot: ") {
		t.Fatalf("%v", err)
	}
}

func TestProbeStalls(t *testing.T) {
	t0 := time.Now()
	s := ProbeStalls(20 * time.Millisecond)
	if d := time.Since(t0); d < 20*time.Millisecond {
		t.Fatalf("returned after %v", d)
	}
	if s.Over1ms < 0 || (s.Over1ms == 0) != (s.Max == 0) || (s.Max != 0 && s.Max <= time.Millisecond) {
		t.Fatalf("%+v", s)
	}
}

// BenchmarkTick1kHz is `efferent bench tick` as a Go benchmark: the Franka
// profile's whole real-time path at 1 kHz for 10 s of wall clock
// (EFFERENT_TICK_SECONDS overrides), once per invocation.
func BenchmarkTick1kHz(b *testing.B) {
	secs := 10.0
	if v, err := strconv.ParseFloat(os.Getenv("EFFERENT_TICK_SECONDS"), 64); err == nil && v > 0 {
		secs = v
	}
	rep, err := Tick(context.Background(), TickConf{Duration: time.Duration(secs * float64(time.Second)), Spin: 200 * time.Microsecond})
	if err != nil {
		b.Fatal(err)
	}
	row := rep.Rows[0]
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(row.P50, "p50-µs")
	b.ReportMetric(row.P99, "p99-µs")
	b.ReportMetric(row.Max, "max-µs")
	b.ReportMetric(row.Extra["missed_deadlines"], "missed")
	b.ReportMetric(row.Allocs, "allocs/tick")
}
