package safety_test

import (
	"math"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/safety"
)

// testConf: two absolute dims (the first step-limited), a delta dim and a
// gripper. Dim 1's range excludes 0, to show the default hold values.
var testConf = safety.LimitsConf{
	Min:     []float64{-1, 0.5, -0.01, -1},
	Max:     []float64{1, 2, 0.01, 1},
	MaxStep: []float64{0.1, 0, 0, 0},
	Kinds:   []safety.Kind{safety.Absolute, safety.Absolute, safety.Delta, safety.Binary},
}

var nan, inf = math.NaN(), math.Inf(1)

// checkCases is shared by TestLimitGateCheck and BenchmarkCheck.
var checkCases = []struct {
	name     string
	prev     []float64 // gate state before the check (nil: none)
	in       []float64
	capacity int // of sp.Values (0: len(in))
	hold     bool
	want     []float64
	wantHold bool
	verdict  efferent.Verdict
}{
	{"allowed", []float64{0, 1, 0, -1}, []float64{0.05, 1.5, 0.005, 1}, 0, false,
		[]float64{0.05, 1.5, 0.005, 1}, false, efferent.Verdict{Kind: efferent.Allowed, Dim: -1}},
	{"position above max", []float64{0, 1, 0, -1}, []float64{0.05, 3, 0, 1}, 0, false,
		[]float64{0.05, 2, 0, 1}, false, efferent.Verdict{Kind: efferent.Clamped, Reason: "position_limit", Dim: 1}},
	{"position below min", []float64{0, 1, 0, -1}, []float64{0, 0.2, 0, 1}, 0, false,
		[]float64{0, 0.5, 0, 1}, false, efferent.Verdict{Kind: efferent.Clamped, Reason: "position_limit", Dim: 1}},
	{"delta per-tick range", []float64{0, 1, 0, -1}, []float64{0, 1, -0.5, -1}, 0, false,
		[]float64{0, 1, -0.01, -1}, false, efferent.Verdict{Kind: efferent.Clamped, Reason: "position_limit", Dim: 2}},
	{"gripper range", []float64{0, 1, 0, -1}, []float64{0, 1, 0, 7}, 0, false,
		[]float64{0, 1, 0, 1}, false, efferent.Verdict{Kind: efferent.Clamped, Reason: "position_limit", Dim: 3}},
	{"step up", []float64{0.5, 1, 0, -1}, []float64{0.9, 1, 0, -1}, 0, false,
		[]float64{0.6, 1, 0, -1}, false, efferent.Verdict{Kind: efferent.Clamped, Reason: "step_limit", Dim: 0}},
	{"step down", []float64{0.5, 1, 0, -1}, []float64{-0.5, 1, 0, -1}, 0, false,
		[]float64{0.4, 1, 0, -1}, false, efferent.Verdict{Kind: efferent.Clamped, Reason: "step_limit", Dim: 0}},
	{"step within bound", []float64{0.5, 1, 0, -1}, []float64{0.6, 1, 0, -1}, 0, false,
		[]float64{0.6, 1, 0, -1}, false, efferent.Verdict{Kind: efferent.Allowed, Dim: -1}},
	{"position then step", []float64{0.5, 1, 0, -1}, []float64{1.5, 1, 0, -1}, 0, false,
		[]float64{0.6, 1, 0, -1}, false, efferent.Verdict{Kind: efferent.Clamped, Reason: "position_limit", Dim: 0}},
	{"step and position on two dims", []float64{0.5, 1, 0, -1}, []float64{0.9, 5, 0, -1}, 0, false,
		[]float64{0.6, 2, 0, -1}, false, efferent.Verdict{Kind: efferent.Clamped, Reason: "step_limit", Dim: 0}},
	{"previous outside envelope, step wins", []float64{1.5, 1, 0, -1}, []float64{1.5, 1, 0, -1}, 0, false,
		[]float64{1.4, 1, 0, -1}, false, efferent.Verdict{Kind: efferent.Clamped, Reason: "position_limit", Dim: 0}},
	{"first setpoint has no step bound", nil, []float64{0.9, 1, 0, -1}, 0, false,
		[]float64{0.9, 1, 0, -1}, false, efferent.Verdict{Kind: efferent.Allowed, Dim: -1}},
	{"nan", []float64{0.3, 0.7, 0.005, 1}, []float64{0, nan, 0, 0}, 0, false,
		[]float64{0.3, 0.7, 0, 1}, true, efferent.Verdict{Kind: efferent.Refused, Reason: "nan", Dim: 1}},
	{"inf", []float64{0.3, 0.7, 0.005, 1}, []float64{0, 0, 0, -inf}, 0, false,
		[]float64{0.3, 0.7, 0, 1}, true, efferent.Verdict{Kind: efferent.Refused, Reason: "nan", Dim: 3}},
	{"nan beats hold", []float64{0.3, 0.7, 0.005, 1}, []float64{0, nan, 0, 0}, 0, true,
		[]float64{0.3, 0.7, 0, 1}, true, efferent.Verdict{Kind: efferent.Refused, Reason: "nan", Dim: 1}},
	{"nan without previous", nil, []float64{nan, 0, 0, 0}, 0, false,
		[]float64{0, 0.5, 0, 0}, true, efferent.Verdict{Kind: efferent.Refused, Reason: "nan", Dim: 0}},
	{"too short with capacity", []float64{0.3, 0.7, 0.005, 1}, []float64{0, 1, 0}, 8, false,
		[]float64{0.3, 0.7, 0, 1}, true, efferent.Verdict{Kind: efferent.Refused, Reason: "dimension", Dim: -1}},
	{"too short no capacity", []float64{0.3, 0.7, 0.005, 1}, []float64{0, 1, 0}, 0, false,
		[]float64{}, true, efferent.Verdict{Kind: efferent.Refused, Reason: "dimension", Dim: -1}},
	{"too long", []float64{0.3, 0.7, 0.005, 1}, []float64{0, 1, 0, 0, 0}, 0, false,
		[]float64{0.3, 0.7, 0, 1}, true, efferent.Verdict{Kind: efferent.Refused, Reason: "dimension", Dim: -1}},
	{"hold upstream", []float64{0.3, 0.7, 0.005, 1}, []float64{0.7, 1.9, 0.01, -1}, 0, true,
		[]float64{0.3, 0.7, 0, 1}, true, efferent.Verdict{Kind: efferent.Held, Reason: "no_chunk", Dim: -1}},
	{"hold upstream without previous", nil, []float64{5, 5, 5, 5}, 0, true,
		[]float64{0, 0.5, 0, 0}, true, efferent.Verdict{Kind: efferent.Held, Reason: "no_chunk", Dim: -1}},
}

func newGate(tb testing.TB) *safety.LimitGate {
	tb.Helper()
	g, err := safety.NewLimits(testConf)
	if err != nil {
		tb.Fatal(err)
	}
	return g
}

func setpointFor(in []float64, capacity int, hold bool) efferent.Setpoint {
	vals := make([]float64, len(in), max(capacity, len(in)))
	copy(vals, in)
	return efferent.Setpoint{Values: vals, Hold: hold}
}

func TestLimitGateCheck(t *testing.T) {
	for _, tc := range checkCases {
		t.Run(tc.name, func(t *testing.T) {
			g := newGate(t)
			if err := g.Reset(tc.prev); err != nil {
				t.Fatal(err)
			}
			sp := setpointFor(tc.in, tc.capacity, tc.hold)
			v := g.Check(&sp)
			if v != tc.verdict {
				t.Errorf("verdict = %+v, want %+v", v, tc.verdict)
			}
			if !slices.Equal(sp.Values, tc.want) {
				t.Errorf("values = %v, want %v", sp.Values, tc.want)
			}
			if sp.Hold != tc.wantHold {
				t.Errorf("hold = %v, want %v", sp.Hold, tc.wantHold)
			}
		})
	}
}

// TestLimitGateState: previous values advance only on Allowed/Clamped, and
// holds reuse them.
func TestLimitGateState(t *testing.T) {
	g := newGate(t)
	if err := g.Reset([]float64{0, 1, 0, -1}); err != nil {
		t.Fatal(err)
	}
	check := func(in []float64, hold bool) (efferent.Verdict, []float64) {
		sp := setpointFor(in, 0, hold)
		v := g.Check(&sp)
		return v, sp.Values
	}
	// Ramp up by 0.15 per tick: clamped to 0.1 per tick.
	for i := 1; i <= 5; i++ {
		v, got := check([]float64{0.15 * float64(i), 1, 0.001, 1}, false)
		if v.Kind != efferent.Clamped || math.Abs(got[0]-0.1*float64(i)) > 1e-12 {
			t.Fatalf("tick %d: %+v %v", i, v, got)
		}
	}
	// A refused NaN does not move the previous values.
	if v, got := check([]float64{nan, 1, 0, 1}, false); v.Kind != efferent.Refused || !slices.Equal(got, []float64{0.5, 1, 0, 1}) {
		t.Fatalf("nan: %+v %v", v, got)
	}
	if v, got := check([]float64{0.55, 1, 0, 1}, false); v.Kind != efferent.Allowed || got[0] != 0.55 {
		t.Fatalf("after nan: %+v %v", v, got)
	}
	c := g.Counts()
	want := safety.LimitCounts{Allowed: 1, NaN: 1, StepLimit: 5}
	if c != want {
		t.Fatalf("counts = %+v, want %+v", c, want)
	}
}

func TestLimitGateCounts(t *testing.T) {
	g := newGate(t)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() { // a metrics reader on another goroutine (run with -race)
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				_ = g.Counts()
			}
		}
	}()
	var want safety.LimitCounts
	for _, tc := range checkCases {
		if err := g.Reset(tc.prev); err != nil {
			t.Fatal(err)
		}
		sp := setpointFor(tc.in, tc.capacity, tc.hold)
		g.Check(&sp)
		switch tc.verdict.Reason {
		case "":
			want.Allowed++
		case "nan":
			want.NaN++
		case "dimension":
			want.Dimension++
		case "no_chunk":
			want.NoChunk++
		}
	}
	close(stop)
	wg.Wait()
	// Clamped cases counted by hand: position 7 (above, below, delta,
	// gripper, position then step, two dims, outside envelope), step 5 (up,
	// down, position then step, two dims, outside envelope).
	want.PositionLimit, want.StepLimit = 7, 5
	if got := g.Counts(); got != want {
		t.Fatalf("counts = %+v, want %+v", got, want)
	}
}

func TestLimitGateAllocs(t *testing.T) {
	g := newGate(t)
	sp := efferent.Setpoint{Values: make([]float64, 4)}
	in := [][]float64{{0.05, 1.5, 0.005, 1}, {0.9, 3, 0, 1}, {nan, 1, 0, 0}}
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		copy(sp.Values, in[i%len(in)])
		sp.Hold = i%5 == 0
		g.Check(&sp)
		i++
	})
	if allocs != 0 {
		t.Fatalf("Check allocates %v times per call", allocs)
	}
}

func TestLimitsConfValidate(t *testing.T) {
	ok := testConf
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, field string
		mod         func(c *safety.LimitsConf)
	}{
		{"no min", "Min", func(c *safety.LimitsConf) { c.Min, c.Max = nil, nil }},
		{"max length", "Max", func(c *safety.LimitsConf) { c.Max = c.Max[:2] }},
		{"min > max", "Min[1]", func(c *safety.LimitsConf) { c.Min = []float64{-1, 3, -0.01, -1} }},
		{"nan min", "Min/Max[0]", func(c *safety.LimitsConf) { c.Min = []float64{nan, 0.5, -0.01, -1} }},
		{"maxstep length", "MaxStep", func(c *safety.LimitsConf) { c.MaxStep = []float64{1} }},
		{"maxstep negative", "MaxStep[0]", func(c *safety.LimitsConf) { c.MaxStep = []float64{-1, 0, 0, 0} }},
		{"maxstep on delta", "MaxStep[2]", func(c *safety.LimitsConf) { c.MaxStep = []float64{0, 0, 0.1, 0} }},
		{"kinds length", "Kinds", func(c *safety.LimitsConf) { c.Kinds = []safety.Kind{safety.Delta} }},
		{"bad kind", "Kinds[0]", func(c *safety.LimitsConf) { c.Kinds = []safety.Kind{9, 0, 0, 0} }},
		{"initial length", "Initial", func(c *safety.LimitsConf) { c.Initial = []float64{0} }},
		{"initial nan", "Initial[3]", func(c *safety.LimitsConf) { c.Initial = []float64{0, 1, 0, nan} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testConf
			tc.mod(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), "LimitsConf."+tc.field) {
				t.Fatalf("err = %v, want one naming LimitsConf.%s", err, tc.field)
			}
			if _, err := safety.NewLimits(c); err == nil {
				t.Fatal("NewLimits accepted an invalid conf")
			}
		})
	}
	// Infinite bounds are allowed: unbounded on that side.
	c := testConf
	c.Max = []float64{inf, inf, inf, inf}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestKind(t *testing.T) {
	for _, k := range []safety.Kind{safety.Absolute, safety.Delta, safety.Binary} {
		b, err := k.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back safety.Kind
		if err := back.UnmarshalText(b); err != nil || back != k {
			t.Fatalf("%v round-trips to %v, %v", k, back, err)
		}
	}
	if _, err := safety.ParseKind("velocity"); err == nil {
		t.Fatal("ParseKind accepted velocity")
	}
	if _, err := safety.Kind(7).MarshalText(); err == nil {
		t.Fatal("MarshalText accepted Kind(7)")
	}
	if safety.Kind(7).String() != "Kind(7)" {
		t.Fatal(safety.Kind(7).String())
	}
}

// BenchmarkCheck runs every checkCases case; each iteration restores the
// gate's previous values and the input (two copies of 4 floats) and checks.
func BenchmarkCheck(b *testing.B) {
	for _, tc := range checkCases {
		b.Run(strings.ReplaceAll(strings.ReplaceAll(tc.name, ",", ""), " ", "_"), func(b *testing.B) {
			g := newGate(b)
			sp := setpointFor(tc.in, tc.capacity, tc.hold)
			vals := sp.Values
			b.ReportAllocs()
			for b.Loop() {
				_ = g.Reset(tc.prev)
				sp.Values = vals[:len(tc.in)]
				copy(sp.Values, tc.in)
				sp.Hold = tc.hold
				g.Check(&sp)
			}
		})
	}
}
