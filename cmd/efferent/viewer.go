package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/pflag"

	"github.com/efferent/efferent/api"
	"github.com/efferent/efferent/eval"
	"github.com/efferent/efferent/record"
	"github.com/efferent/efferent/safety"
	"github.com/efferent/efferent/server"
	"github.com/efferent/efferent/sim"
	"github.com/efferent/efferent/teleop"
	"github.com/efferent/efferent/viewer"
)

// simDims are the names of the simulator's 7-d LIBERO action.
var simDims = []string{"x", "y", "z", "roll", "pitch", "yaw", "gripper"}

func addViewerFlags(f *pflag.FlagSet) {
	f.Bool("viewer", false, "serve the viewer (cameras, actions, safety verdicts, teleop, e-stop) at http://ADDR/viewer/: on the --serve server when it runs, else on its own listener at --addr")
	f.Int("viewer-clients", 8, "with --viewer: how many browsers may be connected at once (more get a page with only the e-stop); without --token any local process may take a slot")
}

// viewerConf is the viewer's authentication, as the server's: the token
// when there is one, open on loopback (to this machine's names and
// server.allowed_hosts), and otherwise refused unless --insecure-no-auth.
func viewerConf(cfg Config, title string, log *slog.Logger) viewer.Conf {
	return viewer.Conf{Title: title, Loopback: server.IsLoopback(cfg.Server.Addr), Token: cfg.Server.AuthToken,
		AllowNoAuth: cfg.Server.AllowNoAuth, AllowedHosts: cfg.Server.AllowedHosts, MaxClients: cfg.ViewerClients, Log: log}
}

// hostGuard refuses, as the server and the viewer do, a request whose
// Host is not this machine's when no token guards h (api.HostPolicy):
// for the listeners of a run that are neither (ROS --metrics alone).
func hostGuard(cfg Config, h http.Handler) http.Handler {
	hosts := api.HostPolicy{Token: cfg.Server.AuthToken != "", Exposed: !server.IsLoopback(cfg.Server.Addr),
		AllowedHosts: cfg.Server.AllowedHosts}
	if hosts.Token {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := hosts.Check(r); err != nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(api.GuardStatus(err))
			_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
		h.ServeHTTP(w, r)
	})
}

// logViewerURL says where to open the page (never with the token).
func logViewerURL(log *slog.Logger, addr string, token bool) {
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

// simViewer is what --viewer adds to a simulator run: the page, the teleop
// gate first in the gate chain, instruction changes, and the comparison of
// the policy with the teleoperator at each episode's end.
type simViewer struct {
	v       *viewer.Viewer
	mux     *teleop.Mux
	log     *slog.Logger
	rec     atomic.Pointer[record.Recorder]
	outBase func(episode int) string // where comparison files go; nil: nowhere

	// lastTick is the controller time of the last tick: in virtual time,
	// the clock teleop commands are stamped with.
	lastTick atomic.Int64

	// next is the task an instruction change asked for; the episode under
	// way is ended (cancel) and the next one starts with it.
	next   atomic.Pointer[sim.Task]
	mu     sync.Mutex
	cancel context.CancelFunc

	stopServe func() // its own listener, when it has one
}

// newSimViewer builds the viewer of a simulator run. Unless routes is
// true (the caller mounts v.Routes() on the --serve server), it listens
// on --addr itself.
func newSimViewer(ctx context.Context, f *pflag.FlagSet, cfg Config, log *slog.Logger, estop *safety.EStop,
	virtual, routes bool) (*simViewer, error) {
	mux, err := teleop.New(teleop.Conf{Dim: len(simDims), Gripper: len(simDims) - 1})
	if err != nil {
		return nil, err
	}
	s := &simViewer{mux: mux, log: log}
	if out, _ := f.GetString("out"); out != "" {
		s.outBase = func(ep int) string { return filepath.Join(out, fmt.Sprintf("comparison-ep%d", ep)) }
	} else if path, _ := f.GetString("record"); path != "" {
		stem := strings.TrimSuffix(path, filepath.Ext(path))
		s.outBase = func(ep int) string { return fmt.Sprintf("%s-comparison-ep%d", stem, ep) }
	}
	var instructions []string
	seen := map[string]bool{}
	for _, su := range sim.Suites() {
		ts, _ := sim.Tasks(su)
		for _, t := range ts {
			if !seen[t.Instruction] {
				seen[t.Instruction] = true
				instructions = append(instructions, t.Instruction)
			}
		}
	}
	conf := viewerConf(cfg, "efferent run --robot sim", log)
	conf.Teleop, conf.EStop, conf.Dims, conf.Instructions = mux, estop, simDims, instructions
	conf.SetInstruction = s.setInstruction
	conf.OnTeleop = func(t time.Time, mode teleop.Mode, values []float64, source string) {
		if rec := s.rec.Load(); rec != nil {
			rec.Teleop(t, mode.String(), values, source)
		}
	}
	if virtual {
		// The loop's virtual clock is its own; the last tick's time is the
		// closest reading of it.
		conf.Now = func() time.Time { return time.Unix(0, s.lastTick.Load()) }
	}
	if s.v, err = viewer.New(conf); err != nil {
		return nil, fmt.Errorf("--viewer: %w", err)
	}
	if !routes {
		if s.stopServe, err = serveViewer(ctx, s.v, cfg.Server.Addr, conf.Token != "", log); err != nil {
			_ = s.v.Close()
			return nil, err
		}
	}
	return s, nil
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
	logViewerURL(log, ln.Addr().String(), token)
	return func() {
		cancel()
		if err := <-done; err != nil {
			log.Warn("viewer: serving ended", "err", err)
		}
	}, nil
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
	task, ok := sim.FindTask(instr)
	if !ok {
		return fmt.Errorf("%q is not a simulator task's instruction (efferent sim tasks lists them)", instr)
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
func (s *simViewer) task(cur sim.Task) sim.Task {
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

// start begins an episode's comparison and shows it.
func (s *simViewer) start(ep int, task sim.Task, init int) {
	s.mux.ResetStats()
	s.v.Event(viewer.Event{Kind: viewer.EventEpisodeStart, Episode: ep, Task: task.Name, Instruction: task.Instruction,
		Detail: fmt.Sprintf("init %d", init)})
}

// end shows the episode's end, and, when the teleoperator's commands were
// compared with the policy's, logs the comparison, records it, sends it to
// the page and writes it as PNG, HTML and JSON.
func (s *simViewer) end(ep int, task sim.Task, res eval.EpisodeResult, detail string) {
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
	if s.outBase == nil {
		return
	}
	base := s.outBase(ep)
	err := eval.WriteComparison(base, eval.Comparison{Title: "policy vs teleoperator", Episode: ep, Task: task.Name,
		Instruction: task.Instruction, Dims: simDims, Summary: sum})
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
