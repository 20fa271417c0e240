package viewer

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/efferent/efferent/compare"
	"github.com/efferent/efferent/internal/ratelog"
)

// Event kinds.
const (
	EventEpisodeStart = "episode_start"
	EventEpisodeEnd   = "episode_end"
	EventPremise      = "premise"
	// EventInstruction: the instruction changed, or a change was asked for
	// (Detail says when it applies).
	EventInstruction = "instruction"
	// EventComparison: the comparison of the policy with the teleoperator
	// over an episode (Compare).
	EventComparison = "comparison"
)

// Event is something that happened to the run, shown on the page as it
// comes and kept for browsers that connect later (the latest of each
// kind, and the last comparisons).
type Event struct {
	Kind        string
	Time        time.Time
	Episode     int
	Task        string
	Instruction string
	// Decision and Detail: a premise verdict, or free text.
	Decision string
	Detail   string
	// Success and Steps: an episode's end.
	Success *bool
	Steps   int
	// Compare: the comparison summary (EventComparison, EventEpisodeEnd).
	Compare *compare.Summary
}

// Viewer is the hub between a run and the browsers watching it. Create it
// with New, feed it from the control loop (Observation, Chunk, Tick, Event,
// or wrap the policy in Policy), serve Handler, and Close it.
type Viewer struct {
	conf Conf
	// frameEvery is the minimum time between frames of a camera, in ns.
	frameEvery int64

	// producer side
	frames  [MaxCameras]frameSlot
	claimMu sync.Mutex
	chunk   chunkSlot
	obs     obsSlot
	ring    *tickRing
	events  chan Event

	ticks, ticksDropped          atomic.Uint64
	verdicts                     [4]atomic.Uint64
	framesIn, framesDropped      atomic.Uint64
	chunksDropped, eventsDropped atomic.Uint64

	// mu guards clients and sticky: a browser that connects gets the
	// sticky messages and then every broadcast, in order.
	mu      sync.Mutex
	clients map[*client]struct{}
	sticky  sticky
	nextID  int64
	// framesSent counts frames encoded and broadcast.
	framesSent atomic.Uint64

	// refusals bounds the WARN lines of refused requests (guard.go);
	// forbidden, unauthorized and full count every refusal (Stats).
	refusals                      *ratelog.Limiter
	forbidden, unauthorized, full atomic.Uint64

	mux     http.Handler
	quit    chan struct{}
	hubDone chan struct{}
	conns   sync.WaitGroup
	closed  atomic.Bool
}

// New validates conf and starts the hub goroutine (Close stops it).
func New(conf Conf) (*Viewer, error) {
	conf = conf.withDefaults()
	if err := conf.validate(); err != nil {
		return nil, err
	}
	v := &Viewer{
		conf:       conf,
		frameEvery: int64(float64(time.Second) / conf.CameraFPS),
		ring:       newTickRing(conf.TickBuffer),
		events:     make(chan Event, 64),
		clients:    map[*client]struct{}{},
		quit:       make(chan struct{}),
		hubDone:    make(chan struct{}),
		refusals:   ratelog.New(conf.Log, refusalLines, refusalEvery),
	}
	// Allowed a frame slightly early, so that a camera at exactly
	// CameraFPS is not halved by jitter.
	v.frameEvery = v.frameEvery * 9 / 10
	v.chunk.actions = make([]float64, 0, maxChunkValues)
	v.mux = v.routes()
	if !conf.Loopback && conf.Token == "" {
		conf.Log.Warn("viewer: reachable from other machines WITHOUT authentication (AllowNoAuth): anyone who reaches it can take the robot over")
	}
	go v.hub()
	return v, nil
}

// Close disconnects every browser and stops the hub. Producer calls after
// Close are harmless.
func (v *Viewer) Close() error {
	if !v.closed.CompareAndSwap(false, true) {
		return nil
	}
	close(v.quit)
	<-v.hubDone
	v.mu.Lock()
	for c := range v.clients {
		c.stop()
	}
	v.mu.Unlock()
	v.conns.Wait()
	return nil
}

// Handler serves the page at /viewer/, its websocket at /viewer/ws and the
// open e-stop at POST /viewer/estop (paths as given: mount it at
// "/viewer/" and "/viewer" on a mux, or use it as a whole server's handler).
func (v *Viewer) Handler() http.Handler { return v.mux }

// Routes are the Handler's patterns for a server's mux (server.Conf.Routes).
func (v *Viewer) Routes() map[string]http.Handler {
	return map[string]http.Handler{"/viewer/": v.mux, "/viewer": v.mux}
}

// Serve serves the viewer alone on ln until ctx ends (the viewer's own
// listener, when no other server is running).
func (v *Viewer) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: v.mux, ReadHeaderTimeout: 10 * time.Second}
	stop := context.AfterFunc(ctx, func() { _ = srv.Close() })
	defer stop()
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// ClientStats are one browser's counters.
type ClientStats struct {
	ID     int64  `json:"id"`
	Remote string `json:"remote"`
	// Sent messages; Dropped messages that did not fit its queue, among
	// them FramesDropped camera frames.
	Sent          uint64 `json:"sent"`
	Dropped       uint64 `json:"dropped"`
	FramesDropped uint64 `json:"frames_dropped"`
}

// Stats are the viewer's counters.
type Stats struct {
	// Ticks seen, and dropped because the hub was TickBuffer behind.
	Ticks, TicksDropped uint64
	// FramesIn copied from observations; FramesDropped by the producer
	// side (hub busy with the slot, or more than MaxCameras cameras);
	// FramesSent encoded and broadcast.
	FramesIn, FramesDropped, FramesSent uint64
	// ChunksDropped while the hub read the previous one; EventsDropped
	// when the event queue was full.
	ChunksDropped, EventsDropped uint64
	// Refused requests: Forbidden (a Host that is not this machine's
	// without a Token, or a page of another origin), Unauthorized (no
	// or a wrong token), Full (a browser past MaxClients).
	Forbidden, Unauthorized, Full uint64
	Clients                       []ClientStats
}

// Stats returns the counters (any goroutine).
func (v *Viewer) Stats() Stats {
	s := Stats{Ticks: v.ticks.Load(), TicksDropped: v.ticksDropped.Load(),
		FramesIn: v.framesIn.Load(), FramesDropped: v.framesDropped.Load(), FramesSent: v.framesSent.Load(),
		ChunksDropped: v.chunksDropped.Load(), EventsDropped: v.eventsDropped.Load(),
		Forbidden: v.forbidden.Load(), Unauthorized: v.unauthorized.Load(), Full: v.full.Load()}
	v.mu.Lock()
	for c := range v.clients {
		s.Clients = append(s.Clients, c.stats())
	}
	v.mu.Unlock()
	return s
}
