package rig

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/efferent/efferent/compare"
	"github.com/efferent/efferent/record"
	"github.com/efferent/efferent/safety"
	"github.com/efferent/efferent/server"
	"github.com/efferent/efferent/teleop"
	"github.com/efferent/efferent/viewer"
)

// ViewerConf is the viewer's authentication, as the server's conf says:
// the token when there is one, open on loopback (to this machine's names
// and server.allowed_hosts), and otherwise refused unless
// --insecure-no-auth. clients is how many browsers it takes (0: the
// viewer's default).
func ViewerConf(conf server.Conf, title string, clients int, log *slog.Logger) viewer.Conf {
	return viewer.Conf{Title: title, Loopback: server.IsLoopback(conf.Addr), Token: conf.AuthToken,
		AllowNoAuth: conf.AllowNoAuth, AllowedHosts: conf.AllowedHosts, MaxClients: clients, Log: log}
}

// LogViewerURL says where to open the page (never with the token).
func LogViewerURL(log *slog.Logger, addr string, token bool) {
	host, port, err := net.SplitHostPort(addr)
	if err == nil && (host == "" || host == "0.0.0.0" || host == "::") {
		addr = net.JoinHostPort("127.0.0.1", port) // reachable from here; other machines use this machine's address
	}
	url := "http://" + addr + "/viewer/"
	if token {
		log.Info("viewer: open it with the token", "url", url+"?token=<token>")
		return
	}
	log.Info("viewer: open it in a browser", "url", url)
}

// serveViewer serves v on its own listener at addr until the returned stop
// is called (or ctx ends).
func serveViewer(ctx context.Context, v *viewer.Viewer, addr string, token bool, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--viewer: %w", err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- v.Serve(sctx, ln) }()
	LogViewerURL(log, ln.Addr().String(), token)
	return func() {
		cancel()
		if err := <-done; err != nil {
			log.Warn("viewer: serving ended", "err", err)
		}
	}, nil
}

// simViewer is what the viewer adds to a simulator run: the page, the
// teleop gate first in the gate chain, instruction changes, and the
// comparison of the policy with the teleoperator at each episode's end.
type simViewer struct {
	v       *viewer.Viewer
	mux     *teleop.Mux
	log     *slog.Logger
	space   Space
	rec     atomic.Pointer[record.Recorder]
	outBase func(episode int) string // where comparison files go; nil: nowhere
	write   func(base string, c compare.Comparison) error

	// lastTick is the controller time of the last tick: in virtual time,
	// the clock teleop commands are stamped with.
	lastTick atomic.Int64

	// first is the run's first task: instruction changes stay on its
	// simulator. next is the task an instruction change asked for; the
	// episode under way is ended (cancel) and the next one starts with it.
	first  simTask
	next   atomic.Pointer[simTask]
	mu     sync.Mutex
	cancel context.CancelFunc

	stopServe func() // its own listener, when it has one
}

// newSimViewer builds the viewer of a simulator run whose first task is
// first, in space (the simulator's). Unless mounted (the caller mounts
// v.Routes() on the server), it listens on the server's address itself.
func newSimViewer(ctx context.Context, c *Conf, p *Parts, estop *safety.EStop, mounted bool, first simTask, space Space) (*simViewer, error) {
	mux, err := teleop.New(teleop.Conf{Dim: space.Dim(), Gripper: space.Gripper})
	if err != nil {
		return nil, err
	}
	s := &simViewer{mux: mux, log: p.Log, space: space, write: p.WriteComparison, first: first}
	if c.Out != "" {
		s.outBase = func(ep int) string { return filepath.Join(c.Out, fmt.Sprintf("comparison-ep%d", ep)) }
	} else if path := c.Record.Path; path != "" {
		stem := strings.TrimSuffix(path, filepath.Ext(path))
		s.outBase = func(ep int) string { return fmt.Sprintf("%s-comparison-ep%d", stem, ep) }
	}
	title := "efferent run --robot sim"
	if first.Legged {
		title += " (the legged base)"
	}
	conf := ViewerConf(c.Server, title, c.ViewerClients, p.Log)
	conf.Teleop, conf.EStop, conf.Dims, conf.Instructions = mux, estop, space.Names, worldInstructions(first)
	if first.Legged {
		// The page's teleop is an arm's (x, y, z, roll, pitch, yaw,
		// gripper keys): on the command vector it would crouch the base
		// (height 0) and stall its gait. The page offers none here; the
		// e-stop stays.
		conf.Teleop = nil
	}
	conf.SetInstruction = s.setInstruction
	conf.OnTeleop = func(t time.Time, mode teleop.Mode, values []float64, source string) {
		if rec := s.rec.Load(); rec != nil {
			rec.Teleop(t, mode.String(), values, source)
		}
	}
	if c.Fast {
		// The loop's virtual clock is its own; the last tick's time is the
		// closest reading of it.
		conf.Now = func() time.Time { return time.Unix(0, s.lastTick.Load()) }
	}
	if s.v, err = viewer.New(conf); err != nil {
		return nil, fmt.Errorf("--viewer: %w", err)
	}
	if !mounted {
		if s.stopServe, err = serveViewer(ctx, s.v, c.Server.Addr, conf.Token != "", p.Log); err != nil {
			_ = s.v.Close()
			return nil, err
		}
	}
	return s, nil
}

// Close stops the listener and the viewer.
func (s *simViewer) Close() {
	if s.stopServe != nil {
		s.stopServe()
	}
	_ = s.v.Close()
}

// setInstruction takes an instruction change from the page: it must name
// a simulator task; the episode under way ends and the next one runs it.
func (s *simViewer) setInstruction(instr string) error {
	task, err := sameWorld(s.first, instr)
	if err != nil {
		return err
	}
	s.next.Store(&task)
	s.mu.Lock()
	if s.cancel != nil {
		s.cancel()
	}
	s.mu.Unlock()
	s.log.Info("instruction changed from the viewer: the episode under way ends, the next one runs the new task", "task", task.Name)
	s.v.Event(viewer.Event{Kind: viewer.EventInstruction, Task: task.Name, Instruction: task.Instruction,
		Detail: "the next episode runs " + task.Name})
	return nil
}

// task returns the task the next episode runs: cur, or the one an
// instruction change asked for.
func (s *simViewer) task(cur simTask) simTask {
	if t := s.next.Swap(nil); t != nil {
		return *t
	}
	return cur
}

// episode returns the context one episode runs under: ended by ctx, or by
// an instruction change.
func (s *simViewer) episode(ctx context.Context) (context.Context, func()) {
	ectx, cancel := context.WithCancel(ctx)
	s.mu.Lock()
	s.cancel = cancel
	s.mu.Unlock()
	return ectx, func() {
		s.mu.Lock()
		s.cancel = nil
		s.mu.Unlock()
		cancel()
	}
}

// thirdPerson is the hook that shows w's view for people beside the
// policy's cameras (the legged base's chase camera, as ThirdPersonKey),
// drawn only when the page would show a new frame; nil for the tabletop.
func (s *simViewer) thirdPerson(w *world) func() {
	if w.leg == nil {
		return nil
	}
	draw := w.leg.ThirdPerson
	warned := false
	return func() {
		if err := s.v.Frame(ThirdPersonKey, draw); err != nil && !warned {
			warned = true
			s.log.Warn("viewer: the third-person view is not drawn", "err", err)
		}
	}
}

// start begins an episode's comparison and shows it.
func (s *simViewer) start(ep int, task simTask, init int) {
	s.mux.ResetStats()
	s.v.Event(viewer.Event{Kind: viewer.EventEpisodeStart, Episode: ep, Task: task.Name, Instruction: task.Instruction,
		Detail: fmt.Sprintf("init %d", init)})
}

// end shows the episode's end, and, when the teleoperator's commands were
// compared with the policy's, logs the comparison, records it, sends it to
// the page and writes it as PNG, HTML and JSON.
func (s *simViewer) end(ep int, task simTask, res EpisodeResult, detail string) {
	ok := res.Success
	sum := s.mux.Summary()
	e := viewer.Event{Kind: viewer.EventEpisodeEnd, Episode: ep, Task: task.Name, Instruction: task.Instruction,
		Success: &ok, Steps: res.Steps, Detail: detail}
	s.v.Event(e)
	if sum.N == 0 {
		return
	}
	c := s.mux.Counts()
	s.log.Info("teleop comparison", "episode", ep, "pairs", sum.N, "cosine", round3(sum.Cosine),
		"gripper_agreement", round3(sum.GripperAgreement), "mae", roundAll(sum.MAE), "teleop_driven_ticks", c.Driven)
	s.v.Event(viewer.Event{Kind: viewer.EventComparison, Episode: ep, Task: task.Name, Compare: &sum})
	if rec := s.rec.Load(); rec != nil {
		rec.Event(record.Event{Time: time.Now().UnixNano(), Kind: record.EventComparison, Task: task.Name,
			Instruction: task.Instruction, Detail: jsonText(sum)})
	}
	if s.outBase == nil || s.write == nil {
		return
	}
	base := s.outBase(ep)
	err := s.write(base, compare.Comparison{Title: "policy vs teleoperator", Episode: ep, Task: task.Name,
		Instruction: task.Instruction, Dims: s.space.Names, Summary: sum})
	if err != nil {
		s.log.Warn("comparison not written", "err", err)
		return
	}
	s.log.Info("comparison written", "png", base+".png", "html", base+".html", "json", base+".json")
}

func round3(x float64) float64 {
	if math.IsNaN(x) {
		return x
	}
	return math.Round(x*1000) / 1000
}

func roundAll(xs []float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = round3(x)
	}
	return out
}

// jsonText is v as JSON text for an event's detail.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf(`{"error": %q}`, err.Error())
	}
	return string(b)
}

// robotViewer is the viewer on a ROS robot: the page on its own listener
// at the server's address (the token as for the server), the teleop gate,
// the run's e-stop.
type robotViewer struct {
	v    *viewer.Viewer
	mux  *teleop.Mux
	stop func()
}

func newRobotViewer(ctx context.Context, c *Conf, p *Parts, name string, space Space, estop *safety.EStop, live *robotLive) (*robotViewer, error) {
	mux, err := teleop.New(teleop.Conf{Dim: space.Dim(), Gripper: space.Gripper})
	if err != nil {
		return nil, err
	}
	conf := ViewerConf(c.Server, "efferent run --robot "+name, c.ViewerClients, p.Log)
	conf.Teleop, conf.EStop, conf.Dims = mux, estop, space.Names
	conf.Inputs = live.viewerInputs
	if conf.Routes, err = live.metricsRoute(c.Server); err != nil {
		return nil, err
	}
	v, err := viewer.New(conf)
	if err != nil {
		return nil, fmt.Errorf("--viewer: %w", err)
	}
	stop, err := serveViewer(ctx, v, c.Server.Addr, conf.Token != "", p.Log)
	if err != nil {
		_ = v.Close()
		return nil, err
	}
	return &robotViewer{v: v, mux: mux, stop: stop}, nil
}

func (r *robotViewer) close() {
	r.stop()
	_ = r.v.Close()
}
