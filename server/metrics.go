package server

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/efferent/efferent/policy"
)

// metrics are the server's Prometheus series, on a registry of its own so
// that two servers in one process (tests) do not collide.
type metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec
	stage       *prometheus.HistogramVec
	queueDepth  prometheus.Gauge
	batchSize   prometheus.Histogram
	connections prometheus.Gauge
	premise     *prometheus.CounterVec
	// Resource bounds: connections refused at the listener, large
	// requests holding a share of max_inflight_bytes, connections the
	// server closed by reason.
	connRefused   prometheus.Counter
	largeInflight prometheus.Gauge
	closed        *prometheus.CounterVec
	// Pre-resolved children: the request path does no label lookups.
	ok, badRequest, busy, failed            prometheus.Counter
	unauthorized, timeout, abandoned        prometheus.Counter
	rateLimited, forbidden                  prometheus.Counter
	decode, queue, infer, encode, totalTime prometheus.Observer
}

// countTruncations exports the policy's count of answers from cut prompts.
func (m *metrics) countTruncations(t policy.PromptTruncator) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "efferent_prompt_truncated_total",
		Help: "Answers given from a prompt cut to the model's text.max_tokens (text.truncation in its manifest).",
	}, func() float64 { return float64(t.PromptsTruncated()) }))
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "efferent_requests_total",
		Help: "Requests by outcome: ok, bad_request (undecodable or unfit observation), busy (queue full), error (inference failed), timeout (no reply by server.request_timeout), abandoned (the reply could not be written: the client had left), unauthorized (missing or wrong token), rate_limited (over server.rate_limit), forbidden (a Host that is not this machine's without a token, or a browser request from another site).",
	}, []string{"outcome"})
	m.stage = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "efferent_request_stage_seconds",
		Help:    "Time per request stage: decode (msgpack → observation), queue (waiting for the model), infer (the model run, of the whole batch), encode (reply), total.",
		Buckets: prometheus.ExponentialBuckets(50e-6, 2, 18), // 50 µs .. 6.5 s
	}, []string{"stage"})
	m.queueDepth = prometheus.NewGauge(prometheus.GaugeOpts{Name: "efferent_queue_depth", Help: "Requests waiting for the model."})
	m.batchSize = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "efferent_batch_size",
		Help:    "Requests per model run (server.max_batch bounds it). Its _sum/_count is the mean batch.",
		Buckets: []float64{1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 128, 256},
	})
	m.connections = prometheus.NewGauge(prometheus.GaugeOpts{Name: "efferent_connections", Help: "Open websocket connections."})
	m.premise = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "efferent_premise_decisions_total",
		Help: "False-premise checker decisions on clients' instructions (with --premise): ok, refuse (a named object is not in view), clarify (cannot tell; a question was sent), pending.",
	}, []string{"decision"})
	for _, d := range []string{"ok", "refuse", "clarify", "pending"} {
		m.premise.WithLabelValues(d)
	}
	m.connRefused = prometheus.NewCounter(prometheus.CounterOpts{Name: "efferent_connections_refused_total",
		Help: "TCP connections answered 503 and closed at once: past server.max_connections or server.max_connections_per_client."})
	m.largeInflight = prometheus.NewGauge(prometheus.GaugeOpts{Name: "efferent_large_requests_inflight",
		Help: "Large requests (frame over 512 KiB or compressed image over 512x512) holding a share of server.max_inflight_bytes."})
	m.closed = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "efferent_connections_closed_total",
		Help: "Websocket connections the server closed: idle (no request for server.idle_timeout), body_timeout (a message not received within server.body_timeout), no_pong (no answer to pings)."},
		[]string{"reason"})
	for _, r := range []string{"idle", "body_timeout", "no_pong"} {
		m.closed.WithLabelValues(r)
	}
	m.reg.MustRegister(m.connRefused, m.largeInflight, m.closed)
	m.reg.MustRegister(m.requests, m.stage, m.queueDepth, m.batchSize, m.connections, m.premise,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.ok, m.badRequest = m.requests.WithLabelValues("ok"), m.requests.WithLabelValues("bad_request")
	m.busy, m.failed = m.requests.WithLabelValues("busy"), m.requests.WithLabelValues("error")
	m.decode, m.queue = m.stage.WithLabelValues("decode"), m.stage.WithLabelValues("queue")
	m.infer, m.encode = m.stage.WithLabelValues("infer"), m.stage.WithLabelValues("encode")
	m.totalTime = m.stage.WithLabelValues("total")
	m.unauthorized, m.timeout = m.requests.WithLabelValues("unauthorized"), m.requests.WithLabelValues("timeout")
	m.abandoned = m.requests.WithLabelValues("abandoned")
	m.rateLimited = m.requests.WithLabelValues("rate_limited")
	m.forbidden = m.requests.WithLabelValues("forbidden")
	return m
}
