package viewer

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/efferent/efferent"
)

// The producer side: called from the control loop's goroutines (the tick,
// the inference). Each call copies what it is given into a slot sized at
// New and returns; none allocates once a camera has been seen, none waits
// for the hub or a browser (a slot the hub is reading is skipped and the
// skip counted).

// frameSlot is one camera's latest frame.
type frameSlot struct {
	name atomic.Pointer[string] // set once, on the camera's first frame
	at   atomic.Int64           // unix ns of the last copy in (rate limit)
	mu   sync.Mutex             // guards img and seq
	img  efferent.Image
	seq  uint64
	// hub side, hub goroutine only
	taken   uint64
	scratch efferent.Image
	encoded uint64 // frames encoded
}

// maxChunkValues bounds the chunk the viewer keeps (H×D); longer chunks
// are cut to whole actions.
const maxChunkValues = 4096

// latencies kept for the inference latency percentiles.
const latencyWindow = 64

// chunkSlot is the latest chunk and the inference latencies.
type chunkSlot struct {
	mu         sync.Mutex
	actions    []float64 // cap maxChunkValues
	h, d       int
	seq        uint64
	obsTime    int64
	stepPeriod time.Duration
	model      string
	n          uint64 // chunks seen
	lat        [latencyWindow]time.Duration
	last       time.Duration
}

// obsSlot is the latest observation's instruction and state.
type obsSlot struct {
	mu     sync.Mutex
	prompt string
	state  [MaxDim]float64
	n      int
	seq    uint64
}

// Observation shows obs's camera frames (at most Conf.CameraFPS per
// camera: frames arriving sooner are not copied), its instruction and its
// state. Call it where the policy receives observations (Policy does).
func (v *Viewer) Observation(obs *efferent.Observation) {
	now := time.Now().UnixNano()
	for key, im := range obs.Images {
		v.frame(key, im, now)
	}
	if v.obs.mu.TryLock() {
		v.obs.prompt = obs.Prompt
		v.obs.n = copy(v.obs.state[:], obs.State)
		v.obs.seq = obs.Seq
		v.obs.mu.Unlock()
	}
}

// Frame shows a camera the policy does not see (a simulator's view for
// people, such as the legged base's chase camera), under its name key, as
// Observation shows the policy's. draw fills the frame: it is called only
// when the page would show a new one (at most Conf.CameraFPS), so a
// caller renders nothing while no one watches or between frames.
func (v *Viewer) Frame(key string, draw func(dst *efferent.Image) error) error {
	now := time.Now().UnixNano()
	s := v.frameSlot(key)
	if s == nil {
		v.framesDropped.Add(1)
		return nil
	}
	if now-s.at.Load() < v.frameEvery {
		return nil
	}
	if !v.watching() {
		s.at.Store(now) // asked again in a frame's time, not on every call
		return nil
	}
	if !s.mu.TryLock() {
		v.framesDropped.Add(1)
		return nil
	}
	defer s.mu.Unlock()
	if err := draw(&s.img); err != nil {
		return err
	}
	s.seq++
	s.at.Store(now)
	v.framesIn.Add(1)
	return nil
}

// frame copies one camera's image into its slot, unless the page would
// not show it yet or the hub is taking the previous one.
func (v *Viewer) frame(key string, im efferent.Image, now int64) {
	s := v.frameSlot(key)
	if s == nil {
		v.framesDropped.Add(1)
		return
	}
	if now-s.at.Load() < v.frameEvery {
		return // the hub would not send it yet
	}
	if !s.mu.TryLock() {
		v.framesDropped.Add(1) // the hub is taking the previous one
		return
	}
	s.img.CopyFrom(im)
	s.seq++
	s.at.Store(now)
	s.mu.Unlock()
	v.framesIn.Add(1)
}

// frameSlot returns key's slot, claiming a free one on the camera's first
// frame (which allocates, once); nil when every slot is taken.
func (v *Viewer) frameSlot(key string) *frameSlot {
	for i := range v.frames {
		if p := v.frames[i].name.Load(); p == nil {
			break
		} else if *p == key {
			return &v.frames[i]
		}
	}
	v.claimMu.Lock()
	defer v.claimMu.Unlock()
	for i := range v.frames {
		s := &v.frames[i]
		p := s.name.Load()
		if p == nil {
			k := key
			s.name.Store(&k)
			return s
		}
		if *p == key {
			return s
		}
	}
	return nil
}

// Chunk shows the chunk the policy answered and how long it took
// (latency; 0 if unknown).
func (v *Viewer) Chunk(c *efferent.Chunk, latency time.Duration) {
	s := &v.chunk
	if !s.mu.TryLock() {
		v.chunksDropped.Add(1)
		return
	}
	h, d := c.H, c.D
	if d <= 0 || h <= 0 || len(c.Actions) < h*d {
		h, d = 0, 0
	} else if h*d > maxChunkValues {
		h = maxChunkValues / d
	}
	s.actions = s.actions[:h*d]
	copy(s.actions, c.Actions)
	s.h, s.d, s.seq, s.model, s.stepPeriod = h, d, c.Seq, c.Model, c.StepPeriod
	s.obsTime = 0
	if !c.ObsTime.IsZero() {
		s.obsTime = c.ObsTime.UnixNano()
	}
	s.lat[s.n%latencyWindow] = latency
	s.last = latency
	s.n++
	s.mu.Unlock()
}

// Tick shows one gated setpoint and its verdict. Call it from one
// goroutine (the control loop's OnTick); when the hub has fallen behind by
// Conf.TickBuffer ticks, the tick is dropped and counted.
func (v *Viewer) Tick(sp *efferent.Setpoint, vd efferent.Verdict) {
	v.ticks.Add(1)
	if int(vd.Kind) < len(v.verdicts) {
		v.verdicts[vd.Kind].Add(1)
	}
	if !v.ring.push(sp, vd) {
		v.ticksDropped.Add(1)
	}
}

// Event shows an episode event (it allocates: events are rare). When the
// hub's event queue is full, it is dropped and counted.
func (v *Viewer) Event(e Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	select {
	case v.events <- e:
	default:
		v.eventsDropped.Add(1)
	}
}

// Premise shows the false-premise verdict on an instruction: decision
// ok, refuse, clarify or pending; detail says why.
func (v *Viewer) Premise(instruction, decision, detail string) {
	v.Event(Event{Kind: EventPremise, Instruction: instruction, Decision: decision, Detail: detail})
}
