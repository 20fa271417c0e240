package viewer

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/efferent/efferent"
)

// maxHistory is how many episode ends and comparisons a browser that
// connects late is shown.
const maxHistory = 20

// maxSticky bounds what sticky.all returns, and the hello.
const maxSticky = 1 + 3 + maxHistory + 2 + MaxCameras

// sticky is what a browser that connects now is sent before the stream:
// the latest frame of each camera, chunk, status, event of each kind, and
// the last episodes. Guarded by Viewer.mu.
type sticky struct {
	frames  [MaxCameras]*outMsg
	chunk   *outMsg
	status  *outMsg
	latest  map[string]outMsg // by event kind
	history []outMsg          // episode ends and comparisons, oldest first
}

func (s *sticky) all() []outMsg {
	var out []outMsg
	for _, k := range []string{EventInstruction, EventPremise, EventEpisodeStart} {
		if m, ok := s.latest[k]; ok {
			out = append(out, m)
		}
	}
	out = append(out, s.history...)
	for _, m := range []*outMsg{s.status, s.chunk} {
		if m != nil {
			out = append(out, *m)
		}
	}
	for _, m := range s.frames {
		if m != nil {
			out = append(out, *m)
		}
	}
	return out
}

// hubState is the hub goroutine's own.
type hubState struct {
	// verdict stream: the last tick's verdict
	kind   efferent.VerdictKind
	reason string
	dim    int
	seen   bool
	// chunk
	chunkN    uint64
	actions   []float64
	latencies []time.Duration
	lastLat   time.Duration
	// status rates, over the last rateWindow (a 250 ms period holds 5
	// ticks at 20 Hz: one more or less would read as ±20 %)
	samples []rateSample
}

// rateWindow is what the controller rate and camera frame rates are
// measured over.
const rateWindow = 2 * time.Second

type rateSample struct {
	at     time.Time
	ticks  uint64
	frames [MaxCameras]uint64
}

// hub owns encoding and broadcasting: every SendHz it drains the ticks,
// encodes the new frames and the new chunk; every StatusHz it sends the
// status; events go out as they come.
func (v *Viewer) hub() {
	defer close(v.hubDone)
	tk := time.NewTicker(time.Duration(float64(time.Second) / v.conf.SendHz))
	defer tk.Stop()
	statusEvery := max(1, int(math.Round(v.conf.SendHz/v.conf.StatusHz)))
	h := &hubState{actions: make([]float64, 0, maxChunkValues)}
	for n := 0; ; {
		select {
		case <-v.quit:
			return
		case e := <-v.events:
			v.publishEvent(e)
		case <-tk.C:
			if v.watching() {
				v.sendTicks(h)
				v.sendFrames(h)
				v.sendChunk(h)
			} else {
				// Nobody is watching: nothing is encoded; the latest frame
				// and chunk wait in their slots for the next browser.
				v.ring.drain(func(int, int, *tickEntry) {})
			}
			if n%statusEvery == 0 {
				v.sendStatus(h)
			}
			n++
		}
	}
}

// watching reports whether a browser is connected.
func (v *Viewer) watching() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.clients) > 0
}

// broadcast offers m to every browser, and updates the sticky state in the
// same critical section so that a browser connecting meanwhile misses
// nothing and sees nothing twice.
func (v *Viewer) broadcast(m outMsg, keep func(*sticky)) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if keep != nil {
		keep(&v.sticky)
	}
	for c := range v.clients {
		c.offer(m)
	}
}

func (v *Viewer) publishEvent(e Event) {
	m := eventMessage(e)
	v.broadcast(m, func(s *sticky) {
		switch e.Kind {
		case EventEpisodeEnd, EventComparison:
			s.history = append(s.history, m)
			if len(s.history) > maxHistory {
				s.history = slices.Delete(s.history, 0, len(s.history)-maxHistory)
			}
		default:
			if s.latest == nil {
				s.latest = map[string]outMsg{}
			}
			s.latest[e.Kind] = m
		}
	})
}

// sendTicks drains the ring into one message: every tick's time, hold
// flag, verdict and values (thinned evenly past MaxTicksPerMessage), and
// every change of verdict, which is never thinned.
func (v *Viewer) sendTicks(h *hubState) {
	limit := v.conf.MaxTicksPerMessage
	var t, hold, kind, vals, changes []byte
	stride, kept, nChanges := 1, 0, 0
	n := v.ring.drain(func(i, n int, e *tickEntry) {
		if i == 0 && n > limit {
			stride = (n + limit - 1) / limit
		}
		if !h.seen || e.kind != h.kind || e.reason != h.reason {
			if nChanges > 0 {
				changes = append(changes, ',')
			}
			changes = append(changes, `{"t":`...)
			changes = appendMs(changes, e.t)
			changes = append(changes, `,"kind":"`...)
			changes = append(changes, e.kind.String()...)
			changes = append(changes, `","reason":`...)
			changes = appendJSONString(changes, e.reason)
			changes = append(changes, `,"dim":`...)
			changes = appendInt(changes, e.dim)
			changes = append(changes, '}')
			nChanges++
			h.kind, h.reason, h.dim, h.seen = e.kind, e.reason, e.dim, true
		}
		if i%stride != 0 && i != n-1 {
			return
		}
		if kept > 0 {
			t, hold, kind, vals = append(t, ','), append(hold, ','), append(kind, ','), append(vals, ',')
		}
		kept++
		t = appendMs(t, e.t)
		if e.hold {
			hold = append(hold, '1')
		} else {
			hold = append(hold, '0')
		}
		kind = appendInt(kind, int(e.kind))
		vals = append(vals, '[')
		for d := range e.n {
			if d > 0 {
				vals = append(vals, ',')
			}
			vals = appendNum(vals, e.v[d])
		}
		vals = append(vals, ']')
	})
	if n == 0 {
		return
	}
	b := make([]byte, 0, 64+len(t)+len(hold)+len(kind)+len(vals)+len(changes))
	b = append(b, `{"type":"ticks","n":`...)
	b = appendInt(b, n)
	b = append(b, `,"t":[`...)
	b = append(b, t...)
	b = append(b, `],"hold":[`...)
	b = append(b, hold...)
	b = append(b, `],"kind":[`...)
	b = append(b, kind...)
	b = append(b, `],"v":[`...)
	b = append(b, vals...)
	b = append(b, `],"changes":[`...)
	b = append(b, changes...)
	b = append(b, "]}"...)
	v.broadcast(outMsg{data: b}, nil)
}

// sendFrames encodes each camera's frame if a new one came since.
func (v *Viewer) sendFrames(h *hubState) {
	for i := range v.frames {
		s := &v.frames[i]
		name := s.name.Load()
		if name == nil {
			return
		}
		s.mu.Lock()
		if s.seq == s.taken {
			s.mu.Unlock()
			continue
		}
		s.scratch.CopyFrom(s.img)
		s.taken = s.seq
		at := s.at.Load()
		s.mu.Unlock()
		jpg, err := v.conf.EncodeJPEG(s.scratch, v.conf.JPEGQuality)
		if err != nil {
			v.framesDropped.Add(1)
			continue
		}
		s.encoded++
		v.framesSent.Add(1)
		m := frameMessage(frameHeader{Type: "frame", Camera: *name, Seq: s.encoded, W: s.scratch.W, H: s.scratch.H, T: num(ms(at))}, jpg)
		v.broadcast(m, func(st *sticky) { st.frames[i] = &m })
	}
}

// sendChunk sends the latest chunk if a new one came since.
func (v *Viewer) sendChunk(h *hubState) {
	s := &v.chunk
	s.mu.Lock()
	if s.n == h.chunkN {
		s.mu.Unlock()
		return
	}
	h.chunkN = s.n
	h.actions = append(h.actions[:0], s.actions...)
	hh, d, seq, obsTime, step, model := s.h, s.d, s.seq, s.obsTime, s.stepPeriod, s.model
	h.latencies = append(h.latencies[:0], s.lat[:min(s.n, latencyWindow)]...)
	h.lastLat = s.last
	s.mu.Unlock()

	b := make([]byte, 0, 128+len(h.actions)*10)
	b = append(b, `{"type":"chunk","n":`...)
	b = appendInt(b, int(h.chunkN))
	b = append(b, `,"seq":`...)
	b = appendInt(b, int(seq))
	b = append(b, `,"model":`...)
	b = appendJSONString(b, model)
	b = append(b, `,"h":`...)
	b = appendInt(b, hh)
	b = append(b, `,"d":`...)
	b = appendInt(b, d)
	b = append(b, `,"obs_t":`...)
	if obsTime == 0 {
		b = append(b, "null"...)
	} else {
		b = appendMs(b, obsTime)
	}
	b = append(b, `,"step_ms":`...)
	b = appendNum(b, float64(step)/1e6)
	b = append(b, `,"infer_ms":`...)
	b = appendNum(b, float64(h.lastLat)/1e6)
	b = append(b, `,"actions":[`...)
	for t := range hh {
		if t > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		for j := range d {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendNum(b, h.actions[t*d+j])
		}
		b = append(b, ']')
	}
	b = append(b, "]}"...)
	m := outMsg{data: b}
	v.broadcast(m, func(st *sticky) { st.chunk = &m })
}

// sendStatus sends the rates, latencies, counters, drops and the run's
// control state (mode, e-stop, live comparison).
func (v *Viewer) sendStatus(h *hubState) {
	now := time.Now()
	ticks := v.ticks.Load()
	cur := rateSample{at: now, ticks: ticks}
	for i := range v.frames {
		cur.frames[i] = v.frames[i].encoded
	}
	h.samples = append(h.samples, cur)
	for len(h.samples) > 2 && now.Sub(h.samples[1].at) >= rateWindow {
		h.samples = h.samples[1:]
	}
	old := h.samples[0]
	dt := now.Sub(old.at).Seconds()
	st := statusMsg{Type: "status", T: num(ms(now.UnixNano())), Ticks: ticks,
		Verdicts:   verdictCounts{v.verdicts[0].Load(), v.verdicts[1].Load(), v.verdicts[2].Load(), v.verdicts[3].Load()},
		Inferences: h.chunkN,
		Drops: dropCounts{Ticks: v.ticksDropped.Load(), Frames: v.framesDropped.Load(),
			Chunks: v.chunksDropped.Load(), Events: v.eventsDropped.Load()},
		Cameras: []camStatus{}, Clients: []ClientStats{}}
	if dt > 0 {
		st.RateHz = num(float64(ticks-old.ticks) / dt)
	}
	if len(h.latencies) > 0 {
		sorted := slices.Clone(h.latencies)
		slices.Sort(sorted)
		st.InferMs = latencyMs{Last: msOf(h.lastLat), P50: msOf(sorted[(len(sorted)-1)/2]), Max: msOf(sorted[len(sorted)-1])}
	}
	for i := range v.frames {
		s := &v.frames[i]
		name := s.name.Load()
		if name == nil {
			break
		}
		cs := camStatus{Name: *name, Frames: cur.frames[i]}
		if dt > 0 {
			cs.FPS = num(float64(cur.frames[i]-old.frames[i]) / dt)
		}
		st.Cameras = append(st.Cameras, cs)
	}
	v.obs.mu.Lock()
	st.Instruction = v.obs.prompt
	st.State = make([]num, v.obs.n)
	for i := range st.State {
		st.State[i] = num(v.obs.state[i])
	}
	v.obs.mu.Unlock()
	st.Control = v.controlStatus()
	if v.conf.Inputs != nil {
		for _, in := range v.conf.Inputs() {
			st.Inputs = append(st.Inputs, inputStatus{Name: in.Name, AgeMs: msOf(in.Age), MaxAgeMs: msOf(in.MaxAge), Stale: in.Stale})
		}
	}
	v.mu.Lock()
	for c := range v.clients {
		st.Clients = append(st.Clients, c.stats())
	}
	v.mu.Unlock()
	slices.SortFunc(st.Clients, func(a, b ClientStats) int { return int(a.ID - b.ID) })
	m := jsonMsg(st)
	v.broadcast(m, func(s *sticky) { s.status = &m })
}

func (v *Viewer) controlStatus() *controlStatus {
	if v.conf.Teleop == nil && v.conf.EStop == nil {
		return nil
	}
	cs := &controlStatus{}
	if mx := v.conf.Teleop; mx != nil {
		cs.Mode = mx.Mode().String()
		c := mx.Counts()
		ts := &teleopStatus{Driven: c.Driven, Stale: c.Stale, Compared: c.Compared, Skipped: c.Skipped, AgeMs: num(math.NaN())}
		if vals, at := mx.Latest(); vals != nil {
			ts.Last, ts.AgeMs = nums(vals), msOf(v.conf.Now().Sub(at))
		}
		cs.Teleop = ts
		if sum := mx.Summary(); sum.N > 0 {
			cs.Compare = &sum
		}
	}
	if e := v.conf.EStop; e != nil {
		s := e.Status()
		cs.EStop = &estopStatus{Engaged: s.Engaged, Source: s.Source, LatencyMs: msOf(s.Latency), Triggers: s.Triggers, HeldTicks: s.HeldTicks}
	}
	return cs
}

func appendInt(b []byte, i int) []byte { return strconv.AppendInt(b, int64(i), 10) }

func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}
