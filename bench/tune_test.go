package bench

import (
	"strings"
	"testing"
	"time"
)

// pickBest takes the most requests/s, and among configurations within 3 %
// of it the lowest one-client latency.
func TestPickBest(t *testing.T) {
	all := []TuneResult{
		{Case: TuneCase{IntraOpThreads: 1, MaxBatch: 1}, RPS: 800, P50: time.Millisecond},
		{Case: TuneCase{IntraOpThreads: 1, MaxBatch: 8}, RPS: 1000, P50: 3 * time.Millisecond},
		{Case: TuneCase{IntraOpThreads: 2, MaxBatch: 8}, RPS: 980, P50: 2 * time.Millisecond},
		{Case: TuneCase{IntraOpThreads: 2, Spinning: true, MaxBatch: 8}, RPS: 960, P50: time.Millisecond},
	}
	if b := pickBest(all); b.Case != all[2].Case {
		t.Fatalf("best %v, want %v (within 3 %% of 1000 req/s, lower latency)", b.Case, all[2].Case)
	}
	y := TunedConfig(all[2], "efferent-tiny", all, 16)
	for _, want := range []string{"ort:\n  intra_op_threads: 2\n  spinning: false\nserver:\n  max_batch: 8\n", "#   intra_op_threads 1, spinning false, max_batch 1"} {
		if !strings.Contains(y, want) {
			t.Fatalf("config lacks %q:\n%s", want, y)
		}
	}
}
