package teleop

import (
	"math"
	"testing"
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/safety"
)

var t0 = time.Unix(1000, 0)

func newMux(t *testing.T) *Mux {
	t.Helper()
	m, err := New(Conf{Dim: 3, Gripper: 2, Stale: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// In Policy mode the policy's setpoint passes and is compared with the
// teleoperator's; in Takeover the teleoperator's replaces it, and a stale
// command holds.
func TestModes(t *testing.T) {
	m := newMux(t)
	if err := m.Command(t0, []float64{1, 0, 1}, "keyboard"); err != nil {
		t.Fatal(err)
	}
	sp := efferent.Setpoint{Time: t0.Add(10 * time.Millisecond), Values: []float64{-1, 0, 1}}
	if v := m.Check(&sp); v.Kind != efferent.Allowed || sp.Values[0] != -1 {
		t.Fatalf("policy mode: %v %v", v, sp.Values)
	}
	m.SetMode(Takeover)
	sp = efferent.Setpoint{Time: t0.Add(20 * time.Millisecond), Values: []float64{-1, 0, -1}}
	if v := m.Check(&sp); v.Kind != efferent.Allowed || sp.Values[0] != 1 || sp.Values[2] != 1 || sp.Hold {
		t.Fatalf("takeover: %v %v", v, sp.Values)
	}
	sp = efferent.Setpoint{Time: t0.Add(200 * time.Millisecond), Values: []float64{-1, 0, -1}}
	if v := m.Check(&sp); v.Kind != efferent.Held || v.Reason != ReasonStale || !sp.Hold {
		t.Fatalf("stale takeover: %v hold %v", v, sp.Hold)
	}
	s := m.Summary()
	// Two comparisons: opposite x (cosine −1 for both), gripper agreeing
	// then disagreeing.
	if s.N != 2 || s.Cosine != -1 || s.GripperAgreement != 0.5 || s.MAE[0] != 2 {
		t.Fatalf("summary %+v", s)
	}
	if c := m.Counts(); c.Driven != 1 || c.Stale != 1 || c.Compared != 2 {
		t.Fatalf("counts %+v", c)
	}
	m.ResetStats()
	if m.Summary().N != 0 {
		t.Fatal("ResetStats kept comparisons")
	}
}

// A teleop command passes the rest of the chain like any setpoint: a
// command beyond the limits is clamped, and an e-stop holds a takeover.
func TestTakeoverStillGated(t *testing.T) {
	m := newMux(t)
	m.SetMode(Takeover)
	lim, err := safety.NewLimits(safety.LimitsConf{Min: []float64{-0.5, -0.5, -1}, Max: []float64{0.5, 0.5, 1}})
	if err != nil {
		t.Fatal(err)
	}
	e := safety.NewEStop(nil)
	chain := safety.Chain{m, e, lim}
	m.Command(t0, []float64{3, 0, 1}, "gamepad")
	sp := efferent.Setpoint{Time: t0, Values: make([]float64, 3)}
	if v := chain.Check(&sp); v.Kind != efferent.Clamped || sp.Values[0] != 0.5 {
		t.Fatalf("takeover beyond the limit: %v %v", v, sp.Values)
	}
	e.Trigger("test")
	sp = efferent.Setpoint{Time: t0, Values: make([]float64, 3)}
	if v := chain.Check(&sp); v.Kind != efferent.Refused || !sp.Hold {
		t.Fatalf("takeover under e-stop: %v hold %v", v, sp.Hold)
	}
}

func TestBadCommands(t *testing.T) {
	m := newMux(t)
	for _, vals := range [][]float64{{1, 2}, {1, math.NaN(), 0}, {math.Inf(1), 0, 0}} {
		if err := m.Command(t0, vals, "x"); err == nil {
			t.Errorf("%v accepted", vals)
		}
	}
	if _, err := ParseMode("autopilot"); err == nil {
		t.Error("bad mode accepted")
	}
}

func TestCheckAllocatesNothing(t *testing.T) {
	m := newMux(t)
	m.Command(t0, []float64{1, 0, 1}, "k")
	sp := efferent.Setpoint{Time: t0, Values: make([]float64, 3)}
	for _, mode := range []Mode{Policy, Takeover} {
		m.SetMode(mode)
		if a := testing.AllocsPerRun(1000, func() { sp.Hold = false; m.Check(&sp) }); a != 0 {
			t.Fatalf("%s: %v allocations per Check", mode, a)
		}
	}
}

// A hold the loop decided on (a stale camera or robot state) stands in
// Takeover too: the teleoperator does not drive on inputs the robot
// cannot trust.
func TestTakeoverKeepsDecidedHold(t *testing.T) {
	m := newMux(t)
	m.SetMode(Takeover)
	if err := m.Command(t0, []float64{1, 0, 1}, "keyboard"); err != nil {
		t.Fatal(err)
	}
	sp := efferent.Setpoint{Time: t0.Add(10 * time.Millisecond), Values: []float64{0, 0, -1}, Hold: true, HoldReason: efferent.HoldStaleInput}
	if v := m.Check(&sp); v.Kind != efferent.Held || v.Reason != efferent.HoldStaleInput || !sp.Hold || sp.Values[0] != 0 {
		t.Fatalf("takeover over a stale-input hold: %+v, %+v", v, sp)
	}
	sp = efferent.Setpoint{Time: t0.Add(20 * time.Millisecond), Values: []float64{0, 0, -1}, Hold: true}
	if v := m.Check(&sp); v.Kind != efferent.Allowed || sp.Hold || sp.Values[0] != 1 {
		t.Fatalf("takeover over a plain gap between chunks: %+v, %+v", v, sp)
	}
}
