package rig

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/efferent/efferent/api"
	"github.com/efferent/efferent/control"
	"github.com/efferent/efferent/metrics"
	"github.com/efferent/efferent/ros"
	"github.com/efferent/efferent/safety"
	"github.com/efferent/efferent/server"
	"github.com/efferent/efferent/viewer"
)

// loopTotals sums the control loops of a simulator run, one per episode
// (EpisodeConf.OnLoop), for its /metrics: the counters go on across
// episodes as Prometheus expects of a counter.
type loopTotals struct {
	mu   sync.Mutex
	done control.Stats // the loops before cur
	cur  *control.Loop
}

// add makes l the current loop (the one before it is done).
func (t *loopTotals) add(l *control.Loop) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cur != nil {
		t.done = t.done.Plus(t.cur.Stats())
	}
	t.cur = l
}

// stats is the run's Stats so far.
func (t *loopTotals) stats() control.Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cur == nil {
		return t.done
	}
	return t.done.Plus(t.cur.Stats())
}

// simCollector is a simulator run's series for the server's /metrics: its
// loops' counters and the e-stop.
func simCollector(loops *loopTotals, estop *safety.EStop) (*metrics.Collector, error) {
	return metrics.New(metrics.Conf{Loop: loops.stats, EStop: estop.Status})
}

// robotLive is what a ROS run's viewer page and /metrics read while the
// run goes on: the loop and the bridge, stored once each exists (the
// listener starts before them).
type robotLive struct {
	loop   atomic.Pointer[control.Loop]
	bridge atomic.Pointer[ros.Bridge]
	estop  *safety.EStop // the run's, for /metrics (nil: none)
}

// viewerInputs are the bridge's inputs for the viewer's status panel.
func (r *robotLive) viewerInputs() []viewer.Input {
	b := r.bridge.Load()
	if b == nil {
		return nil
	}
	ins := b.Inputs()
	out := make([]viewer.Input, len(ins))
	for i, in := range ins {
		out[i] = viewer.Input{Name: in.Name, Age: in.Age, MaxAge: in.MaxAge, Stale: in.Stale}
	}
	return out
}

// collector is the run's Prometheus series (package metrics).
func (r *robotLive) collector() (*metrics.Collector, error) {
	var estop func() safety.EStopStatus
	if r.estop != nil {
		estop = r.estop.Status
	}
	return metrics.New(metrics.Conf{
		EStop: estop,
		Loop: func() control.Stats {
			if l := r.loop.Load(); l != nil {
				return l.Stats()
			}
			return control.Stats{}
		},
		Inputs: func() []metrics.Input {
			b := r.bridge.Load()
			if b == nil {
				return nil
			}
			ins := b.Inputs()
			out := make([]metrics.Input, len(ins))
			for i, in := range ins {
				out[i] = metrics.Input{Name: in.Name, Age: in.Age, MaxAge: in.MaxAge, Stale: in.Stale, Holds: in.Holds}
			}
			return out
		},
		Link: func() metrics.Link {
			b := r.bridge.Load()
			if b == nil {
				return metrics.Link{}
			}
			s := b.Stats()
			return metrics.Link{MasterUp: s.MasterUp, MasterLosses: s.MasterLosses, Reconnects: s.Reconnects,
				Published: s.Published, Holds: s.Holds, Dropped: s.Dropped}
		},
	})
}

// metricsRoute is GET /metrics behind the run's token (when it has one;
// a non-loopback address without one is refused before this, unless
// --insecure-no-auth).
func (r *robotLive) metricsRoute(conf server.Conf) (map[string]http.Handler, error) {
	c, err := r.collector()
	if err != nil {
		return nil, err
	}
	h := c.Handler()
	if tok := conf.AuthToken; tok != "" {
		next := h
		h = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if got, _ := api.RequestToken(req); !api.TokenMatches(got, tok) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="efferent"`)
				http.Error(w, "efferent: /metrics needs the run's token (Authorization: Bearer …)", http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, req)
		})
	}
	return map[string]http.Handler{"GET /metrics": h}, nil
}

// serveMetrics serves /metrics alone at conf.Addr (a ROS run with
// --metrics and no --viewer) until the returned stop is called or ctx
// ends.
func serveMetrics(ctx context.Context, conf server.Conf, live *robotLive, log *slog.Logger) (stop func(), err error) {
	if conf.AuthToken == "" && !server.IsLoopback(conf.Addr) && !conf.AllowNoAuth {
		return nil, fmt.Errorf("--metrics on %s: a non-loopback address needs --token (or --insecure-no-auth)", conf.Addr)
	}
	routes, err := live.metricsRoute(conf)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", conf.Addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics: %w", err)
	}
	mux := http.NewServeMux()
	for p, h := range routes {
		mux.Handle(p, h)
	}
	srv := &http.Server{Handler: server.HostGuard(conf, mux), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 10 * time.Second, IdleTimeout: time.Minute}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	log.Info("metrics: Prometheus series", "url", "http://"+ln.Addr().String()+"/metrics")
	unhook := context.AfterFunc(ctx, func() { _ = srv.Close() })
	return func() {
		unhook()
		_ = srv.Close()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("metrics: serving ended", "err", err)
		}
	}, nil
}
