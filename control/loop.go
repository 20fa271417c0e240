package control

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/policy"
	"github.com/efferent/efferent/safety"
)

// Robot is what the loop drives: the simulator, or a bridge to a real
// robot. Its methods are called on the tick goroutine and must not block
// for long.
type Robot interface {
	// Observe fills obs (reusing its images and slices) with the current
	// cameras, state and instruction. It may set obs.Time to the capture
	// time; the loop sets it to the tick time otherwise, and always sets
	// obs.Seq.
	Observe(obs *efferent.Observation) error
	// Apply sends one setpoint (after the gate); sp is reused on the next
	// tick, so a robot that keeps it must copy it.
	Apply(sp *efferent.Setpoint) error
	// Done reports that the episode is over; Run then returns nil.
	Done() bool
}

// LoopConf configures a Loop. Zero values mean the documented defaults.
type LoopConf struct {
	// Clock is the time source. Default efferent.SystemClock; required in
	// Virtual mode (e.g. an *efferent.VirtualClock). For controller rates
	// above ~100 Hz on real hardware use PreciseClock: Go timers wake with
	// millisecond granularity on Linux (see BenchmarkLoopJitter1kHz).
	Clock efferent.Clock
	// Policy produces the chunks (required). The loop's inference
	// goroutine (or, in Virtual mode, the tick goroutine) is its only user
	// while the loop lives; the loop does not close it.
	Policy policy.Policy
	// Robot is observed and driven (required).
	Robot Robot
	// Gate checks every setpoint before the robot gets it (required).
	Gate safety.Gate
	// Scheduler configures chunk scheduling. Kinds is required; MaxH and
	// StepPeriod default to the policy's Horizon and StepPeriod;
	// ControlPeriod is set from RateHz (leave it zero, or equal).
	Scheduler SchedulerConf
	// RateHz is the controller rate. Default: the policy rate
	// (1/StepPeriod), where interpolation is the identity.
	RateHz float64
	// OnTick, if set, is called on the tick goroutine after every Apply
	// with the gated setpoint and the verdict. It must be cheap and must
	// not keep sp past the call.
	OnTick func(sp *efferent.Setpoint, v efferent.Verdict)
	// Virtual makes the loop deterministic for simulation in virtual time:
	// inference runs synchronously on the tick where it is requested and
	// its chunk becomes available InferLatency later in virtual time. The
	// modelled inference engine does one inference at a time: a request
	// while a chunk is still "in flight" is dropped and counted.
	Virtual bool
	// InferLatency (Virtual mode only) is the modelled inference latency.
	// Default 0: the chunk is executed from the tick that requested it.
	InferLatency time.Duration
	// ChunkWait (real mode) is how long a tick may wait for a chunk that
	// is due now and requested but not yet here, before it holds instead.
	// Inference is requested early, by the latency measured so far
	// (Scheduler.SetLead), less this wait: a controller slower than the
	// policy's inference (the simulator at 20 Hz) observes at the tick
	// where the last chunk ends and waits the few milliseconds, as virtual
	// time does; a fast one (1 kHz) asks ahead and never waits. Default
	// half the controller period; negative: never wait.
	ChunkWait time.Duration
}

// Validate checks what can be checked without the policy; New checks the
// rest. The error names the field.
func (c LoopConf) Validate() error {
	switch {
	case c.Virtual && c.Clock == nil:
		return errors.New("control: LoopConf.Clock: required in Virtual mode (e.g. an *efferent.VirtualClock)")
	case c.Policy == nil:
		return errors.New("control: LoopConf.Policy: required")
	case c.Robot == nil:
		return errors.New("control: LoopConf.Robot: required")
	case c.Gate == nil:
		return errors.New("control: LoopConf.Gate: required")
	case math.IsNaN(c.RateHz) || math.IsInf(c.RateHz, 0) || c.RateHz < 0 || c.RateHz > 100e3:
		return fmt.Errorf("control: LoopConf.RateHz = %g: want 0 (default) or up to 100000", c.RateHz)
	case c.InferLatency < 0:
		return fmt.Errorf("control: LoopConf.InferLatency = %v: want ≥ 0", c.InferLatency)
	case c.InferLatency != 0 && !c.Virtual:
		return errors.New("control: LoopConf.InferLatency: only meaningful in Virtual mode (real inference takes what it takes)")
	}
	return nil
}

// Stats is a snapshot of a Loop's counters.
type Stats struct {
	// Ticks executed; Holds among them (sp.Hold after the gate); Overruns:
	// deadlines skipped because the loop was a period or more late.
	Ticks, Holds, Overruns uint64
	// StartHolds are the Holds before the first setpoint that moved since
	// New or Reset (waiting for the first chunk); the others are holds
	// once moving — between chunks, or for a gate or a stale input.
	StartHolds uint64
	// Verdicts counts the gate's verdicts, indexed by efferent.VerdictKind
	// (Allowed, Clamped, Held, Refused).
	Verdicts [4]uint64
	// Inferences completed (including failed ones) and InferErrors among
	// them; RequestsDropped: requests not made because inference was busy
	// with a queued request already (counted, never queued twice).
	Inferences, InferErrors, RequestsDropped uint64
	// Chunks are the scheduler's counters.
	Chunks SchedulerStats
	// InferP50/P99 (over the last 1024 inferences) and InferMax: the
	// wall-clock duration of Policy.Infer.
	InferP50, InferP99, InferMax time.Duration
	// LateP50/P99 (over the last 16384 ticks) and LateMax: how late the
	// loop woke up for each tick (clock time after waking − the deadline it
	// slept for; a wake-up a period or more late also skips deadlines,
	// counted in Overruns).
	LateP50, LateP99, LateMax time.Duration
	// LastChunkError is the last Push or inference error ("" if none).
	LastChunkError string
	// Lead is how early the next inference is requested (the recent
	// inference latency, less ChunkWait; see Scheduler.SetLead); Waits
	// counts ticks that waited for a chunk due then (ChunkWait) and
	// WaitMisses those among them it did not come in time for.
	Lead              time.Duration
	Waits, WaitMisses uint64
	// PlayPeriod is the period the executing chunk plays at: the policy's
	// step period, or longer while async or rtc slow down for a latency
	// of more than MaxLagSteps (Chunks.SlowTicks counts those ticks).
	PlayPeriod time.Duration
	// Stale inputs (a Robot implementing Freshness): StaleEvents counts
	// how often an input went stale, StaleHolds the ticks held for it,
	// NotReady the observations the robot refused with ErrStaleInput, and
	// Discarded the chunks thrown away because they were requested before
	// the input went stale. StaleInput and StaleAge name the stale input
	// and its age while one is stale ("" and 0 otherwise).
	StaleEvents, StaleHolds, NotReady, Discarded uint64
	StaleInput                                   string
	StaleAge                                     time.Duration
	// HoldReasons counts the held ticks (Holds) by reason, indexed as
	// Reasons: the gate's verdict reason when it held or refused (estop,
	// watchdog, stale_input, …), else the setpoint's HoldReason, else
	// no_chunk. ClampReasons and RefuseReasons count the Clamped and
	// Refused verdicts by their reason.
	HoldReasons, ClampReasons, RefuseReasons [NumReasons]uint64
}

// ErrClosed is returned by Run after Close.
var ErrClosed = errors.New("control: loop closed")

type inferRequest struct {
	obs     *efferent.Observation
	episode uint64
}

type inferResult struct {
	chunk   *efferent.Chunk
	err     error
	latency time.Duration
	episode uint64
}

// Loop ties policy, scheduler, gate and robot together at the controller
// rate. New starts the inference goroutine (except in Virtual mode); Run
// drives the ticks on the caller's goroutine until the robot is done, ctx
// ends or Close is called; Close stops the goroutine and waits for it.
type Loop struct {
	conf   LoopConf
	clock  efferent.Clock
	sched  *Scheduler
	period time.Duration

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once

	// real mode: obs buffers circulate freeObs → reqCh → freeObs; chunk
	// buffers freeChunks → resCh → freeChunks. Every channel is large
	// enough for all its buffers, so returning one never blocks.
	reqCh      chan inferRequest
	freeObs    chan *efferent.Observation
	resCh      chan inferResult
	freeChunks chan *efferent.Chunk

	// virtual mode
	vObs   efferent.Observation
	vChunk efferent.Chunk
	vBusy  bool
	vAt    time.Time

	sp      efferent.Setpoint
	obsSeq  uint64
	episode atomic.Uint64
	running atomic.Bool

	// Chunk timing (tick goroutine): the last few inference latencies
	// give the lead; waitTimer bounds a tick's wait for a due chunk.
	recent    [8]time.Duration
	nRecent   int
	waitTimer *time.Timer

	// Freshness (tick goroutine): fresh is the robot's, nil when it has
	// none; fence is the last observation requested before an input went
	// stale (its chunk, and older ones, are discarded).
	fresh    Freshness
	staleNow bool
	fence    uint64
	staleMu  sync.Mutex // guards staleIn, staleAge for Stats
	staleIn  string
	staleAge time.Duration

	ticks, holds, overruns          atomic.Uint64
	startHolds                      atomic.Uint64
	moved                           bool // a setpoint moved since New or Reset (tick goroutine)
	verdicts                        [4]atomic.Uint64
	holdReasons, clampReasons       [NumReasons]atomic.Uint64
	refuseReasons                   [NumReasons]atomic.Uint64
	inferences, inferErrs, reqDrops atomic.Uint64
	waits, waitMisses               atomic.Uint64
	staleEvents, staleHolds         atomic.Uint64
	notReady, discarded             atomic.Uint64
	lead                            atomic.Int64
	inferLat, tickLate              durRing
	lastErr                         atomic.Pointer[string]
}

// New checks conf, fills defaults from the policy's metadata and, unless
// Virtual, starts the inference goroutine.
func New(conf LoopConf) (*Loop, error) {
	if err := conf.Validate(); err != nil {
		return nil, err
	}
	if conf.Clock == nil {
		conf.Clock = efferent.SystemClock{}
	}
	md := conf.Policy.Metadata()
	sc := conf.Scheduler
	if sc.MaxH == 0 {
		sc.MaxH = md.Horizon
	}
	if sc.StepPeriod == 0 {
		sc.StepPeriod = md.StepPeriod
	}
	if sc.MaxLagSteps == 0 {
		// The policy's own tolerance (a remote server's metadata may say
		// it too), never beyond the chunks the scheduler stores.
		sc.MaxLagSteps = min(md.MaxLagSteps, float64(sc.MaxH))
	}
	if sc.Mode == ModeRTC && !md.Guides {
		return nil, fmt.Errorf("%w: scheduler mode rtc needs a policy that guides its chunks by the executing one "+
			"(a flow model's prefix + step graphs); %s cannot (use async)", ErrNoGuidance, md.Name)
	}
	if sc.StepPeriod <= 0 {
		return nil, errors.New("control: LoopConf.Scheduler.StepPeriod: required (the policy's metadata has none)")
	}
	if md.Dim != 0 && len(sc.Kinds) != md.Dim {
		return nil, fmt.Errorf("control: LoopConf.Scheduler.Kinds: %d kinds, the policy's actions have %d dims", len(sc.Kinds), md.Dim)
	}
	if conf.RateHz == 0 {
		conf.RateHz = float64(time.Second) / float64(sc.StepPeriod)
	}
	period := time.Duration(math.Round(float64(time.Second) / conf.RateHz))
	if period <= 0 {
		return nil, fmt.Errorf("control: LoopConf.RateHz = %g: period rounds to 0", conf.RateHz)
	}
	if period > sc.StepPeriod {
		return nil, fmt.Errorf("control: LoopConf.RateHz = %g: slower than the policy rate (step period %v)", conf.RateHz, sc.StepPeriod)
	}
	if sc.ControlPeriod != 0 && sc.ControlPeriod != period {
		return nil, fmt.Errorf("control: LoopConf.Scheduler.ControlPeriod = %v disagrees with RateHz %g (%v); leave it zero", sc.ControlPeriod, conf.RateHz, period)
	}
	sc.ControlPeriod = period
	if conf.ChunkWait == 0 {
		conf.ChunkWait = period / 2
	}
	sched, err := NewScheduler(sc)
	if err != nil {
		return nil, fmt.Errorf("control: LoopConf.Scheduler: %s", strings.TrimPrefix(err.Error(), "control: "))
	}
	conf.Scheduler = sc.WithDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	l := &Loop{
		conf:     conf,
		clock:    conf.Clock,
		sched:    sched,
		period:   period,
		ctx:      ctx,
		cancel:   cancel,
		sp:       efferent.Setpoint{Values: make([]float64, sched.Dim())},
		inferLat: newDurRing(1024),
		tickLate: newDurRing(16384),
	}
	l.fresh, _ = conf.Robot.(Freshness)
	if conf.Virtual {
		// The modelled latency is known: ask that much ahead.
		sched.SetLead(conf.InferLatency)
		l.lead.Store(int64(conf.InferLatency))
	} else {
		l.waitTimer = time.NewTimer(time.Hour)
		l.waitTimer.Stop()
	}
	if !conf.Virtual {
		const nObs, nChunks = 2, 4
		l.reqCh = make(chan inferRequest, 1)
		l.freeObs = make(chan *efferent.Observation, nObs)
		l.resCh = make(chan inferResult, nChunks)
		l.freeChunks = make(chan *efferent.Chunk, nChunks)
		for range nObs {
			l.freeObs <- &efferent.Observation{}
		}
		for range nChunks {
			l.freeChunks <- &efferent.Chunk{}
		}
		l.wg.Add(1)
		go l.inferLoop()
	}
	return l, nil
}

// Scheduler returns the loop's scheduler (for inspection; it belongs to
// the tick goroutine while Run runs).
func (l *Loop) Scheduler() *Scheduler { return l.sched }

// Period returns the controller tick period.
func (l *Loop) Period() time.Duration { return l.period }

// Reset prepares the loop for a new episode: the scheduler forgets its
// chunks and requests (Scheduler.Reset), a chunk still in flight from the
// previous episode is discarded when it arrives, and observation numbering
// continues. Counters keep counting. It returns an error while Run runs.
func (l *Loop) Reset() error {
	if l.running.Load() {
		return errors.New("control: Reset: Run is running")
	}
	l.episode.Add(1)
	l.sched.Reset()
	l.vBusy = false
	l.staleNow = false
	l.moved = false
	return nil
}

// Close stops the inference goroutine and waits for it; a running Run
// returns ErrClosed. It does not close the Policy or the Robot. Safe to
// call more than once.
func (l *Loop) Close() {
	l.once.Do(func() {
		l.cancel()
		l.wg.Wait()
	})
}

// Run drives the control loop on the caller's goroutine: one tick per
// controller period on a drift-free Ticker started now. It returns nil
// when the Robot reports Done, ctx's error when ctx ends, ErrClosed after
// Close, and an error when the robot fails to observe or apply. Run may be
// called again after it returns (call Reset first for a new episode), but
// not concurrently.
func (l *Loop) Run(ctx context.Context) error {
	if l.ctx.Err() != nil {
		return ErrClosed
	}
	if !l.running.CompareAndSwap(false, true) {
		return errors.New("control: Run: already running")
	}
	defer l.running.Store(false)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(l.ctx, cancel)()
	if l.conf.Robot.Done() {
		return nil
	}
	tk := NewTicker(l.clock, l.clock.Now(), l.period)
	base := l.overruns.Load()
	for {
		now, err := tk.Next(ctx)
		if err != nil {
			if l.ctx.Err() != nil {
				return ErrClosed
			}
			return err
		}
		l.tickLate.add(tk.Late())
		l.overruns.Store(base + tk.Overruns())
		if err := l.tick(ctx, now); err != nil {
			if l.ctx.Err() != nil {
				return ErrClosed
			}
			return err
		}
		if l.conf.Robot.Done() {
			return nil
		}
	}
}

// tick runs one controller tick: check the inputs' freshness, deliver
// arrived chunks, request an inference if due (waiting a little for it
// when it is due now), compute the setpoint, gate it, apply it.
func (l *Loop) tick(ctx context.Context, now time.Time) error {
	stale := l.checkFresh(now)
	if l.conf.Virtual {
		if l.vBusy && !now.Before(l.vAt) {
			l.vBusy = false
			if l.vChunk.Seq > l.fence {
				l.push(now, &l.vChunk)
			} else {
				l.discarded.Add(1)
			}
		}
	} else {
		l.drain(now)
	}
	if !stale && l.sched.NeedInference(now) {
		l.sched.Requested(now)
		if err := l.request(ctx, now); err != nil {
			return err
		}
	}
	if !l.conf.Virtual && !stale && l.conf.ChunkWait > 0 && l.sched.Pending() && !l.sched.Covers(now) {
		l.waitChunk(ctx, now)
	}
	sp := &l.sp
	l.sched.Tick(now, sp)
	if stale {
		sp.Hold, sp.HoldReason = true, efferent.HoldStaleInput
		l.staleHolds.Add(1)
	}
	v := l.conf.Gate.Check(sp)
	l.ticks.Add(1)
	if sp.Hold {
		l.holds.Add(1)
		if !l.moved {
			l.startHolds.Add(1)
		}
	} else {
		l.moved = true
	}
	if int(v.Kind) < len(l.verdicts) {
		l.verdicts[v.Kind].Add(1)
	}
	l.countVerdict(sp, v)
	if err := l.conf.Robot.Apply(sp); err != nil {
		return fmt.Errorf("control: robot apply: %w", err)
	}
	if l.conf.OnTick != nil {
		l.conf.OnTick(sp, v)
	}
	return nil
}

// drain delivers every inference result that has arrived (real mode).
func (l *Loop) drain(now time.Time) {
	for {
		select {
		case r := <-l.resCh:
			l.deliver(now, r)
		default:
			return
		}
	}
}

// waitChunk waits for the requested chunk that is due at now, at most
// ChunkWait after now by the loop's clock (real mode).
func (l *Loop) waitChunk(ctx context.Context, now time.Time) {
	d := now.Add(l.conf.ChunkWait).Sub(l.clock.Now())
	if d <= 0 {
		return
	}
	l.waits.Add(1)
	l.waitTimer.Reset(d)
	defer l.waitTimer.Stop()
	for {
		select {
		case r := <-l.resCh:
			l.deliver(now, r)
			if l.sched.Covers(now) || !l.sched.Pending() {
				return
			}
		case <-l.waitTimer.C:
			l.waitMisses.Add(1)
			return
		case <-ctx.Done():
			return
		}
	}
}

// checkFresh asks the robot whether an input is stale (Freshness). On the
// tick an input goes stale the plan is dropped and what is in flight is
// fenced off; it reports whether the tick must hold.
func (l *Loop) checkFresh(now time.Time) bool {
	if l.fresh == nil {
		return false
	}
	in, age, stale := l.fresh.Stale(now)
	if !stale {
		if l.staleNow {
			l.staleNow = false
			l.staleMu.Lock()
			l.staleIn, l.staleAge = "", 0
			l.staleMu.Unlock()
		}
		return false
	}
	if !l.staleNow {
		l.staleNow = true
		l.staleEvents.Add(1)
		l.sched.Drop()
		l.fence = l.obsSeq // whatever was observed so far must not move the robot
	}
	l.staleMu.Lock()
	l.staleIn, l.staleAge = in, age
	l.staleMu.Unlock()
	return true
}

// request observes and hands the observation to inference (synchronously
// in Virtual mode).
func (l *Loop) request(ctx context.Context, now time.Time) error {
	if l.conf.Virtual {
		if l.vBusy {
			l.reqDrops.Add(1)
			l.sched.Abandon()
			return nil
		}
		obs := &l.vObs
		if err := l.observe(obs, now); err != nil {
			return l.observeFailed(err)
		}
		l.guide(obs)
		t0 := time.Now()
		err := l.conf.Policy.Infer(ctx, obs, &l.vChunk)
		l.inferLat.add(time.Since(t0))
		l.inferences.Add(1)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			l.inferErrs.Add(1)
			l.setErr(err)
			l.sched.Abandon()
			return nil
		}
		l.vChunk.ObsTime, l.vChunk.Seq = obs.Time, obs.Seq
		if l.conf.InferLatency == 0 {
			l.push(now, &l.vChunk)
		} else {
			l.vBusy, l.vAt = true, now.Add(l.conf.InferLatency)
		}
		return nil
	}
	select {
	case obs := <-l.freeObs:
		if len(l.reqCh) > 0 { // one request already queued: never queue two
			l.freeObs <- obs
			l.reqDrops.Add(1)
			l.sched.Abandon()
			return nil
		}
		if err := l.observe(obs, now); err != nil {
			l.freeObs <- obs
			return l.observeFailed(err)
		}
		l.guide(obs)
		l.reqCh <- inferRequest{obs, l.episode.Load()} // the loop is the only sender and the slot is free
	default:
		l.reqDrops.Add(1)
		l.sched.Abandon()
	}
	return nil
}

// guide gives the observation the executing plan (rtc mode), or none.
func (l *Loop) guide(obs *efferent.Observation) {
	if l.sched.Mode() == ModeRTC {
		l.sched.Guide(obs.Time, &obs.Guide)
		return
	}
	obs.Guide.Steps = 0
}

// observeFailed handles an Observe error: an input that is not ready
// (efferent.ErrStaleInput) abandons the request and the robot holds until
// the next one; anything else ends the run.
func (l *Loop) observeFailed(err error) error {
	if !errors.Is(err, efferent.ErrStaleInput) {
		return err
	}
	l.notReady.Add(1)
	l.setErr(err)
	l.sched.Abandon()
	return nil
}

func (l *Loop) observe(obs *efferent.Observation, now time.Time) error {
	obs.Time = time.Time{}
	if err := l.conf.Robot.Observe(obs); err != nil {
		return fmt.Errorf("control: robot observe: %w", err)
	}
	if obs.Time.IsZero() {
		obs.Time = now
	}
	l.obsSeq++
	obs.Seq = l.obsSeq
	return nil
}

// deliver handles one inference result (real mode).
func (l *Loop) deliver(now time.Time, r inferResult) {
	if r.episode != l.episode.Load() { // requested before Reset
		l.freeChunks <- r.chunk
		return
	}
	l.inferences.Add(1)
	l.inferLat.add(r.latency)
	l.updateLead(r.latency)
	switch {
	case r.err != nil:
		l.inferErrs.Add(1)
		l.setErr(r.err)
		l.sched.Abandon()
	case r.chunk.Seq <= l.fence:
		// Observed before an input went stale: its request was dropped
		// with the plan then (Scheduler.Drop), so nothing is pending on it.
		l.discarded.Add(1)
	default:
		l.push(now, r.chunk)
	}
	l.freeChunks <- r.chunk
}

// updateLead sets the scheduler's lead from the inference latencies seen
// last: their maximum plus a quarter and a controller period of margin
// (the tick that requests comes up to a period after the ideal moment),
// less what a tick may wait (ChunkWait).
func (l *Loop) updateLead(lat time.Duration) {
	l.recent[l.nRecent%len(l.recent)] = lat
	l.nRecent++
	var m time.Duration
	for _, d := range l.recent[:min(l.nRecent, len(l.recent))] {
		m = max(m, d)
	}
	lead := max(m+m/4+l.period-max(l.conf.ChunkWait, 0), 0)
	l.sched.SetLead(lead)
	l.lead.Store(int64(l.sched.Lead()))
}

func (l *Loop) push(now time.Time, c *efferent.Chunk) {
	if err := l.sched.Push(now, c); err != nil && !errors.Is(err, ErrStale) && !errors.Is(err, ErrExpired) {
		l.setErr(err)
	}
}

func (l *Loop) setErr(err error) {
	s := err.Error()
	l.lastErr.Store(&s)
}

// inferLoop owns the Policy in real mode.
func (l *Loop) inferLoop() {
	defer l.wg.Done()
	for {
		var req inferRequest
		select {
		case <-l.ctx.Done():
			return
		case req = <-l.reqCh:
		}
		obs := req.obs
		var c *efferent.Chunk
		select {
		case <-l.ctx.Done():
			return
		case c = <-l.freeChunks:
		}
		t0 := time.Now()
		err := l.conf.Policy.Infer(l.ctx, obs, c)
		lat := time.Since(t0)
		c.ObsTime, c.Seq = obs.Time, obs.Seq
		l.freeObs <- obs
		select {
		case <-l.ctx.Done():
			return
		case l.resCh <- inferResult{chunk: c, err: err, latency: lat, episode: req.episode}:
		}
	}
}

// Stats returns a snapshot of the counters; safe from any goroutine
// (allocates: not for the tick path).
func (l *Loop) Stats() Stats {
	st := Stats{
		Ticks:           l.ticks.Load(),
		Holds:           l.holds.Load(),
		StartHolds:      l.startHolds.Load(),
		Overruns:        l.overruns.Load(),
		Inferences:      l.inferences.Load(),
		InferErrors:     l.inferErrs.Load(),
		RequestsDropped: l.reqDrops.Load(),
		Chunks:          l.sched.Stats(),
		Lead:            time.Duration(l.lead.Load()),
		PlayPeriod:      l.sched.PlayPeriod(),
		Waits:           l.waits.Load(),
		WaitMisses:      l.waitMisses.Load(),
		StaleEvents:     l.staleEvents.Load(),
		StaleHolds:      l.staleHolds.Load(),
		NotReady:        l.notReady.Load(),
		Discarded:       l.discarded.Load(),
	}
	l.staleMu.Lock()
	st.StaleInput, st.StaleAge = l.staleIn, l.staleAge
	l.staleMu.Unlock()
	for i := range st.Verdicts {
		st.Verdicts[i] = l.verdicts[i].Load()
	}
	for i := range NumReasons {
		st.HoldReasons[i] = l.holdReasons[i].Load()
		st.ClampReasons[i] = l.clampReasons[i].Load()
		st.RefuseReasons[i] = l.refuseReasons[i].Load()
	}
	st.InferP50, st.InferP99, st.InferMax = l.inferLat.percentiles()
	st.LateP50, st.LateP99, st.LateMax = l.tickLate.percentiles()
	if p := l.lastErr.Load(); p != nil {
		st.LastChunkError = *p
	}
	return st
}
