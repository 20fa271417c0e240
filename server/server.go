package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/api"
	"github.com/efferent/efferent/internal/ratelog"
	"github.com/efferent/efferent/policy"
)

// ErrBusy is reported to a client when the model's queue is full.
var ErrBusy = errors.New("busy: the model's request queue is full; retry later")

// ErrClosed is reported when the server shuts down with requests pending.
var ErrClosed = errors.New("server closed")

// ErrTimeout is reported when a request is not answered within
// Conf.RequestTimeout.
var ErrTimeout = errors.New("timeout: the model did not answer within server.request_timeout")

// Server serves one policy over the openpi websocket protocol and REST,
// batching concurrent requests into one model run when the policy can.
type Server struct {
	conf    Conf
	pol     policy.Policy
	meta    policy.Metadata
	spec    api.ObsSpec
	limits  api.Limits
	log     *slog.Logger
	metrics *metrics
	now     func() time.Time

	// truncator counts the policy's cut prompts (nil: it cuts none);
	// truncWarned is set once the first is logged (the worker's).
	truncator   policy.PromptTruncator
	truncWarned bool

	metaFrame []byte
	jobs      chan *job
	// workerDone is closed when the worker has returned: a job submitted
	// after its final drain would otherwise never be answered.
	workerDone chan struct{}

	ln   net.Listener
	http *http.Server

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // worker and connections

	closeOnce sync.Once

	// ready turns true once the worker has warmed the model up; warmErr is
	// the warm-up's failure, if any (set before ready could turn true).
	ready    atomic.Bool
	warmErr  atomic.Pointer[error]
	sessions atomic.Int64 // connection ids handed out
	rate     *limiter     // per-client request rate; nil when off
	// refusals bounds the WARN lines of refused requests (guard.go).
	refusals *ratelog.Limiter
	// pixels is the REST clients' pixel rate per address (a websocket
	// connection has its own bucket); nil when off.
	pixels   *limiter
	budget   *budget
	decoders *decoders    // server.max_decodes, for large images
	resizers *resizerPool // nil: no resizing (no Conf.NewResizer, or a model with resize "none")
	conns    *connLimiter

	// maxBatch is Conf.MaxBatch capped by the policy's; the batch* slices
	// are the worker's scratch of that length (it alone touches them).
	maxBatch  int
	batchJobs []*job
	batchObs  []*efferent.Observation
	batchOut  []*efferent.Chunk
	batchErrs []error
}

// job is one request handed from a connection to the worker. The
// connection waits for done before touching the job (or the frame the
// observation aliases) again, so the two never race.
type job struct {
	obs      efferent.Observation
	chunk    efferent.Chunk
	err      error
	queuedAt time.Time
	deadline time.Time     // the worker skips a job it reaches later than this
	inferDur time.Duration // of the whole batch
	// batchSize is how many jobs ran in that model run.
	batchSize int
	done      chan struct{}
}

// New validates conf (and refuses CheckPremise without a Premise
// checker), binds the listening socket and starts the model worker. The
// server owns pol from now on and closes it in Close. Serve connections
// with Run.
func New(conf Conf, pol policy.Policy, log *slog.Logger) (*Server, error) {
	conf = conf.WithDefaults()
	if err := conf.Validate(); err != nil {
		return nil, err
	}
	if conf.CheckPremise && conf.Premise == nil {
		return nil, errors.New("server.premise: true, but there is no checker (Conf.Premise is nil): " +
			"build one, or set premise: false to serve without false-premise checks")
	}
	if log == nil {
		log = slog.Default()
	}
	meta := pol.Metadata()
	s := &Server{
		conf: conf, pol: pol, meta: meta, log: log, metrics: newMetrics(), now: time.Now,
		spec:       SpecFor(meta, conf.DecodeImage),
		limits:     api.DefaultLimits(),
		jobs:       make(chan *job, conf.QueueSize),
		workerDone: make(chan struct{}),
		rate:       newLimiter(conf.RateLimit, conf.RateBurst),
		refusals:   ratelog.New(log, refusalLines, refusalEvery),
		budget:     newBudget(conf),
		maxBatch:   min(conf.MaxBatch, policy.MaxBatch(pol)),
	}
	// Without a warm-up there is nothing to wait for: ready from the start
	// (not from when the worker goroutine first runs).
	s.ready.Store(conf.SkipWarmup)
	if t, ok := policy.Find[policy.PromptTruncator](pol); ok {
		s.truncator = t
		s.metrics.countTruncations(t)
	}
	s.batchJobs, s.batchObs = make([]*job, s.maxBatch), make([]*efferent.Observation, s.maxBatch)
	s.batchOut, s.batchErrs = make([]*efferent.Chunk, s.maxBatch), make([]error, s.maxBatch)
	var err error
	if s.metaFrame, err = metadataFrame(conf.Metadata, meta); err != nil {
		return nil, fmt.Errorf("server.metadata: %w", err)
	}
	for i, c := range conf.Collectors {
		if err := s.metrics.reg.Register(c); err != nil {
			return nil, fmt.Errorf("server: Conf.Collectors[%d]: %w", i, err)
		}
	}
	s.pixels = newLimiter(conf.MaxPixelRate, s.pixelBurst())
	// A model whose cameras differ in size is resized per camera by its
	// own wrapper (policy.Resizing), in the model's worker.
	if conf.NewResizer != nil && meta.Resize != "none" && meta.CameraSizes == nil {
		// A model whose manifest forbids resizing gets images as sent (and
		// refuses other sizes itself).
		s.resizers = newResizerPool(conf.NewResizer, conf.MaxDecodes+runtime.GOMAXPROCS(0))
	}
	ln, err := net.Listen("tcp", conf.Addr)
	if err != nil {
		return nil, fmt.Errorf("server.addr: %w", err)
	}
	s.conns = newConnLimiter(conf.MaxConnections, conf.MaxConnectionsPerClient, s.metrics, log)
	s.ln = s.conns.wrap(ln)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	mux := http.NewServeMux()
	// Every route but the open e-stop is guarded (guard.go): the Host
	// check without a token, and the origin and body checks of those
	// that change state.
	mux.Handle("GET /healthz", s.guard(guardRead, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("OK\n"))
	})))
	mux.Handle("GET /readyz", s.guard(guardRead, http.HandlerFunc(s.serveReadyz)))
	mux.Handle("GET /metrics", s.guard(guardRead, s.requireAuth(promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))))
	mux.Handle("/act", s.guard(guardJSON, s.requireAuth(http.HandlerFunc(s.serveAct))))
	if conf.EStop != nil {
		mux.HandleFunc("POST /estop", s.serveEStop) // open: stopping is never refused
		mux.Handle("POST /estop/reset", s.guard(guardPost, s.requireAuth(http.HandlerFunc(s.serveEStopReset))))
		mux.Handle("GET /estop", s.guard(guardRead, s.requireAuth(http.HandlerFunc(s.serveEStopStatus))))
	}
	for pattern, h := range conf.Routes {
		mux.Handle(pattern, h) // they guard themselves, as they authenticate
	}
	mux.Handle("/", s.guard(guardWebsocket, s.requireAuth(http.HandlerFunc(s.serveWebsocket))))
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: min(conf.IdleTimeout, 2*time.Minute),
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	s.decoders = s.startDecoders(conf.MaxDecodes)
	s.wg.Add(2)
	go s.worker()
	go func() {
		defer s.wg.Done()
		s.budget.janitor(s.ctx)
	}()
	return s, nil
}

// SpecFor derives the wire observation spec from a policy's metadata;
// decode (nil: Go's decoders) decodes PNG/JPEG camera frames.
func SpecFor(md policy.Metadata, decode func([]byte, int) (efferent.Image, error)) api.ObsSpec {
	return api.ObsSpec{
		DecodeImage:    decode,
		ImageKeys:      md.ImageKeys,
		StateKey:       md.StateKey,
		StateDim:       md.StateDim,
		PromptKey:      md.PromptKey,
		PromptRequired: md.PromptRequired,
		MaxPromptBytes: md.MaxPromptBytes,
		GuideDim:       guideDim(md),
	}
}

// guideDim is the action dim a guide must have when the model reads one
// (real-time chunking), else 0.
func guideDim(md policy.Metadata) int {
	if md.Guides {
		return md.Dim
	}
	return 0
}

// metadataFrame is what the server says first: the configured metadata,
// plus api.MetaRealTimeChunking when the model reads a guide and
// api.MetaMaxLagSteps when its manifest declares a lag tolerance (unless
// the configuration sets those keys itself).
func metadataFrame(conf map[string]any, md policy.Metadata) ([]byte, error) {
	add := map[string]any{}
	if md.Guides {
		add[api.MetaRealTimeChunking] = true
	}
	if md.MaxLagSteps > 0 {
		add[api.MetaMaxLagSteps] = md.MaxLagSteps
	}
	m := make(map[string]any, len(conf)+len(add))
	maps.Copy(m, add)
	maps.Copy(m, conf) // the configuration's own keys win
	return api.EncodeMetadata(nil, m)
}

// Addr is the address the server listens on (useful with port 0).
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Run serves until ctx is cancelled or Close is called.
func (s *Server) Run(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { s.Close() })
	defer stop()
	err := s.http.Serve(s.ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Close stops accepting, closes every connection, drains the queue with
// ErrClosed, and closes the policy. It is safe to call more than once.
func (s *Server) Close() error {
	s.cancel()
	// Shutdown does not wait for hijacked (websocket) connections; they
	// notice s.ctx and return.
	_ = s.http.Close()
	s.wg.Wait()
	var err error
	s.closeOnce.Do(func() {
		err = s.pol.Close()
		if s.resizers != nil {
			s.resizers.close()
		}
	})
	return err
}

// pixelBurst is the pixel buckets' size: a second's worth, or one
// request's most, whichever is more.
func (s *Server) pixelBurst() int {
	return max(s.conf.MaxFramePixels, int(min(s.conf.MaxPixelRate, 1<<40)))
}

// MaxBatch is how many requests one model run may answer:
// server.max_batch capped by the policy's own limit.
func (s *Server) MaxBatch() int { return s.maxBatch }

// warnTruncation logs the first answer given from a prompt cut to the
// model's length; the rest are counted in efferent_prompt_truncated_total.
func (s *Server) warnTruncation() {
	if s.truncator == nil || s.truncWarned || s.truncator.PromptsTruncated() == 0 {
		return
	}
	s.truncWarned = true
	s.log.Warn("a prompt longer than the model takes was cut to its text.max_tokens (text.truncation in its manifest); "+
		"efferent_prompt_truncated_total counts every such answer", "model", s.meta.Name)
}

// Ready reports whether the model has been warmed up (what /readyz says).
func (s *Server) Ready() bool { return s.ready.Load() }

// serveReadyz answers 200 "ready" once the model is loaded and warmed up,
// else 503 with the reason, for load balancers and orchestrators.
func (s *Server) serveReadyz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	switch {
	case s.ready.Load():
		_, _ = w.Write([]byte("ready\n"))
	case s.warmErr.Load() != nil:
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = fmt.Fprintf(w, "not ready: warm-up inference failed: %v\n", *s.warmErr.Load())
	default:
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready: warming the model up\n"))
	}
}

// warmUp runs the model on blank observations of its shape, once per batch
// size up to the server's, so the first clients pay neither for ONNX
// Runtime's lazy initialisation nor for making a batch size's tensors.
func (s *Server) warmUp() {
	if s.conf.SkipWarmup {
		s.ready.Store(true)
		return
	}
	md := s.meta
	obs := efferent.Observation{Images: make(map[string]efferent.Image, len(md.ImageKeys)), State: make([]float64, md.StateDim), Prompt: "warm up"}
	for _, k := range md.ImageKeys {
		h, w := md.ImageSize(k)
		obs.Images[k] = efferent.Image{H: h, W: w, C: 3, Pix: make([]byte, h*w*3)}
	}
	start := s.now()
	// Largest first: the policy sizes its buffers once.
	for n := s.maxBatch; n >= 1; n-- {
		obsv, out, errs := s.batchObs[:n], s.batchOut[:n], s.batchErrs[:n]
		for i := range n {
			obsv[i], out[i] = &obs, &efferent.Chunk{}
		}
		policy.InferBatch(s.ctx, s.pol, obsv, out, errs)
		clear(obsv)
		clear(out)
		for _, err := range errs {
			if err != nil {
				if s.ctx.Err() == nil {
					s.log.Error("warm-up inference failed; /readyz stays not ready", "batch", n, "err", err)
					s.warmErr.Store(&err)
				}
				return
			}
		}
	}
	s.log.Info("warm-up inference done", "ms", fmt.Sprintf("%.1f", ms(s.now().Sub(start))), "max_batch", s.maxBatch)
	s.ready.Store(true)
}

// worker owns the policy: it warms it up, then runs the queued requests
// in arrival order, up to maxBatch of them per model run.
func (s *Server) worker() {
	defer s.wg.Done()
	defer close(s.workerDone)
	s.warmUp()
	batch := make([]*job, 0, s.maxBatch)
	wait := newTimer()
	for {
		select {
		case <-s.ctx.Done():
			for {
				select {
				case j := <-s.jobs:
					j.err = ErrClosed
					close(j.done)
				default:
					return
				}
			}
		case j := <-s.jobs:
			batch = s.gather(append(batch[:0], j), wait)
			s.runBatch(batch)
			clear(batch) // the jobs belong to their connections again
		}
	}
}

// gather adds queued jobs to batch (which holds the first) up to its
// capacity: those queued now, then, within Conf.BatchWait of the first
// one's arrival, those that come.
func (s *Server) gather(batch []*job, wait *time.Timer) []*job {
	for len(batch) < cap(batch) {
		select {
		case j := <-s.jobs:
			batch = append(batch, j)
			continue
		default:
		}
		break
	}
	if s.conf.BatchWait <= 0 || len(batch) == cap(batch) {
		return batch
	}
	left := batch[0].queuedAt.Add(s.conf.BatchWait).Sub(s.now())
	if left <= 0 {
		return batch
	}
	wait.Reset(left)
	defer wait.Stop()
	for len(batch) < cap(batch) {
		select {
		case j := <-s.jobs:
			batch = append(batch, j)
		case <-wait.C:
			return batch
		case <-s.ctx.Done():
			return batch
		}
	}
	return batch
}

// runBatch runs the jobs of batch that are not past their deadline as one
// model run and answers every job.
func (s *Server) runBatch(batch []*job) {
	s.metrics.queueDepth.Set(float64(len(s.jobs)))
	start := s.now()
	n := 0
	for _, j := range batch {
		s.metrics.queue.Observe(start.Sub(j.queuedAt).Seconds())
		if start.After(j.deadline) {
			// Its client has been told "timeout" (or is about to be):
			// running it would only delay the requests behind it.
			j.err = ErrTimeout
			close(j.done)
			continue
		}
		s.batchJobs[n], s.batchObs[n], s.batchOut[n], s.batchErrs[n] = j, &j.obs, &j.chunk, nil
		n++
	}
	if n == 0 {
		return
	}
	policy.InferBatch(s.ctx, s.pol, s.batchObs[:n], s.batchOut[:n], s.batchErrs[:n])
	d := s.now().Sub(start)
	s.metrics.batchSize.Observe(float64(n))
	s.warnTruncation()
	for i, j := range s.batchJobs[:n] {
		j.err, j.inferDur, j.batchSize = s.batchErrs[i], d, n
		s.metrics.infer.Observe(d.Seconds())
		s.batchJobs[i], s.batchObs[i], s.batchOut[i], s.batchErrs[i] = nil, nil, nil, nil
		close(j.done)
	}
}

// submit hands j to the worker without blocking; wait for the answer with
// await.
func (s *Server) submit(j *job) error {
	if s.ctx.Err() != nil {
		return ErrClosed
	}
	j.done = make(chan struct{})
	j.queuedAt = s.now()
	j.deadline = j.queuedAt.Add(s.conf.RequestTimeout)
	select {
	case s.jobs <- j:
		s.metrics.queueDepth.Set(float64(len(s.jobs)))
		return nil
	default:
		return ErrBusy
	}
}

var upgrader = websocket.Upgrader{
	// openpi turns compression off on both sides.
	EnableCompression: false,
	ReadBufferSize:    64 << 10,
	WriteBufferSize:   64 << 10,
	// CheckOrigin is the library default: a browser page from another
	// origin cannot drive the server; non-browser clients send no Origin.
}

func (s *Server) serveWebsocket(w http.ResponseWriter, r *http.Request) {
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		s.log.Debug("websocket upgrade failed", "remote", r.RemoteAddr, "err", err)
		return // Upgrade has already answered with an HTTP error
	}
	s.wg.Add(1)
	defer s.wg.Done()
	s.metrics.connections.Inc()
	defer s.metrics.connections.Dec()
	c := &connection{s: s, ws: conn, remote: r.RemoteAddr, session: s.sessions.Add(1), timer: newTimer(), premise: newPremiseGate(s.conf.Premise),
		in: s.newIntake(s.ctx, s.connPixels()), idleUntil: s.now().Add(s.conf.IdleTimeout)}
	c.serve()
}

// errInference wraps a policy's own failure, so callers can tell it from
// the server's refusals (ErrBusy, ErrClosed, ErrTimeout).
var errInference = errors.New("inference failed")

// answer submits j and waits for it within Conf.RequestTimeout, using
// timer (stopped on return). It returns nil when j holds a chunk, else
// ErrBusy, ErrClosed, ErrTimeout, a bad observation the policy refused
// (wrapping policy.ErrBadObservation) or an error wrapping errInference,
// with the matching request outcome counted. After ErrTimeout the worker may
// still hold j: its buffers must not be reused.
func (s *Server) answer(j *job, timer *time.Timer) error {
	if err := s.submit(j); err != nil {
		if errors.Is(err, ErrBusy) {
			s.metrics.busy.Inc()
		}
		return err
	}
	timer.Reset(s.conf.RequestTimeout)
	answered := s.await(j, timer.C)
	timer.Stop()
	switch {
	case !answered || errors.Is(j.err, ErrTimeout):
		s.metrics.timeout.Inc()
		return fmt.Errorf("%w (%v)", ErrTimeout, s.conf.RequestTimeout)
	case errors.Is(j.err, ErrClosed) || (j.err != nil && s.ctx.Err() != nil):
		return ErrClosed
	case isBadObservation(j.err):
		s.metrics.badRequest.Inc()
		return fmt.Errorf("bad observation: %w", j.err)
	case j.err != nil:
		s.metrics.failed.Inc()
		return fmt.Errorf("%w: %w", errInference, j.err)
	}
	return nil
}

// newTimer is a stopped timer for answer.
func newTimer() *time.Timer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}

// await waits for the worker to answer j, at most until timeout fires. A
// job that slipped into the queue after the worker's final drain is
// answered ErrClosed here, so a connection can never wait forever during
// shutdown. It reports false when j was not answered: the worker may still
// hold j, so its buffers must not be reused.
func (s *Server) await(j *job, timeout <-chan time.Time) bool {
	select {
	case <-j.done:
		return true
	case <-timeout:
		return false
	case <-s.workerDone:
		select {
		case <-j.done: // answered before the worker returned
		default:
			j.err = ErrClosed
		}
		return true
	}
}
