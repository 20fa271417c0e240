package safety

import (
	"testing"
	"time"

	"github.com/efferent/efferent"
)

const period = time.Millisecond

// TestWatchdogHoldsWithinOnePeriod (virtual time, 1 kHz): chunk 1 arrives
// at t0 and runs out; the first refused tick comes within one controller
// period after t0 + timeout, never before; the rest of chunk 1 does not
// release it; chunk 2 does.
func TestWatchdogHoldsWithinOnePeriod(t *testing.T) {
	const timeout = 150 * time.Millisecond
	w, err := NewWatchdog(timeout)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(1000, 0)
	sp := efferent.Setpoint{Values: []float64{0.1}}
	var tripAt time.Time
	for k := 0; k <= 400; k++ {
		sp.Time, sp.Seq, sp.Hold = t0.Add(time.Duration(k)*period), 1, k > 100 // the scheduler runs dry at 100 ms
		v := w.Check(&sp)
		if v.Kind == efferent.Refused {
			if v.Reason != ReasonWatchdog || !sp.Hold {
				t.Fatalf("refusal %+v hold %v", v, sp.Hold)
			}
			tripAt = sp.Time
			break
		}
	}
	deadline := t0.Add(timeout)
	if tripAt.IsZero() || tripAt.Before(deadline) || tripAt.Sub(deadline) > period {
		t.Fatalf("tripped at %v after t0, want within one period after %v", tripAt.Sub(t0), timeout)
	}
	sp.Time, sp.Seq, sp.Hold = tripAt.Add(period), 1, false // the old chunk again
	if v := w.Check(&sp); v.Kind != efferent.Refused || !sp.Hold {
		t.Fatalf("the rest of an old chunk released the watchdog: %+v", v)
	}
	sp.Time, sp.Seq, sp.Hold = tripAt.Add(2*period), 2, false
	if v := w.Check(&sp); v.Kind != efferent.Allowed || sp.Hold || w.Trips() != 1 {
		t.Fatalf("a fresh chunk did not release it: %+v, trips %d", v, w.Trips())
	}
	// Before any chunk the watchdog does not trip (the scheduler holds).
	w2, _ := NewWatchdog(timeout)
	for k := range 1000 {
		hold := efferent.Setpoint{Time: t0.Add(time.Duration(k) * period), Hold: true, Values: []float64{0}}
		if v := w2.Check(&hold); v.Kind != efferent.Allowed {
			t.Fatalf("tripped before the first chunk at %d ms", k)
		}
	}
}

// TestEStopLatchesWithinOnePeriod (virtual time): a trigger between ticks
// holds the next tick (latency under one period, measured), in a chain
// with the limits gate that fills in the hold values; it stays engaged
// until Reset.
func TestEStopLatchesWithinOnePeriod(t *testing.T) {
	t0 := time.Unix(2000, 0)
	now := t0
	e := NewEStop(func() time.Time { return now })
	lim, err := NewLimits(LimitsConf{Min: []float64{-1, -1}, Max: []float64{1, 1}, Kinds: []Kind{Absolute, Delta}})
	if err != nil {
		t.Fatal(err)
	}
	g := Chain{e, lim}
	sp := efferent.Setpoint{Values: make([]float64, 2)}
	tick := func(k int, x, dx float64) efferent.Verdict {
		sp.Time, sp.Seq, sp.Hold = t0.Add(time.Duration(k)*period), 1, false
		sp.Values[0], sp.Values[1] = x, dx
		return g.Check(&sp)
	}
	for k := range 10 {
		if v := tick(k, 0.1*float64(k)/10, 0.01); v.Kind != efferent.Allowed {
			t.Fatalf("tick %d: %+v", k, v)
		}
	}
	now = t0.Add(9*period + 400*time.Microsecond) // the operator presses the button
	e.Trigger("test")
	v := tick(10, 0.5, 0.5)
	if v.Kind != efferent.Refused || v.Reason != ReasonEStop || !sp.Hold || sp.Values[0] != 0.09 || sp.Values[1] != 0 {
		t.Fatalf("after the trigger: %+v hold %v values %v; want estop, hold at the last position 0.09 and delta 0", v, sp.Hold, sp.Values)
	}
	st := e.Status()
	if !st.Engaged || st.Source != "test" || st.Latency <= 0 || st.Latency > period {
		t.Fatalf("status %+v: want engaged by test, latency within one period", st)
	}
	for k := 11; k < 100; k++ {
		if v := tick(k, 0.5, 0.5); v.Kind != efferent.Refused {
			t.Fatalf("tick %d released without a reset: %+v", k, v)
		}
	}
	e.Reset()
	if v := tick(100, 0.1, 0.01); v.Kind != efferent.Allowed || sp.Hold {
		t.Fatalf("after reset: %+v", v)
	}
	if st := e.Status(); st.Engaged || st.HeldTicks != 90 || st.Triggers != 1 {
		t.Fatalf("status after reset %+v", st)
	}
}

// BenchmarkChainCheck: e-stop, watchdog and limits per tick, allocation
// free.
func BenchmarkChainCheck(b *testing.B) {
	e := NewEStop(nil)
	w, _ := NewWatchdog(150 * time.Millisecond)
	lim, _ := NewLimits(LimitsConf{Min: []float64{-1, -1, -1, -1, -1, -1, -1}, Max: []float64{1, 1, 1, 1, 1, 1, 1}})
	g := Chain{e, w, lim}
	sp := efferent.Setpoint{Values: make([]float64, 7), Seq: 1, Time: time.Unix(0, 0)}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		sp.Time = sp.Time.Add(period)
		sp.Seq = uint64(1 + i/250)
		g.Check(&sp)
	}
}
