package main

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"
)

// bench serve against the bundled model, without batching and with up to
// 4 requests per model run: one row per (max batch, client count), every
// request answered, none refused, and the mean batch read from the
// server's metrics (exactly 1 without batching, never above the maximum).
func TestBenchServe(t *testing.T) {
	cfg := bundledConfig(t)
	var out bytes.Buffer
	if err := benchServe(context.Background(), cfg, "", []int{1, 3}, []int{1, 4}, 300*time.Millisecond, &out); err != nil {
		t.Fatal(err)
	}
	rows := map[string]bool{}
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		if len(f) != 8 || (f[1] != "1" && f[1] != "3") {
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
	}
	if len(rows) != 4 {
		t.Fatalf("want a row for 1 and 3 clients at max_batch 1 and 4, got %v:\n%s", rows, out.String())
	}
	if !strings.Contains(out.String(), "batching: up to 4 requests per model run") {
		t.Fatalf("no batching header:\n%s", out.String())
	}
}
