package control_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/control"
	"github.com/efferent/efferent/policy"
	"github.com/efferent/efferent/safety"
)

// loopKinds: Δx, Δy (deltas), z (absolute), gripper.
var loopKinds = []safety.Kind{dlt, dlt, abs, bin}

// fakePolicy answers with a chunk computed from the observed state, so
// that trajectories depend on timing and a mistake in it shows.
type fakePolicy struct {
	h       int
	calls   atomic.Int64
	busy    atomic.Bool
	overlap atomic.Bool // Infer was called concurrently
	fail    func(call int64) error
	nan     bool
	block   chan struct{}  // if set, Infer waits for it (or ctx)
	clock   *lockstepClock // if set, Infer ends the clock's busy period
	delay   time.Duration  // if set, Infer sleeps (benchmarks only)
	lag     float64        // Metadata's MaxLagSteps
	mu      sync.Mutex     // guards seen
	seen    []uint64       // observation seqs
}

func (p *fakePolicy) Metadata() policy.Metadata {
	return policy.Metadata{Name: "fake", Horizon: p.h, Dim: len(loopKinds), StepPeriod: step, MaxLagSteps: p.lag}
}

func (p *fakePolicy) Close() error { return nil }

func (p *fakePolicy) Infer(ctx context.Context, obs *efferent.Observation, out *efferent.Chunk) error {
	if !p.busy.CompareAndSwap(false, true) {
		p.overlap.Store(true)
	}
	defer p.busy.Store(false)
	if p.clock != nil {
		defer p.clock.end()
	}
	n := p.calls.Add(1)
	p.mu.Lock()
	p.seen = append(p.seen, obs.Seq)
	p.mu.Unlock()
	if p.block != nil {
		select {
		case <-p.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if p.delay > 0 {
		time.Sleep(p.delay)
	}
	if p.fail != nil {
		if err := p.fail(n); err != nil {
			return err
		}
	}
	d := len(loopKinds)
	out.H, out.D, out.StepPeriod, out.Model = p.h, d, step, "fake"
	if cap(out.Actions) < p.h*d {
		out.Actions = make([]float64, p.h*d)
	}
	out.Actions = out.Actions[:p.h*d]
	x, y := obs.State[0], obs.State[1]
	for k := range p.h {
		row := out.Actions[k*d : (k+1)*d]
		row[0] = 0.02 * math.Cos(3*y+0.1*float64(k))
		row[1] = 0.02 * math.Sin(2*x+0.1*float64(k))
		row[2] = 0.5 + 0.3*math.Sin(x+y+0.2*float64(k))
		row[3] = -1
		if (k+int(n))%7 < 3 {
			row[3] = 1
		}
	}
	if p.nan {
		out.Actions[d+2] = math.NaN()
	}
	return nil
}

// fakeRobot integrates the delta dims and records every setpoint.
type fakeRobot struct {
	x, y       float64
	ticks      int
	doneAfter  int                     // Done after this many applies (0: never)
	doneWhen   func(r *fakeRobot) bool // optional extra condition
	nonHold    int
	log        []efferent.Setpoint
	keepLog    bool
	clock      *lockstepClock
	observeErr error
}

func (r *fakeRobot) Observe(obs *efferent.Observation) error {
	if r.observeErr != nil {
		return r.observeErr
	}
	if r.clock != nil {
		r.clock.begin()
	}
	obs.State = append(obs.State[:0], r.x, r.y)
	obs.Prompt = "push the block"
	return nil
}

func (r *fakeRobot) Apply(sp *efferent.Setpoint) error {
	r.ticks++
	if !sp.Hold {
		r.nonHold++
	}
	if len(sp.Values) >= 2 {
		r.x += sp.Values[0]
		r.y += sp.Values[1]
	}
	if r.keepLog {
		c := *sp
		c.Values = slices.Clone(sp.Values)
		r.log = append(r.log, c)
	}
	return nil
}

func (r *fakeRobot) Done() bool {
	return (r.doneAfter > 0 && r.ticks >= r.doneAfter) || (r.doneWhen != nil && r.doneWhen(r))
}

// lockstepClock is a virtual clock for the real (asynchronous) loop in
// tests: time does not move while an inference is in flight (from Observe
// to the end of Infer), so real mode can run in virtual time without
// sleeping and without every chunk arriving hopelessly late.
type lockstepClock struct {
	*efferent.VirtualClock
	mu   sync.Mutex
	cond *sync.Cond
	busy int
}

func newLockstepClock() *lockstepClock {
	c := &lockstepClock{VirtualClock: efferent.NewVirtualClock(t0)}
	c.cond = sync.NewCond(&c.mu)
	return c
}

func (c *lockstepClock) begin() { c.mu.Lock(); c.busy++; c.mu.Unlock() }

func (c *lockstepClock) end() { c.mu.Lock(); c.busy--; c.cond.Broadcast(); c.mu.Unlock() }

func (c *lockstepClock) SleepUntil(ctx context.Context, t time.Time) error {
	c.mu.Lock()
	for c.busy > 0 {
		c.cond.Wait()
	}
	c.mu.Unlock()
	return c.VirtualClock.SleepUntil(ctx, t)
}

// wideGate passes everything finite.
func wideGate(tb testing.TB) *safety.LimitGate {
	tb.Helper()
	inf := math.Inf(1)
	g, err := safety.NewLimits(safety.LimitsConf{
		Min: []float64{-inf, -inf, -inf, -1}, Max: []float64{inf, inf, inf, 1}, Kinds: loopKinds,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return g
}

type virtualRun struct {
	mode    control.Mode
	rateHz  float64
	latency time.Duration
	ticks   int
	h       int
	lag     float64 // the policy's declared MaxLagSteps
	maxLag  float64 // SchedulerConf.MaxLagSteps
}

func runVirtual(t *testing.T, v virtualRun, onTick func(*efferent.Setpoint, efferent.Verdict)) (*fakeRobot, control.Stats) {
	t.Helper()
	if v.h == 0 {
		v.h = 10
	}
	robot := &fakeRobot{doneAfter: v.ticks, keepLog: true}
	l, err := control.New(control.LoopConf{
		Clock:        efferent.NewVirtualClock(t0),
		Policy:       &fakePolicy{h: v.h, lag: v.lag},
		Robot:        robot,
		Gate:         wideGate(t),
		Scheduler:    control.SchedulerConf{Mode: v.mode, Kinds: loopKinds, AsyncThreshold: 5, MaxLagSteps: v.maxLag},
		RateHz:       v.rateHz,
		Virtual:      true,
		InferLatency: v.latency,
		OnTick:       onTick,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := l.Stats()
	if st.Ticks != uint64(v.ticks) || robot.ticks != v.ticks {
		t.Fatalf("ticks %d (robot %d), want %d", st.Ticks, robot.ticks, v.ticks)
	}
	return robot, st
}

// TestLoopVirtualDeterministic: two runs of the same virtual setup produce
// identical setpoint sequences, in every mode, at 1 kHz with 30 ms of
// modelled inference latency.
func TestLoopVirtualDeterministic(t *testing.T) {
	for _, mode := range allModes {
		t.Run(string(mode), func(t *testing.T) {
			v := virtualRun{mode: mode, rateHz: 1000, latency: 30 * time.Millisecond, ticks: 3000}
			r1, st1 := runVirtual(t, v, nil)
			r2, st2 := runVirtual(t, v, nil)
			if !reflect.DeepEqual(r1.log, r2.log) {
				for i := range r1.log {
					if !reflect.DeepEqual(r1.log[i], r2.log[i]) {
						t.Fatalf("runs differ at tick %d: %+v vs %+v", i, r1.log[i], r2.log[i])
					}
				}
				t.Fatal("runs differ")
			}
			if st1.Inferences < 2 || st1.Inferences != st2.Inferences || r1.nonHold == 0 {
				t.Fatalf("inferences %d/%d, non-hold ticks %d", st1.Inferences, st2.Inferences, r1.nonHold)
			}
			if !r1.log[0].Time.Equal(t0) || !r1.log[2999].Time.Equal(t0.Add(2999*time.Millisecond)) {
				t.Fatalf("tick times %v … %v", r1.log[0].Time, r1.log[2999].Time)
			}
			t.Logf("%s: %d inferences, %d holds, %d dropped, chunks %+v", mode, st1.Inferences, st1.Holds, st1.RequestsDropped, st1.Chunks)
		})
	}
}

// TestLoopReplanEveryK: at the policy rate the loop infers every
// ReplanSteps ticks and executes actions 0..4 of each chunk unchanged; at
// 1 kHz every 250 ticks.
func TestLoopReplanEveryK(t *testing.T) {
	var chunks []efferent.Chunk
	pol := &fakePolicy{h: 10}
	robot := &fakeRobot{doneAfter: 100, keepLog: true}
	rec := &recordingPolicy{fakePolicy: pol, out: &chunks}
	l, err := control.New(control.LoopConf{
		Clock: efferent.NewVirtualClock(t0), Policy: rec, Robot: robot, Gate: wideGate(t),
		Scheduler: control.SchedulerConf{Kinds: loopKinds}, Virtual: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := l.Stats()
	if st.Inferences != 20 || st.Holds != 0 || len(chunks) != 20 {
		t.Fatalf("inferences %d, holds %d, chunks %d; want 20, 0, 20", st.Inferences, st.Holds, len(chunks))
	}
	for i, sp := range robot.log {
		c := &chunks[i/5]
		if !slices.Equal(sp.Values, c.Row(i%5)) || sp.Seq != c.Seq || sp.Seq != uint64(i/5+1) {
			t.Fatalf("tick %d: %v (seq %d), want action %d of chunk %d: %v", i, sp.Values, sp.Seq, i%5, c.Seq, c.Row(i%5))
		}
	}
	if _, st := runVirtual(t, virtualRun{mode: control.ModeReplan, rateHz: 1000, ticks: 1000}, nil); st.Inferences != 4 || st.Holds != 0 {
		t.Fatalf("1 kHz: %d inferences, %d holds; want 4, 0", st.Inferences, st.Holds)
	}
}

// recordingPolicy keeps a copy of every chunk.
type recordingPolicy struct {
	*fakePolicy
	out *[]efferent.Chunk
}

func (p *recordingPolicy) Infer(ctx context.Context, obs *efferent.Observation, out *efferent.Chunk) error {
	if err := p.fakePolicy.Infer(ctx, obs, out); err != nil {
		return err
	}
	c := *out
	c.Actions = slices.Clone(out.Actions)
	c.Seq, c.ObsTime = obs.Seq, obs.Time
	*p.out = append(*p.out, c)
	return nil
}

// TestLoopHoldBeforeFirstChunk: with 120 ms of latency the first 120 ticks
// hold (the gate says Held, no_chunk), then the chunk runs.
func TestLoopHoldBeforeFirstChunk(t *testing.T) {
	var verdicts []efferent.Verdict
	robot, st := runVirtual(t, virtualRun{mode: control.ModeReplan, rateHz: 1000, latency: 120 * time.Millisecond, ticks: 200},
		func(sp *efferent.Setpoint, v efferent.Verdict) { verdicts = append(verdicts, v) })
	for i, sp := range robot.log {
		held := i < 120
		if sp.Hold != held {
			t.Fatalf("tick %d: hold %v, want %v", i, sp.Hold, held)
		}
		if held && (verdicts[i].Kind != efferent.Held || verdicts[i].Reason != "no_chunk" || sp.Values[0] != 0 || sp.Values[1] != 0) {
			t.Fatalf("tick %d: %+v %v", i, verdicts[i], sp.Values)
		}
	}
	if st.Holds != 120 || st.Verdicts[efferent.Held] != 120 || st.Verdicts[efferent.Allowed] != 80 {
		t.Fatalf("stats %+v", st)
	}
}

// TestLoopAsyncOverlap: with inference requested 5 steps before the end of
// a 10-step chunk and 2 steps of latency, execution never stops after the
// first chunk, and each chunk's 2 elapsed steps are skipped.
func TestLoopAsyncOverlap(t *testing.T) {
	robot, st := runVirtual(t, virtualRun{mode: control.ModeAsync, rateHz: 1000, latency: 2 * step, ticks: 5000}, nil)
	if st.Holds != 100 {
		t.Fatalf("holds %d, want 100 (the first chunk's latency only)", st.Holds)
	}
	// One inference every 5 steps after the first: 1 + (5000−100)/250.
	if st.Inferences != 20 || st.Chunks.SkippedSteps != 2*st.Chunks.Accepted {
		t.Fatalf("inferences %d, chunks %+v", st.Inferences, st.Chunks)
	}
	_ = robot
}

// TestLoopAsyncSlowsDown: 200 ms of latency is 4 steps at 20 Hz. A
// policy that tolerates 2 (its metadata's MaxLagSteps, or the default
// H/5 of a 10-step chunk) gets its chunks played at 100 ms a step: each
// chunk enters 2 steps in, the arm never holds after the first chunk, and
// every tick after it is slow and counted. One that tolerates 4, or a
// configuration that never slows down, plays at 50 ms and skips 4.
func TestLoopAsyncSlowsDown(t *testing.T) {
	for _, c := range []struct {
		lag, maxLag float64
		period      time.Duration
		skipped     uint64
	}{{2, 0, 2 * step, 2}, {0, 0, 2 * step, 2}, {4, 0, step, 4}, {2, -1, step, 4}} {
		_, st := runVirtual(t, virtualRun{mode: control.ModeAsync, rateHz: 1000, latency: 4 * step, ticks: 5000, lag: c.lag, maxLag: c.maxLag}, nil)
		name := fmt.Sprintf("policy tolerates %v, configured %v", c.lag, c.maxLag)
		if st.PlayPeriod != c.period || st.Chunks.SkippedSteps != c.skipped*st.Chunks.Accepted || st.Chunks.Accepted < 2 {
			t.Fatalf("%s: plays at %v, chunks %+v; want %v and %d skipped each", name, st.PlayPeriod, st.Chunks, c.period, c.skipped)
		}
		if st.Holds != 200 || st.Chunks.Expired != 0 {
			t.Fatalf("%s: %d holds, %d expired; want the first chunk's 200 only", name, st.Holds, st.Chunks.Expired)
		}
		if slowed := c.period != step; (slowed && st.Chunks.SlowTicks != st.Ticks-st.Holds) || (!slowed && st.Chunks.SlowTicks != 0) {
			t.Fatalf("%s: %d slow ticks of %d moving", name, st.Chunks.SlowTicks, st.Ticks-st.Holds)
		}
	}
}

// TestLoopEnsembleBusyEngine: ensemble asks every step; with 2 steps of
// latency every other request finds the engine busy and is dropped.
func TestLoopEnsembleBusyEngine(t *testing.T) {
	_, st := runVirtual(t, virtualRun{mode: control.ModeEnsemble, latency: 2 * step, ticks: 100}, nil)
	if st.Inferences != 50 || st.RequestsDropped != 50 || st.Holds != 2 {
		t.Fatalf("stats %+v, want 50 inferences, 50 dropped, 2 holds", st)
	}
	_, st = runVirtual(t, virtualRun{mode: control.ModeEnsemble, ticks: 100}, nil)
	if st.Inferences != 100 || st.RequestsDropped != 0 || st.Holds != 0 {
		t.Fatalf("no latency: stats %+v", st)
	}
}

func TestLoopDone(t *testing.T) {
	_, st := runVirtual(t, virtualRun{mode: control.ModeReplan, rateHz: 1000, ticks: 37}, nil)
	if st.Ticks != 37 {
		t.Fatal(st.Ticks)
	}
	robot := &fakeRobot{doneWhen: func(*fakeRobot) bool { return true }}
	l, err := control.New(control.LoopConf{Clock: efferent.NewVirtualClock(t0), Policy: &fakePolicy{h: 10}, Robot: robot,
		Gate: wideGate(t), Scheduler: control.SchedulerConf{Kinds: loopKinds}, Virtual: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Run(context.Background()); err != nil || robot.ticks != 0 {
		t.Fatalf("done before start: %v, %d ticks", err, robot.ticks)
	}
}

// TestLoopGateAndTap: the gate's verdicts reach OnTick and the stats.
func TestLoopGateAndTap(t *testing.T) {
	gate, err := safety.NewLimits(safety.LimitsConf{
		Min: []float64{-1e-4, -1e-4, 0, -1}, Max: []float64{1e-4, 1e-4, 0.6, 1}, Kinds: loopKinds,
	})
	if err != nil {
		t.Fatal(err)
	}
	robot := &fakeRobot{doneAfter: 500}
	clamped := 0
	l, err := control.New(control.LoopConf{Clock: efferent.NewVirtualClock(t0), Policy: &fakePolicy{h: 10}, Robot: robot,
		Gate: gate, Scheduler: control.SchedulerConf{Kinds: loopKinds}, RateHz: 1000, Virtual: true,
		OnTick: func(sp *efferent.Setpoint, v efferent.Verdict) {
			if v.Kind == efferent.Clamped {
				clamped++
				if math.Abs(sp.Values[0]) > 1e-4 || sp.Values[2] > 0.6 {
					t.Errorf("clamped setpoint outside limits: %v", sp.Values)
				}
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := l.Stats()
	if clamped == 0 || st.Verdicts[efferent.Clamped] != uint64(clamped) || gate.Counts().PositionLimit != uint64(clamped) {
		t.Fatalf("clamped %d, stats %+v, gate %+v", clamped, st.Verdicts, gate.Counts())
	}
}

// TestLoopInferenceErrors: a failed inference is counted and asked again
// on the next tick; a chunk with NaN is rejected with a reason.
func TestLoopInferenceErrors(t *testing.T) {
	pol := &fakePolicy{h: 10, fail: func(n int64) error {
		if n == 1 {
			return errors.New("model exploded")
		}
		return nil
	}}
	robot := &fakeRobot{doneAfter: 10}
	l, err := control.New(control.LoopConf{Clock: efferent.NewVirtualClock(t0), Policy: pol, Robot: robot,
		Gate: wideGate(t), Scheduler: control.SchedulerConf{Kinds: loopKinds}, Virtual: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := l.Stats()
	if st.InferErrors != 1 || st.Inferences != 3 || st.Holds != 1 || !strings.Contains(st.LastChunkError, "model exploded") {
		t.Fatalf("stats %+v", st)
	}

	robot = &fakeRobot{doneAfter: 10}
	l, err = control.New(control.LoopConf{Clock: efferent.NewVirtualClock(t0), Policy: &fakePolicy{h: 10, nan: true}, Robot: robot,
		Gate: wideGate(t), Scheduler: control.SchedulerConf{Kinds: loopKinds}, Virtual: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	st = l.Stats()
	if st.Chunks.Invalid != 10 || st.Holds != 10 || !strings.Contains(st.LastChunkError, "action 1, dim 2 is NaN") {
		t.Fatalf("stats %+v", st)
	}

	robot = &fakeRobot{observeErr: errors.New("camera unplugged")}
	l, _ = control.New(control.LoopConf{Clock: efferent.NewVirtualClock(t0), Policy: &fakePolicy{h: 10}, Robot: robot,
		Gate: wideGate(t), Scheduler: control.SchedulerConf{Kinds: loopKinds}, Virtual: true})
	if err := l.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "camera unplugged") {
		t.Fatalf("observe error: %v", err)
	}
}

// TestLoopRealMode runs the asynchronous loop (inference on its own
// goroutine) in lock-step virtual time, in every mode: the Policy is never
// called concurrently and chunks reach the robot. Run with -race.
func TestLoopRealMode(t *testing.T) {
	for _, mode := range allModes {
		t.Run(string(mode), func(t *testing.T) {
			clk := newLockstepClock()
			pol := &fakePolicy{h: 10, clock: clk}
			robot := &fakeRobot{clock: clk, doneWhen: func(r *fakeRobot) bool { return r.nonHold >= 2000 || r.ticks >= 200_000 }}
			l, err := control.New(control.LoopConf{Clock: clk, Policy: pol, Robot: robot, Gate: wideGate(t),
				Scheduler: control.SchedulerConf{Mode: mode, Kinds: loopKinds}, RateHz: 1000})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			done := make(chan struct{})
			go func() { // a metrics reader
				for {
					select {
					case <-done:
						return
					default:
						_ = l.Stats()
					}
				}
			}()
			err = l.Run(context.Background())
			close(done)
			if err != nil {
				t.Fatal(err)
			}
			st := l.Stats()
			if robot.nonHold < 2000 || pol.overlap.Load() || st.Inferences == 0 {
				t.Fatalf("non-hold %d of %d ticks, overlap %v, stats %+v", robot.nonHold, robot.ticks, pol.overlap.Load(), st)
			}
			pol.mu.Lock()
			seen := slices.Clone(pol.seen)
			pol.mu.Unlock()
			if !slices.IsSorted(seen) || seen[0] != 1 {
				t.Fatalf("observation seqs %v", seen)
			}
			t.Logf("%s: %d ticks, %d holds, %d inferences, %d dropped, chunks %+v", mode, st.Ticks, st.Holds, st.Inferences, st.RequestsDropped, st.Chunks)
		})
	}
}

// TestLoopNeverBlocksOnInference: with inference stuck, the ticks go on
// (holding), requests beyond the one queued are dropped and counted, and
// Close unblocks the inference goroutine.
func TestLoopNeverBlocksOnInference(t *testing.T) {
	pol := &fakePolicy{h: 10, block: make(chan struct{})}
	robot := &fakeRobot{doneAfter: 10_000}
	l, err := control.New(control.LoopConf{Clock: efferent.NewVirtualClock(t0), Policy: pol, Robot: robot, Gate: wideGate(t),
		Scheduler: control.SchedulerConf{Mode: control.ModeEnsemble, Kinds: loopKinds}, RateHz: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := l.Stats()
	// 200 steps: one request in Infer, one queued, the rest dropped.
	if st.Holds != 10_000 || st.Inferences != 0 || st.RequestsDropped < 190 {
		t.Fatalf("stats %+v", st)
	}
	l.Close()
	if pol.calls.Load() > 2 {
		t.Fatalf("%d Infer calls", pol.calls.Load())
	}
}

func TestLoopCloseAndCancel(t *testing.T) {
	var ticks atomic.Int64
	mk := func() *control.Loop {
		ticks.Store(0)
		l, err := control.New(control.LoopConf{Clock: efferent.NewVirtualClock(t0), Policy: &fakePolicy{h: 10}, Robot: &fakeRobot{},
			Gate: wideGate(t), Scheduler: control.SchedulerConf{Kinds: loopKinds}, RateHz: 1000,
			OnTick: func(*efferent.Setpoint, efferent.Verdict) { ticks.Add(1) }})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	// The robot is never done: the loop ticks in virtual time until
	// stopped.
	waitTicks := func() {
		for ticks.Load() < 1000 {
			runtime.Gosched()
		}
	}
	l := mk()
	errc := make(chan error)
	go func() { errc <- l.Run(context.Background()) }()
	waitTicks()
	l.Close()
	if err := <-errc; !errors.Is(err, control.ErrClosed) {
		t.Fatalf("Run after Close: %v", err)
	}
	if err := l.Run(context.Background()); !errors.Is(err, control.ErrClosed) {
		t.Fatalf("second Run: %v", err)
	}
	l.Close()

	l = mk()
	defer l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { errc <- l.Run(ctx) }()
	waitTicks()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run after cancel: %v", err)
	}
}

func TestLoopConfValidate(t *testing.T) {
	ok := func() control.LoopConf {
		return control.LoopConf{Clock: efferent.NewVirtualClock(t0), Policy: &fakePolicy{h: 10}, Robot: &fakeRobot{},
			Gate: wideGate(t), Scheduler: control.SchedulerConf{Kinds: loopKinds}, Virtual: true}
	}
	l, err := control.New(ok())
	if err != nil {
		t.Fatal(err)
	}
	if l.Period() != step {
		t.Fatalf("default rate: period %v, want the policy's %v", l.Period(), step)
	}
	for _, tc := range []struct {
		field string
		mod   func(c *control.LoopConf)
	}{
		{"Clock", func(c *control.LoopConf) { c.Clock = nil }},
		{"Policy", func(c *control.LoopConf) { c.Policy = nil }},
		{"Robot", func(c *control.LoopConf) { c.Robot = nil }},
		{"Gate", func(c *control.LoopConf) { c.Gate = nil }},
		{"RateHz", func(c *control.LoopConf) { c.RateHz = -1 }},
		{"RateHz", func(c *control.LoopConf) { c.RateHz = 10 }}, // slower than the policy
		{"InferLatency", func(c *control.LoopConf) { c.InferLatency = -time.Second }},
		{"InferLatency", func(c *control.LoopConf) { c.Virtual, c.Clock, c.InferLatency = false, nil, time.Second }},
		{"Scheduler.Kinds", func(c *control.LoopConf) { c.Scheduler.Kinds = loopKinds[:3] }},
		{"Scheduler.ControlPeriod", func(c *control.LoopConf) { c.Scheduler.ControlPeriod = time.Millisecond }},
		{"Scheduler", func(c *control.LoopConf) { c.Scheduler.ReplanSteps = -2 }},
	} {
		c := ok()
		tc.mod(&c)
		if _, err := control.New(c); err == nil || !strings.Contains(err.Error(), "LoopConf."+tc.field) {
			t.Errorf("%s: err = %v", tc.field, err)
		}
	}
}

// TestLoopReset: a chunk still in flight when an episode ends is not
// executed in the next one.
func TestLoopReset(t *testing.T) {
	robot := &fakeRobot{doneAfter: 100}
	l, err := control.New(control.LoopConf{Clock: efferent.NewVirtualClock(t0), Policy: &fakePolicy{h: 10}, Robot: robot,
		Gate: wideGate(t), Scheduler: control.SchedulerConf{Kinds: loopKinds}, RateHz: 1000, Virtual: true, InferLatency: 120 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := l.Reset(); err != nil {
		t.Fatal(err)
	}
	robot.doneAfter = 150
	if err := l.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Both episodes: 100 + 50 ticks, all holding (the first episode's chunk
	// would have arrived 20 ticks into the second).
	if st := l.Stats(); st.Holds != 150 || st.Inferences != 2 || st.Chunks.Accepted != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestLoopRealModeResetAndErrors: in real mode, a result requested before
// Reset is discarded, and failed inferences are counted and retried.
func TestLoopRealModeResetAndErrors(t *testing.T) {
	pol := &fakePolicy{h: 10, block: make(chan struct{})}
	robot := &fakeRobot{doneAfter: 10, keepLog: true}
	l, err := control.New(control.LoopConf{Clock: efferent.NewVirtualClock(t0), Policy: pol, Robot: robot, Gate: wideGate(t),
		Scheduler: control.SchedulerConf{Kinds: loopKinds}, RateHz: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Run(context.Background()); err != nil { // inference stuck on obs 1
		t.Fatal(err)
	}
	if err := l.Reset(); err != nil {
		t.Fatal(err)
	}
	close(pol.block) // obs 1's chunk now arrives, in the next episode
	robot.doneAfter = 0
	robot.doneWhen = func(r *fakeRobot) bool { return r.nonHold >= 10 || r.ticks >= 5_000_000 }
	if err := l.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i, sp := range robot.log {
		if !sp.Hold && sp.Seq == 1 {
			t.Fatalf("tick %d executes the previous episode's chunk", i)
		}
	}
	if st := l.Stats(); robot.nonHold < 10 || st.Chunks.Accepted == 0 {
		t.Fatalf("non-hold %d, stats %+v", robot.nonHold, st)
	}

	clk := newLockstepClock()
	pol = &fakePolicy{h: 10, clock: clk, fail: func(n int64) error {
		if n <= 2 {
			return errors.New("model exploded")
		}
		return nil
	}}
	robot = &fakeRobot{clock: clk, doneWhen: func(r *fakeRobot) bool { return r.nonHold >= 1 || r.ticks >= 1_000_000 }}
	l2, err := control.New(control.LoopConf{Clock: clk, Policy: pol, Robot: robot, Gate: wideGate(t),
		Scheduler: control.SchedulerConf{Kinds: loopKinds}, RateHz: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if err := l2.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := l2.Stats(); st.InferErrors != 2 || st.Inferences != 3 || robot.nonHold != 1 || !strings.Contains(st.LastChunkError, "exploded") {
		t.Fatalf("non-hold %d, stats %+v", robot.nonHold, st)
	}
}
