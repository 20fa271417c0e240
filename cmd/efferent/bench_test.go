package main

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"
)

// bench serve against the bundled model: one row per client count, every
// request answered, none refused.
func TestBenchServe(t *testing.T) {
	cfg := bundledConfig(t)
	var out bytes.Buffer
	if err := benchServe(context.Background(), cfg, "", []int{1, 3}, 300*time.Millisecond, &out); err != nil {
		t.Fatal(err)
	}
	rows := 0
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		if len(f) != 6 || (f[0] != "1" && f[0] != "3") {
			continue
		}
		rows++
		reqs, _ := strconv.Atoi(f[1])
		rps, _ := strconv.ParseFloat(f[2], 64)
		p50, _ := strconv.ParseFloat(f[3], 64)
		p99, _ := strconv.ParseFloat(f[4], 64)
		if reqs < 1 || rps <= 0 || p50 <= 0 || p99 < p50 || f[5] != "0" {
			t.Fatalf("row %q: want requests, rate, p50 ≤ p99 and no errors", line)
		}
	}
	if rows != 2 {
		t.Fatalf("want a row for 1 and for 3 clients:\n%s", out.String())
	}
}
