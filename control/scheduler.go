package control

import (
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/safety"
)

// ReplanLookaheadDiv bounds how early replan mode asks for its next
// chunk: by the lead, at most StepPeriod/ReplanLookaheadDiv (5 ms at
// 20 Hz). Replan holds still for the rest of the latency, so that a chunk
// never starts from a state older than that.
const ReplanLookaheadDiv = 10

// Push errors. ErrStale and ErrExpired are returned as they are (no
// allocation: they are normal events in async operation); ErrInvalidChunk
// is wrapped with what was wrong.
var (
	// ErrStale: the chunk answers an observation older than (or the same
	// as) the newest chunk already accepted, so it must never run after it.
	ErrStale = errors.New("control: stale chunk (answers an observation older than the one executing)")
	// ErrExpired: every action of the chunk is already in the past.
	ErrExpired = errors.New("control: expired chunk (all of its actions are in the past)")
	// ErrInvalidChunk: wrong geometry or step period, NaN/Inf values,
	// missing or impossible ObsTime.
	ErrInvalidChunk = errors.New("control: invalid chunk")
	// ErrNoGuidance: rtc mode with a policy that cannot read a guide
	// (policy.Metadata.Guides is false).
	ErrNoGuidance = errors.New("control: the policy cannot do real-time chunking")
)

// SchedulerStats are a Scheduler's counters.
type SchedulerStats struct {
	Accepted uint64 // chunks accepted by Push
	Stale    uint64 // rejected: older than the newest accepted (ErrStale)
	Expired  uint64 // rejected: entirely in the past (ErrExpired)
	Invalid  uint64 // rejected: ErrInvalidChunk
	// SkippedSteps (async) counts actions skipped because they were
	// already in the past when their chunk arrived.
	SkippedSteps uint64
	// Evicted (ensemble) counts chunks dropped from the full store while
	// they still predicted future steps.
	Evicted uint64
	// SlowTicks (async, rtc) counts the ticks executed from a chunk played
	// slower than the policy rate (MaxLagSteps).
	SlowTicks uint64
}

// plan is what the scheduler executes: action samples y (n rows of D) on
// a uniform grid, sample k at origin + k·p, covering the steps
// [begin, end). Each mode builds it differently from the chunks it has;
// Tick only interpolates it. p is the policy's StepPeriod, or longer when
// async or rtc slow a chunk down (MaxLagSteps); deltaScale is what a tick
// executes of a step's delta (ControlPeriod/p).
type plan struct {
	valid      bool
	origin     time.Time
	p          time.Duration
	deltaScale float64
	n          int
	begin, end int
	y          []float64
	seq        uint64
}

// locate returns the step j and the fraction u ∈ [0, 1) of it at t, and
// whether the plan covers t.
func (pl *plan) locate(t time.Time) (j int, u float64, ok bool) {
	if !pl.valid {
		return 0, 0, false
	}
	dt, p := t.Sub(pl.origin), pl.p
	if dt < 0 {
		return 0, 0, false
	}
	q := dt / p
	if q < time.Duration(pl.begin) || q >= time.Duration(pl.end) {
		return 0, 0, false
	}
	return int(q), float64(dt-q*p) / float64(p), true
}

// sampleAt is like locate but accepts any t within the samples before the
// plan's end (including the steps before begin).
func (pl *plan) sampleAt(t time.Time) (j int, u float64, ok bool) {
	if !pl.valid {
		return 0, 0, false
	}
	dt, p := t.Sub(pl.origin), pl.p
	if dt < 0 || dt/p >= time.Duration(pl.end) {
		return 0, 0, false
	}
	q := dt / p
	return int(q), float64(dt-q*p) / float64(p), true
}

// hermite evaluates dimension d of an absolute plan at step j + u: the
// cubic Hermite through samples j and j+1 with Catmull-Rom tangents
// (y[j+1] − y[j−1])/2, one-sided at the first sample and zero at the last
// (where the plan comes to rest), so the curve is C1 across steps.
func (pl *plan) hermite(j int, u float64, d, D int) float64 {
	y := pl.y
	y0 := y[j*D+d]
	if u == 0 || j+1 >= pl.n {
		return y0
	}
	y1 := y[(j+1)*D+d]
	var m0, m1 float64
	if j > 0 {
		m0 = 0.5 * (y1 - y[(j-1)*D+d])
	} else {
		m0 = y1 - y0
	}
	if j+2 < pl.n {
		m1 = 0.5 * (y[(j+2)*D+d] - y0)
	}
	u2 := u * u
	u3 := u2 * u
	return (2*u3-3*u2+1)*y0 + (u3-2*u2+u)*m0 + (3*u2-2*u3)*y1 + (u3-u2)*m1
}

// chunkSlot is one stored chunk (ensemble mode).
type chunkSlot struct {
	a     []float64
	h     int
	start int64 // step index on the ensemble grid of action 0
	seq   uint64
}

// Scheduler turns chunks into one setpoint per controller tick. It is not
// safe for concurrent use: the control loop's tick goroutine owns it.
// Counters (Stats) may be read from any goroutine.
//
// Time model: action k of a chunk is the setpoint at the start of policy
// step k (for absolute dims the curve passes through it there and heads for
// action k+1 during the step; delta dims spread it over the step; binary
// dims hold it). In replan mode step 0 starts at the tick the chunk is
// pushed, or, when it comes while the one before still runs (requested
// SetLead early), where that one ends — nothing is skipped; in
// ensemble and async modes step 0 starts at the chunk's ObsTime, so the
// part of a late chunk that is already in the past is skipped (async: the
// step in progress at its arrival is already the new chunk's, blended, and
// its delta dims are reanchored, see reanchor); a chunk all in the past is
// expired: dropped and counted.
//
// Continuity: within what is being executed, absolute dims are C1 (the
// curve starts with a one-sided tangent and comes to rest at a chunk's
// last action). Where the executed samples change — a new chunk in replan
// mode, a chunk arriving mid-step in the other modes, a hold after motion
// — position or velocity may step: async blending and ensemble averaging
// keep such steps small, and the safety gate (MaxStep, later velocity and
// acceleration bounds) limits what reaches the robot.
type Scheduler struct {
	mode        Mode
	d, maxH     int
	kinds       []safety.Kind
	p           time.Duration // the policy's StepPeriod
	ctl         time.Duration // ControlPeriod
	maxLag      float64       // MaxLagSteps; ≤ 0: never slow down
	replanSteps int
	threshold   int
	blend       int
	capSteps    int
	guideBeyond int

	plans [2]plan
	cur   int

	hold0   []float64
	last    []float64
	lastSeq uint64

	haveNewest bool
	newestSeq  uint64
	newestObs  time.Time

	pending   bool
	haveReq   bool
	reqOrigin time.Time
	nextReq   time.Time
	// lead: how long before a chunk is needed its request goes out (the
	// expected inference latency; SetLead).
	lead time.Duration
	// queued (replan): plans[1-cur] is the next chunk, already here,
	// starting where the executing one ends (at its origin).
	queued bool

	// ensemble mode
	slots       []chunkSlot
	head, count int
	haveGrid    bool
	grid        time.Time
	weights     []float64

	// cum sums the delta dims' emitted values (a whole step's ticks sum
	// to its action); reqs logs it at the last requests (Requested), so
	// that Push knows how far the arm moved between a chunk's observation
	// and its arrival (async, rtc and ensemble reanchor delta dims by it).
	cum  []float64
	reqs reqLog

	// playP is the executing plan's period (PlayPeriod), for readers on
	// other goroutines.
	playP atomic.Int64

	accepted, stale, expired, invalid, skipped, evicted, slowTicks atomic.Uint64
}

// NewScheduler allocates all storage for conf (after WithDefaults): Push
// and Tick allocate nothing afterwards.
func NewScheduler(conf SchedulerConf) (*Scheduler, error) {
	conf = conf.WithDefaults()
	if err := conf.Validate(); err != nil {
		return nil, err
	}
	d := len(conf.Kinds)
	s := &Scheduler{
		mode:        conf.Mode,
		d:           d,
		maxH:        conf.MaxH,
		kinds:       append([]safety.Kind(nil), conf.Kinds...),
		p:           conf.StepPeriod,
		ctl:         conf.ControlPeriod,
		maxLag:      conf.MaxLagSteps,
		replanSteps: conf.ReplanSteps,
		threshold:   conf.AsyncThreshold,
		blend:       conf.BlendSteps,
		guideBeyond: conf.GuideBeyond,
		capSteps:    conf.MaxH + 6, // ensemble: 2 steps before now, ≤ 2 after, then H
		hold0:       make([]float64, d),
		last:        make([]float64, d),
		cum:         make([]float64, d),
		reqs:        newReqLog(d),
	}
	copy(s.hold0, conf.Hold)
	copy(s.last, s.hold0)
	for i := range s.plans {
		s.plans[i].y = make([]float64, s.capSteps*d)
	}
	s.playP.Store(int64(s.p))
	if s.mode == ModeEnsemble {
		k := conf.MaxH + 1
		s.slots = make([]chunkSlot, k)
		for i := range s.slots {
			s.slots[i].a = make([]float64, conf.MaxH*d)
		}
		s.weights = make([]float64, k)
		for i := range s.weights {
			s.weights[i] = math.Exp(-conf.EnsembleM * float64(i))
		}
	}
	return s, nil
}

// Dim returns the action dimension D.
func (s *Scheduler) Dim() int { return s.d }

// Mode returns the scheduling mode.
func (s *Scheduler) Mode() Mode { return s.mode }

// Stats returns the counters; safe from any goroutine.
func (s *Scheduler) Stats() SchedulerStats {
	return SchedulerStats{
		Accepted:     s.accepted.Load(),
		Stale:        s.stale.Load(),
		Expired:      s.expired.Load(),
		Invalid:      s.invalid.Load(),
		SkippedSteps: s.skipped.Load(),
		Evicted:      s.evicted.Load(),
		SlowTicks:    s.slowTicks.Load(),
	}
}

// Reset forgets every chunk, request and emitted value (a new episode);
// the counters keep counting.
func (s *Scheduler) Reset() {
	s.Drop()
	copy(s.last, s.hold0)
	s.lastSeq = 0
	s.haveNewest, s.newestSeq, s.newestObs = false, 0, time.Time{}
}

// Drop forgets every chunk and the outstanding request but keeps the last
// emitted values (what a hold holds) and the newest chunk accepted (so a
// reply to an older observation is still refused): the loop drops its
// plan this way when an input goes stale, and motion then resumes only
// from a chunk pushed afterwards.
func (s *Scheduler) Drop() {
	s.plans[0].valid, s.plans[1].valid = false, false
	s.playP.Store(int64(s.p))
	s.queued = false
	s.pending, s.haveReq = false, false
	s.reqs.clear()
	s.head, s.count, s.haveGrid = 0, 0, false
}

// SetLead sets how long before a chunk is needed the request for it goes
// out: the loop sets the inference latency it expects, so the chunk is
// there when the one executing ends (NeedInference looks lead ahead).
// Negative values count as 0.
func (s *Scheduler) SetLead(d time.Duration) { s.lead = max(d, 0) }

// Lead returns the lead SetLead set.
func (s *Scheduler) Lead() time.Duration { return s.lead }

// Push gives the scheduler a chunk that arrived at now (the current tick).
// The chunk is copied into preallocated storage, so c may be reused as
// soon as Push returns. Push also answers the outstanding request (see
// Requested), whatever its outcome. It returns ErrStale, ErrExpired or an
// error wrapping ErrInvalidChunk when the chunk is rejected; a rejected
// chunk never changes what is executing.
func (s *Scheduler) Push(now time.Time, c *efferent.Chunk) error {
	s.pending = false
	if err := s.check(now, c); err != nil {
		s.invalid.Add(1)
		return err
	}
	if s.haveNewest && ((c.Seq != 0 && s.newestSeq != 0 && c.Seq <= s.newestSeq) || c.ObsTime.Before(s.newestObs)) {
		s.stale.Add(1)
		return ErrStale
	}
	var ok bool
	switch s.mode {
	case ModeEnsemble:
		ok = s.pushEnsemble(now, c)
	case ModeAsync, ModeRTC:
		ok = s.pushAsync(now, c)
	default:
		s.pushReplan(now, c)
		ok = true
	}
	if !ok {
		s.expired.Add(1)
		return ErrExpired
	}
	s.haveNewest = true
	if c.Seq != 0 {
		s.newestSeq = c.Seq
	}
	if c.ObsTime.After(s.newestObs) {
		s.newestObs = c.ObsTime
	}
	s.accepted.Add(1)
	return nil
}

func (s *Scheduler) check(now time.Time, c *efferent.Chunk) error {
	if c == nil {
		return fmt.Errorf("%w: nil", ErrInvalidChunk)
	}
	if c.D != s.d {
		return fmt.Errorf("%w: seq %d has D = %d, want %d", ErrInvalidChunk, c.Seq, c.D, s.d)
	}
	if c.H < 1 || c.H > s.maxH {
		return fmt.Errorf("%w: seq %d has H = %d, want 1..%d (MaxH)", ErrInvalidChunk, c.Seq, c.H, s.maxH)
	}
	if len(c.Actions) != c.H*c.D {
		return fmt.Errorf("%w: seq %d has %d action values, want H·D = %d", ErrInvalidChunk, c.Seq, len(c.Actions), c.H*c.D)
	}
	if c.StepPeriod != 0 && c.StepPeriod != s.p {
		return fmt.Errorf("%w: seq %d has step period %v, the scheduler runs at %v", ErrInvalidChunk, c.Seq, c.StepPeriod, s.p)
	}
	if s.mode != ModeReplan {
		if c.ObsTime.IsZero() {
			return fmt.Errorf("%w: seq %d has no ObsTime (needed to align it in %s mode)", ErrInvalidChunk, c.Seq, s.mode)
		}
		if ahead := c.ObsTime.Sub(now); ahead > s.p {
			return fmt.Errorf("%w: seq %d has ObsTime %v ahead of now", ErrInvalidChunk, c.Seq, ahead)
		}
	}
	for i, v := range c.Actions {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: seq %d: action %d, dim %d is %v", ErrInvalidChunk, c.Seq, i/c.D, i%c.D, v)
		}
	}
	return nil
}

// pushReplan starts c at now, or, when it arrives while the executing
// chunk still runs (it was requested early, SetLead), queues it to start
// exactly where that one ends: execute-then-replan without a held tick.
func (s *Scheduler) pushReplan(now time.Time, c *efferent.Chunk) {
	s.advance(now)
	cur := &s.plans[s.cur]
	origin := now
	if _, _, ok := cur.locate(now); ok {
		origin = cur.origin.Add(time.Duration(cur.end) * cur.p)
	}
	nw := &s.plans[1-s.cur]
	s.setPeriod(nw, s.p)
	copy(nw.y, c.Actions)
	nw.origin, nw.n, nw.begin, nw.end = origin, c.H, 0, min(s.replanSteps, c.H)
	nw.seq, nw.valid = c.Seq, true
	if origin.After(now) {
		s.queued = true
		return
	}
	s.queued = false
	s.cur = 1 - s.cur
}

// advance switches to the queued chunk once its start has come.
func (s *Scheduler) advance(now time.Time) {
	if s.queued && !now.Before(s.plans[1-s.cur].origin) {
		s.cur, s.queued = 1-s.cur, false
	}
}

// pushAsync aligns c by its ObsTime and blends it into the rest of the
// current plan. It reports false when all of c is in the past.
func (s *Scheduler) pushAsync(now time.Time, c *efferent.Chunk) bool {
	e := max(now.Sub(c.ObsTime), 0)
	p := s.playPeriod()
	if e/p >= time.Duration(c.H) {
		return false
	}
	kCur := int(e / p) // the step in progress at now; 0..kCur−1 are over
	old, nw := &s.plans[s.cur], &s.plans[1-s.cur]
	D := s.d
	for k := range c.H {
		row, a := nw.y[k*D:(k+1)*D], c.Actions[k*D:(k+1)*D]
		oj, ou, ok := old.sampleAt(c.ObsTime.Add(time.Duration(k) * p))
		if !ok {
			copy(row, a)
			continue
		}
		w := asyncWeight(k, kCur, s.blend)
		for d := range D {
			o := old.y[oj*D+d]
			if s.kinds[d] == safety.Absolute {
				o = old.hermite(oj, ou, d, D)
			}
			switch {
			case w == 0:
				row[d] = o
			case w == 1:
				row[d] = a[d]
			case s.kinds[d] == safety.Binary:
				if w >= 0.5 {
					row[d] = a[d]
				} else {
					row[d] = o
				}
			default:
				row[d] = o + w*(a[d]-o)
			}
		}
	}
	s.reanchor(nw.y, c, e, p, kCur, nw.y[kCur*D:(kCur+1)*D])
	s.setPeriod(nw, p)
	nw.origin, nw.n, nw.begin, nw.end = c.ObsTime, c.H, kCur, c.H
	nw.seq, nw.valid = c.Seq, true
	s.cur = 1 - s.cur
	s.playP.Store(int64(p))
	s.skipped.Add(uint64(kCur))
	s.queued = false
	return true
}

// playPeriod is the period a chunk pushed now plays at (async and rtc):
// the policy's StepPeriod, or, when the expected latency (the lead) spans
// more than MaxLagSteps of it, lead/MaxLagSteps rounded up to whole
// controller ticks (so that a step's ticks still sum to its delta
// exactly): the arm then advances at most MaxLagSteps of a chunk while
// the next one is inferred.
func (s *Scheduler) playPeriod() time.Duration {
	if s.maxLag <= 0 || float64(s.lead) <= s.maxLag*float64(s.p) {
		return s.p
	}
	p := time.Duration(math.Ceil(float64(s.lead) / s.maxLag))
	return (p + s.ctl - 1) / s.ctl * s.ctl
}

// setPeriod sets the period pl plays at.
func (s *Scheduler) setPeriod(pl *plan, p time.Duration) {
	pl.p, pl.deltaScale = p, float64(s.ctl)/float64(p)
}

// PlayPeriod returns the period the executing chunk plays at: the
// policy's StepPeriod unless async or rtc slowed it down (MaxLagSteps).
// Safe from any goroutine.
func (s *Scheduler) PlayPeriod() time.Duration { return time.Duration(s.playP.Load()) }

// reanchor (delta dims) makes up for the motion between c's observation
// and its arrival e later. c's delta actions move the arm from where it
// was observed; by the time c arrives the arm has moved by what was
// executed since (the old chunk's actions, the ensemble's, or nothing
// while holding), not by c's own actions 0 … kCur−1 (and the elapsed part
// of step kCur) that are skipped. Without this, a delta chunk executed
// from its aligned index lands off by that difference — the closed loop
// overshoots at any latency (measured, async on spatial at 50 ms: 0–1 of
// 20 without, 13–17 with). The difference (c's planned displacement up
// to now − the executed one) is added to dst's row for the first whole
// step executed from c (kCur, or kCur+1 when c arrives mid-step), so
// that the arm is back on c's planned path at that step's end. dst holds
// c's steps as rows (async: the blended plan; ensemble: c's stored
// actions); rest is the row the remainder of step kCur executes when c
// arrives mid-step (async: the plan's; nil: c's own); p is the period c
// plays at. It needs the executed motion since the observation, known only
// when the chunk answers a request made by Requested (the loop's case); a
// chunk pushed without one is not reanchored.
func (s *Scheduler) reanchor(dst []float64, c *efferent.Chunk, e, p time.Duration, kCur int, rest []float64) {
	at, ok := s.reqs.at(c.ObsTime)
	if !ok || e <= 0 || kCur >= c.H {
		return
	}
	k1, frac := kCur, float64(e-time.Duration(kCur)*p)/float64(p)
	if frac > 0 {
		k1++ // the step in progress is partly over: correct the next one
	}
	if k1 >= c.H {
		return
	}
	D := s.d
	for d, k := range s.kinds {
		if k != safety.Delta {
			continue
		}
		var planned float64
		for j := range kCur {
			planned += c.Actions[j*D+d]
		}
		planned += frac * c.Actions[kCur*D+d]
		if frac > 0 && rest != nil {
			// the rest of step kCur is executed from rest, not c
			planned += (1 - frac) * (c.Actions[kCur*D+d] - rest[d])
		}
		dst[k1*D+d] += planned - (s.cum[d] - at[d])
	}
}

// asyncWeight is the new chunk's blend weight at its step k when the step
// in progress at its arrival is kCur and the blend lasts b steps: 0 before
// kCur (past knots, kept only for the tangent of the step in progress),
// then (j+1)/(b+1) for the j-th executed step j = k − kCur < b, then 1 for
// every j ≥ b. So the step in progress already moves towards the new chunk,
// the weight rises strictly, and from b steps after the arrival on the
// plan is the new chunk exactly (b ≤ 0: from the step in progress).
func asyncWeight(k, kCur, b int) float64 {
	j := k - kCur
	switch {
	case j < 0:
		return 0
	case b <= 0 || j >= b:
		return 1
	default:
		return float64(j+1) / float64(b+1)
	}
}

// pushEnsemble stores c and recomputes the ensembled samples of every step
// from the one in progress on. It reports false when all of c is in the
// past.
func (s *Scheduler) pushEnsemble(now time.Time, c *efferent.Chunk) bool {
	if !s.haveGrid {
		s.grid, s.haveGrid = c.ObsTime, true
	}
	P, D, K := s.p, s.d, len(s.slots)
	start := divRound(c.ObsTime.Sub(s.grid), P)
	sCur := divFloor(now.Sub(s.grid), P)
	if start+int64(c.H) <= sCur {
		return false
	}
	for s.count > 0 {
		sl := &s.slots[s.head]
		if sl.start+int64(sl.h) > sCur {
			break
		}
		s.head, s.count = (s.head+1)%K, s.count-1
	}
	if s.count == K {
		s.head, s.count = (s.head+1)%K, s.count-1
		s.evicted.Add(1)
	}
	sl := &s.slots[(s.head+s.count)%K]
	s.count++
	copy(sl.a, c.Actions)
	sl.h, sl.start, sl.seq = c.H, start, c.Seq
	if e := now.Sub(c.ObsTime); e > 0 {
		s.reanchor(sl.a, c, e, P, int(e/P), nil)
	}

	old, nw := &s.plans[s.cur], &s.plans[1-s.cur]
	p0 := sCur - 2 // two samples before the step in progress, for its tangent
	maxEnd := sCur + 1
	for r := range s.count {
		sl := &s.slots[(s.head+r)%K]
		maxEnd = max(maxEnd, sl.start+int64(sl.h))
	}
	maxEnd = min(maxEnd, p0+int64(s.capSteps))
	first := int64(-1)
	for st := sCur; st < maxEnd; st++ {
		row := nw.y[(st-p0)*int64(D) : (st-p0+1)*int64(D)]
		clear(row)
		var wsum float64
		i := 0
		for r := range s.count {
			sl := &s.slots[(s.head+r)%K]
			k := st - sl.start
			if k < 0 || k >= int64(sl.h) {
				continue
			}
			w := s.weights[i]
			i++
			wsum += w
			a := sl.a[k*int64(D) : (k+1)*int64(D)]
			for d := range D {
				row[d] += w * a[d]
			}
		}
		switch {
		case i > 0:
			inv := 1 / wsum
			for d := range D {
				row[d] *= inv
			}
			if first < 0 {
				first = st
			}
		case first >= 0: // a gap no chunk predicts: carry the last step
			copy(row, nw.y[(st-p0-1)*int64(D):(st-p0)*int64(D)])
		}
	}
	if first < 0 { // unreachable: c itself covers a step in the window
		return false
	}
	firstRow := nw.y[(first-p0)*int64(D) : (first-p0+1)*int64(D)]
	var oldP0 int64
	if old.valid {
		oldP0 = divFloor(old.origin.Sub(s.grid), P)
	}
	for st := p0; st < first; st++ {
		row := nw.y[(st-p0)*int64(D) : (st-p0+1)*int64(D)]
		if k := st - oldP0; old.valid && st < sCur && k >= 0 && k < int64(old.n) {
			copy(row, old.y[k*int64(D):(k+1)*int64(D)])
		} else {
			copy(row, firstRow)
		}
	}
	s.setPeriod(nw, P)
	nw.origin = s.grid.Add(time.Duration(p0) * P)
	nw.n, nw.begin, nw.end = int(maxEnd-p0), int(first-p0), int(maxEnd-p0)
	nw.seq, nw.valid = c.Seq, true
	s.cur = 1 - s.cur
	s.queued = false
	return true
}

// Tick fills sp with the setpoint for now: sp.Values is reused (allocated
// only if its capacity is below D), so Tick allocates nothing. When no
// chunk covers now, sp.Hold is set and Values are the hold values: the
// last emitted value for absolute and binary dims, 0 for delta dims.
func (s *Scheduler) Tick(now time.Time, sp *efferent.Setpoint) {
	D := s.d
	if cap(sp.Values) < D {
		sp.Values = make([]float64, D)
	}
	vals := sp.Values[:D]
	sp.Values = vals
	sp.Time = now
	sp.HoldReason = ""
	s.advance(now)
	pl := &s.plans[s.cur]
	j, u, ok := pl.locate(now)
	if !ok {
		for d, k := range s.kinds {
			if k == safety.Delta {
				vals[d] = 0
			} else {
				vals[d] = s.last[d]
			}
		}
		sp.Hold, sp.Seq = true, s.lastSeq
		return
	}
	for d, k := range s.kinds {
		switch k {
		case safety.Absolute:
			vals[d] = pl.hermite(j, u, d, D)
		case safety.Delta:
			vals[d] = pl.y[j*D+d] * pl.deltaScale
			s.cum[d] += vals[d] // a whole step's ticks sum to its action
		default:
			vals[d] = pl.y[j*D+d]
		}
	}
	if pl.p != s.p {
		s.slowTicks.Add(1)
	}
	copy(s.last, vals)
	s.lastSeq = pl.seq
	sp.Hold, sp.Seq = false, pl.seq
}

// Covers reports whether a chunk covers now (Tick would not hold), the
// executing one or the one queued after it.
func (s *Scheduler) Covers(now time.Time) bool {
	if _, _, ok := s.plans[s.cur].locate(now); ok {
		return true
	}
	if !s.queued {
		return false
	}
	_, _, ok := s.plans[1-s.cur].locate(now)
	return ok
}

// RemainingSteps returns how many policy steps of the executing plan are
// not finished at now, counting the one in progress (0 when none).
func (s *Scheduler) RemainingSteps(now time.Time) int {
	pl := &s.plans[s.cur]
	if s.queued && !now.Before(s.plans[1-s.cur].origin) {
		pl = &s.plans[1-s.cur]
	}
	if !pl.valid {
		return 0
	}
	dt := now.Sub(pl.origin)
	if dt < 0 {
		return pl.end - pl.begin
	}
	q := dt / pl.p
	if q >= time.Duration(pl.end) {
		return 0
	}
	return pl.end - max(int(q), pl.begin)
}

// NeedInference says whether the loop should request an inference (a new
// observation) at now. Ensemble, async and rtc look SetLead's lead ahead,
// so that the chunk is there when it is needed (at = now + lead):
//
//   - replan: no request outstanding, no chunk queued, and no chunk covers
//     now + min(lead, StepPeriod/ReplanLookaheadDiv) (the ReplanSteps
//     actions of the last chunk are done, or all but a tenth of a step);
//   - ensemble: a new policy step begins by at since the last request (one
//     request per step, whether or not an earlier one is outstanding: a
//     loop whose inference is busy counts the request as dropped);
//   - async and rtc: no request outstanding and RemainingSteps(now) ≤
//     AsyncThreshold, or nothing left at at.
//
// After requesting, call Requested; when the request fails before reaching
// the policy, or the inference fails, call Abandon.
func (s *Scheduler) NeedInference(now time.Time) bool {
	s.advance(now)
	at := now.Add(s.lead)
	switch s.mode {
	case ModeEnsemble:
		return !s.haveReq || !at.Before(s.nextReq)
	case ModeAsync, ModeRTC:
		// The threshold already asks early; the lead matters only when
		// the latency outlasts it.
		return !s.pending && (s.RemainingSteps(now) <= s.threshold || s.RemainingSteps(at) == 0)
	default:
		// Execute, then replan: the next observation is taken when the
		// chunk's actions are done, and the robot holds still while it is
		// inferred, so the chunk answers the state it starts from. Asked
		// early by the whole latency, it would start from a state the
		// latency made stale (spatial+object with efferent-tiny: 55 % at
		// 50 ms against 80 % at 0; none at 150 ms). It looks ahead by at
		// most a tenth of a step (ReplanLookahead), which hides a GPU's
		// few milliseconds at 1 kHz; hiding longer latencies is what
		// async and rtc are for.
		return !s.pending && !s.queued && !s.Covers(now.Add(min(s.lead, s.p/ReplanLookaheadDiv)))
	}
}

// Requested records that an inference was requested at now: the request
// is outstanding until Push or Abandon, and (ensemble) the next one is due
// at the next policy step (lead ahead, as NeedInference looks).
func (s *Scheduler) Requested(now time.Time) {
	s.pending = true
	s.reqs.add(now, s.cum)
	at := now.Add(s.lead)
	if !s.haveReq {
		s.reqOrigin, s.haveReq = at, true
	}
	k := divFloor(at.Sub(s.reqOrigin), s.p) + 1
	s.nextReq = s.reqOrigin.Add(time.Duration(k) * s.p)
}

// Abandon clears the outstanding request (it was dropped, or inference
// failed), so that NeedInference may ask again.
func (s *Scheduler) Abandon() { s.pending = false }

// Pending reports whether a request is outstanding.
func (s *Scheduler) Pending() bool { return s.pending }

func divFloor(d, p time.Duration) int64 {
	q := d / p
	if d%p != 0 && d < 0 {
		q--
	}
	return int64(q)
}

func divRound(d, p time.Duration) int64 { return divFloor(d+p/2, p) }
