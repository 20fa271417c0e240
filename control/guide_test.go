package control_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/control"
	"github.com/efferent/efferent/policy"
	"github.com/efferent/efferent/safety"
)

// TestGuideFollowsPlan: the guide an observation gets in rtc mode is the
// executing plan from the observation on — the chunk's own actions at
// whole steps (delta and binary dims as they are, absolute dims on the
// curve, which passes through them), as far as the chunk reaches — and
// its delay is the lead rounded up to steps.
func TestGuideFollowsPlan(t *testing.T) {
	kinds := []safety.Kind{abs, dlt, bin}
	const h = 8
	s := newSched(t, control.SchedulerConf{Mode: control.ModeRTC, Kinds: kinds, MaxH: h, StepPeriod: step, ControlPeriod: tick, GuideBeyond: -1, MaxLagSteps: -1})
	var g efferent.ActionGuide
	s.Guide(t0, &g)
	if g.Steps != 0 || g.D != len(kinds) {
		t.Fatalf("no plan yet: guide has %d steps (D %d), want 0 (D %d)", g.Steps, g.D, len(kinds))
	}
	c := mkChunk(h, len(kinds), 1, t0, func(k, j int) float64 { return float64(10*k + j) })
	if err := s.Push(t0, c); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		from  int           // observation at step from
		lead  time.Duration // expected latency
		delay int
	}{{0, 0, 0}, {2, 100 * time.Millisecond, 2}, {3, 120 * time.Millisecond, 3}, {6, 400 * time.Millisecond, 2}} {
		s.SetLead(tc.lead)
		s.Guide(at(tc.from, step), &g)
		if g.Steps != h-tc.from || g.Delay != tc.delay || len(g.Actions) != g.Steps*g.D {
			t.Fatalf("from step %d, lead %v: steps %d delay %d (%d values), want %d, %d", tc.from, tc.lead, g.Steps, g.Delay, len(g.Actions), h-tc.from, tc.delay)
		}
		for k := range g.Steps {
			for j := range kinds {
				if got, want := g.Row(k)[j], c.At(tc.from+k, j); !near(got, want, 1e-12) {
					t.Fatalf("from step %d: guide row %d dim %d = %g, want the chunk's %g", tc.from, k, j, got, want)
				}
			}
		}
	}
	// By default it reaches GuideBeyond (2) steps past the delay.
	capped := newSched(t, control.SchedulerConf{Mode: control.ModeRTC, Kinds: kinds, MaxH: h, StepPeriod: step, ControlPeriod: tick})
	if err := capped.Push(t0, c); err != nil {
		t.Fatal(err)
	}
	capped.SetLead(100 * time.Millisecond)
	capped.Guide(t0, &g)
	if g.Steps != 2+control.DefaultGuideBeyond || g.Delay != 2 {
		t.Fatalf("default guide: %d steps, delay %d; want %d, 2", g.Steps, g.Delay, 2+control.DefaultGuideBeyond)
	}
	if n := testing.AllocsPerRun(100, func() { s.Guide(at(1, step), &g) }); n != 0 {
		t.Fatalf("Guide allocates %v times once the guide has room", n)
	}
	s.Drop()
	s.Guide(at(1, step), &g)
	if g.Steps != 0 {
		t.Fatalf("after Drop the guide has %d steps, want 0", g.Steps)
	}
}

// TestRTCDefaults: rtc mode does not blend by default (the policy makes
// the chunks continuous), async does.
func TestRTCDefaults(t *testing.T) {
	base := control.SchedulerConf{Kinds: []safety.Kind{abs}, MaxH: 16, StepPeriod: step}
	rtc, async := base, base
	rtc.Mode, async.Mode = control.ModeRTC, control.ModeAsync
	if b := rtc.WithDefaults().BlendSteps; b >= 0 {
		t.Fatalf("rtc BlendSteps default %d, want none (negative)", b)
	}
	if b := async.WithDefaults().BlendSteps; b != control.DefaultBlendSteps {
		t.Fatalf("async BlendSteps default %d, want %d", b, control.DefaultBlendSteps)
	}
	if err := rtc.WithDefaults().Validate(); err != nil {
		t.Fatal(err)
	}
}

// guidePolicy records the guides it is given; it answers a constant chunk.
type guidePolicy struct {
	guides bool
	seen   []efferent.ActionGuide
}

func (p *guidePolicy) Metadata() policy.Metadata {
	return policy.Metadata{Name: "guide-test", Horizon: 8, Dim: len(loopKinds), StepPeriod: step, Guides: p.guides}
}

func (p *guidePolicy) Infer(_ context.Context, obs *efferent.Observation, out *efferent.Chunk) error {
	g := obs.Guide
	g.Actions = append([]float64(nil), g.Actions...)
	p.seen = append(p.seen, g)
	d := len(loopKinds)
	out.Actions = out.Actions[:0]
	for k := range 8 {
		out.Actions = append(out.Actions, 0.001, -0.001, 0.1*float64(k+1), 1)
	}
	out.H, out.D = 8, d
	return nil
}

func (p *guidePolicy) Close() error { return nil }

// TestLoopGuidesInRTC: in rtc mode the loop gives every observation the
// executing plan (the first none: nothing executes yet) with the delay
// the modelled latency implies; a policy that cannot guide is refused.
func TestLoopGuidesInRTC(t *testing.T) {
	rob := &fakeRobot{doneAfter: 40}
	pol := &guidePolicy{}
	conf := control.LoopConf{Clock: efferent.NewVirtualClock(t0), Policy: pol, Robot: rob, Gate: wideGate(t),
		Scheduler: control.SchedulerConf{Mode: control.ModeRTC, Kinds: loopKinds, MaxLagSteps: -1}, Virtual: true, InferLatency: 100 * time.Millisecond}
	if _, err := control.New(conf); !errors.Is(err, control.ErrNoGuidance) {
		t.Fatalf("rtc with a policy that cannot guide: err %v, want ErrNoGuidance", err)
	}
	pol.guides = true
	runLoop(t, conf)
	if len(pol.seen) < 3 {
		t.Fatalf("%d inferences, want several", len(pol.seen))
	}
	if pol.seen[0].Steps != 0 {
		t.Fatalf("first observation guided by %d steps, want none (nothing executes yet)", pol.seen[0].Steps)
	}
	for i, g := range pol.seen[1:] {
		if g.Steps == 0 || g.Delay != 2 {
			t.Fatalf("observation %d: guide of %d steps, delay %d; want steps > 0, delay 2 (100 ms at 50 ms)", i+2, g.Steps, g.Delay)
		}
		// Every chunk is the same: the guide is its tail, whose absolute
		// dim (2) rises by 0.1 a step.
		for k := range g.Steps {
			if k > 0 && !near(g.Row(k)[2]-g.Row(k - 1)[2], 0.1, 1e-9) {
				t.Fatalf("observation %d: guide rows %v are not the chunk's tail", i+2, g.Actions)
			}
		}
	}
}
