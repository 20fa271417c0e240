package safety

import (
	"math"
	"testing"
	"time"

	"github.com/efferent/efferent"
)

// TestHoldReasonNamesTheHold: a hold the loop decided on (a stale input)
// is answered with its own reason by the limits and motion gates, the
// motion gate brakes for it as for any hold, and the watchdog does not
// call it a stalled policy.
func TestHoldReasonNamesTheHold(t *testing.T) {
	lim, err := NewLimits(LimitsConf{Min: []float64{-1}, Max: []float64{1}, Kinds: []Kind{Absolute}})
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewWatchdog(150 * time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	g := newTestMotion(t, oneAxis())
	t0 := time.Unix(1000, 0)
	sp := efferent.Setpoint{Values: make([]float64, 1)}
	// Move at 0.2 per second for 200 ms, then the input goes stale.
	x := 0.0
	for k := range 200 {
		x = 0.05 * (float64(k) * 1e-3 * 4)
		sp.Time, sp.Seq, sp.Hold, sp.HoldReason, sp.Values[0] = t0.Add(time.Duration(k)*time.Millisecond), uint64(1+k/50), false, "", x
		Chain{w, lim, g}.Check(&sp)
	}
	last, moved := sp.Values[0], 0.0
	for k := 200; k < 1200; k++ {
		sp.Time, sp.Hold, sp.HoldReason, sp.Values[0] = t0.Add(time.Duration(k)*time.Millisecond), true, efferent.HoldStaleInput, x
		v := Chain{w, lim, g}.Check(&sp)
		if v.Kind != efferent.Held || v.Reason != efferent.HoldStaleInput {
			t.Fatalf("tick %d: %+v, want held %s (not the watchdog, not no_chunk)", k, v, efferent.HoldStaleInput)
		}
		moved = math.Max(moved, math.Abs(sp.Values[0]-last))
		last = sp.Values[0]
	}
	if !sp.Hold || moved > 0.5e-3*1.0001 {
		t.Fatalf("braked to %v (hold %v), largest step %g: want a stop within the velocity bound", sp.Values[0], sp.Hold, moved)
	}
	if w.Trips() != 0 {
		t.Fatalf("the watchdog tripped %d times during a decided hold", w.Trips())
	}
	sp.HoldReason = ""
	if v := lim.Check(&sp); v.Reason != ReasonNoChunk {
		t.Fatalf("a plain hold: %+v, want %s", v, ReasonNoChunk)
	}
}
