package control_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/control"
	"github.com/efferent/efferent/safety"
	"github.com/efferent/efferent/teleop"
)

// TestReasonIndex: every listed reason maps to its own index, the gates'
// reasons are all listed, and anything else counts as "other".
func TestReasonIndex(t *testing.T) {
	for i, r := range control.Reasons {
		if got := control.ReasonIndex(r); got != i && r != "other" {
			t.Errorf("ReasonIndex(%q) = %d, want %d", r, got, i)
		}
	}
	for _, r := range []string{safety.ReasonNoChunk, efferent.HoldStaleInput, safety.ReasonEStop, safety.ReasonWatchdog,
		teleop.ReasonStale, safety.ReasonNaN, safety.ReasonDimension, safety.ReasonPositionLimit, safety.ReasonStepLimit,
		safety.ReasonVelocityLimit, safety.ReasonAccelerationLimit, safety.ReasonJerkLimit, safety.ReasonConverging} {
		if i := control.ReasonIndex(r); control.Reasons[i] != r {
			t.Errorf("reason %q is counted as %q", r, control.Reasons[i])
		}
	}
	if i := control.ReasonIndex("something_new"); control.Reasons[i] != "other" {
		t.Errorf("an unknown reason is counted as %q, want other", control.Reasons[i])
	}
}

// TestLoopCountsReasons: ticks held for the e-stop count under "estop"
// (holds and refusals), the ticks before the first chunk under
// "no_chunk", and clamps under their limit; the e-stop's held ticks are
// the loop's.
func TestLoopCountsReasons(t *testing.T) {
	limits, err := safety.NewLimits(safety.LimitsConf{
		Min: []float64{-1e-4, -1e-4, 0, -1}, Max: []float64{1e-4, 1e-4, 0.6, 1}, Kinds: loopKinds,
	})
	if err != nil {
		t.Fatal(err)
	}
	estop := safety.NewEStop(nil)
	const ticks, stopAt = 600, 400
	robot := &fakeRobot{doneAfter: ticks}
	n := 0
	l, err := control.New(control.LoopConf{Clock: efferent.NewVirtualClock(t0), Policy: &fakePolicy{h: 10}, Robot: robot,
		Gate: safety.Chain{estop, limits}, Scheduler: control.SchedulerConf{Kinds: loopKinds}, RateHz: 1000, Virtual: true,
		InferLatency: 20 * time.Millisecond, // 20 ticks before the first chunk
		OnTick: func(*efferent.Setpoint, efferent.Verdict) {
			if n++; n == stopAt {
				estop.Trigger("test")
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := l.Stats()
	est, noChunk, pos := control.ReasonIndex(safety.ReasonEStop), control.ReasonIndex(safety.ReasonNoChunk), control.ReasonIndex(safety.ReasonPositionLimit)
	if st.HoldReasons[est] != ticks-stopAt || st.RefuseReasons[est] != ticks-stopAt || estop.Status().HeldTicks != ticks-stopAt {
		t.Errorf("estop: %d holds, %d refusals, e-stop held %d; want %d", st.HoldReasons[est], st.RefuseReasons[est], estop.Status().HeldTicks, ticks-stopAt)
	}
	if st.HoldReasons[noChunk] == 0 {
		t.Errorf("no holds before the first chunk counted: %v", st.HoldReasons)
	}
	var holds, clamps uint64
	for i := range control.NumReasons {
		holds += st.HoldReasons[i]
		clamps += st.ClampReasons[i]
	}
	if holds != st.Holds || clamps != st.Verdicts[efferent.Clamped] || st.ClampReasons[pos] != clamps || clamps == 0 {
		t.Errorf("holds by reason sum to %d of %d; clamps %d (position %d) of %d", holds, st.Holds, clamps, st.ClampReasons[pos], st.Verdicts[efferent.Clamped])
	}
}

// TestStatsPlusSumsEveryCounter: Plus adds every counter (a field added to
// Stats and forgotten in Plus fails here), keeps the larger maximum and
// the newer loop's gauges.
func TestStatsPlusSumsEveryCounter(t *testing.T) {
	var a, b control.Stats
	setAll(reflect.ValueOf(&a).Elem(), 1)
	setAll(reflect.ValueOf(&b).Elem(), 1)
	a.InferMax, b.InferMax = 7, 3
	a.StaleInput, b.StaleInput = "old", "new"
	sum := a.Plus(b)
	var check func(v reflect.Value, path string)
	check = func(v reflect.Value, path string) {
		switch v.Kind() {
		case reflect.Uint64:
			if v.Uint() != 2 {
				t.Errorf("%s = %d after adding 1 and 1", path, v.Uint())
			}
		case reflect.Array:
			for i := range v.Len() {
				check(v.Index(i), path)
			}
		case reflect.Struct:
			for i := range v.NumField() {
				check(v.Field(i), path+"."+v.Type().Field(i).Name)
			}
		}
	}
	check(reflect.ValueOf(sum), "Stats")
	if sum.InferMax != 7 || sum.StaleInput != "new" || sum.InferP50 != 1 {
		t.Errorf("InferMax %v, StaleInput %q, InferP50 %v: want 7ns, new, 1ns", sum.InferMax, sum.StaleInput, sum.InferP50)
	}
}

func setAll(v reflect.Value, n uint64) {
	switch v.Kind() {
	case reflect.Uint64:
		v.SetUint(n)
	case reflect.Int64:
		v.SetInt(int64(n))
	case reflect.Array:
		for i := range v.Len() {
			setAll(v.Index(i), n)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			setAll(v.Field(i), n)
		}
	}
}

// TestLoopReasonsAllocateNothing: ticks held and refused for the e-stop
// cost no more allocations than ticks that move (only Run's own).
func TestLoopReasonsAllocateNothing(t *testing.T) {
	allocs := func(engaged bool) float64 {
		estop := safety.NewEStop(nil)
		robot := &fakeRobot{}
		l, err := control.New(control.LoopConf{Clock: efferent.NewVirtualClock(t0), Policy: &fakePolicy{h: 10}, Robot: robot,
			Gate: safety.Chain{estop, wideGate(t)}, Scheduler: control.SchedulerConf{Kinds: loopKinds}, RateHz: 1000, Virtual: true})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		robot.doneAfter = 1500 // warm up
		if err := l.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if engaged {
			estop.Trigger("test")
		}
		n := 0
		a := testing.AllocsPerRun(10, func() {
			n++
			robot.doneAfter = 1500 + 240*n // no inference falls in a run
			if err := l.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
		if st := l.Stats(); engaged && st.RefuseReasons[control.ReasonIndex(safety.ReasonEStop)] < 240 {
			t.Fatalf("e-stop engaged, but %v refusals counted for it", st.RefuseReasons)
		}
		return a
	}
	moving, held := allocs(false), allocs(true)
	if held > moving {
		t.Fatalf("%v allocations per 240 ticks held for the e-stop, %v per 240 moving ones (Run's own)", held, moving)
	}
}
