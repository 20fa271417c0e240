package metrics

import (
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/efferent/efferent/control"
	"github.com/efferent/efferent/safety"
)

// Input is one input the control loop observes: a camera, the robot state.
type Input struct {
	// Name says what and where, e.g. "camera observation/image
	// (/cam/image_raw)"; it becomes the series' input label.
	Name string
	// Age is the time since its last message (or since the robot
	// connected, when none came); MaxAge the bound beyond which the robot
	// holds.
	Age, MaxAge time.Duration
	// Stale: older than MaxAge, or never received.
	Stale bool
	// Holds counts the commands held while this input was the stale one.
	Holds uint64
}

// Link is the robot link's state: for a ROS robot, the master and the
// commands published.
type Link struct {
	// MasterUp: the ROS master answered the last check.
	MasterUp bool
	// MasterLosses: how often the master went away; Reconnects: how often
	// the node registered again.
	MasterLosses, Reconnects uint64
	// Published commands, Holds among them; Dropped setpoints (the link's
	// hand-off was full).
	Published, Holds, Dropped uint64
}

// Conf says where a Collector reads from.
type Conf struct {
	// Loop returns the control loop's counters (required), e.g.
	// (*control.Loop).Stats.
	Loop func() control.Stats
	// Inputs, if set, returns the inputs with their ages.
	Inputs func() []Input
	// Link, if set, returns the robot link's state.
	Link func() Link
	// EStop, if set, returns the run's e-stop state, e.g.
	// (*safety.EStop).Status.
	EStop func() safety.EStopStatus
}

// Collector is a prometheus.Collector over Conf's sources, on a registry
// of its own (with Go's runtime and process series). To serve its series
// beside others (efferent run --serve: the openpi server's), register the
// Collector itself on their registry, not its Registry, whose Go and
// process series that registry has already.
type Collector struct {
	conf Conf
	reg  *prometheus.Registry
}

// New returns a Collector for conf.
func New(conf Conf) (*Collector, error) {
	if conf.Loop == nil {
		return nil, errors.New("metrics: Conf.Loop: required")
	}
	c := &Collector{conf: conf, reg: prometheus.NewRegistry()}
	if err := c.reg.Register(c); err != nil {
		return nil, err
	}
	c.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return c, nil
}

// Handler serves the registry in Prometheus' text format. It does not
// check a token: mount it behind the same authentication as the rest of
// the listener.
func (c *Collector) Handler() http.Handler {
	return promhttp.HandlerFor(c.reg, promhttp.HandlerOpts{})
}

// Registry is the Collector's registry (to add series, or to gather in
// tests).
func (c *Collector) Registry() *prometheus.Registry { return c.reg }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	dTicks      = desc("efferent_loop_ticks_total", "Controller ticks executed.")
	dHolds      = desc("efferent_loop_holds_total", "Ticks whose setpoint held the robot (after the gate).")
	dStartHolds = desc("efferent_loop_start_holds_total", "Held ticks before the robot first moved (the wait for the first chunk); the others are gaps once moving.")
	dOverruns   = desc("efferent_loop_overruns_total", "Controller deadlines skipped because the loop was a period or more late.")
	dVerdicts   = desc("efferent_loop_verdicts_total", "The safety gate's verdicts by kind: allowed, clamped, held, refused.", "kind")
	dInfer      = desc("efferent_loop_inferences_total", "Inferences completed (including failed ones).")
	dInferErr   = desc("efferent_loop_inference_errors_total", "Inferences that failed.")
	dReqDropped = desc("efferent_loop_requests_dropped_total", "Inference requests not made because inference was still busy.")
	dChunks     = desc("efferent_loop_chunks_total", "Chunks by outcome: accepted, stale (answers an older observation), expired (all in the past), invalid, discarded (observed before an input went stale).", "outcome")
	dInferLat   = desc("efferent_loop_inference_seconds", "Inference latency over the last 1024 inferences, by quantile (0.5, 0.99, 1 = max).", "quantile")
	dLead       = desc("efferent_loop_inference_lead_seconds", "How early the next inference is requested so that its chunk is there when the executing one ends.")
	dPlay       = desc("efferent_loop_play_period_seconds", "The period the executing chunk plays at: the policy's step period, or longer while async or rtc slow down because the inference latency spans more than max_lag_steps.")
	dSlowTicks  = desc("efferent_loop_slow_ticks_total", "Ticks executed from a chunk played slower than the policy rate (async and rtc, max_lag_steps).")
	dWaits      = desc("efferent_loop_chunk_waits_total", "Ticks that waited (ChunkWait) for a chunk due then, and those among them it did not come in time for (missed).", "result")
	dStaleEv    = desc("efferent_loop_stale_events_total", "How often an input went stale (each time the robot held and the plan was dropped).")
	dStaleHolds = desc("efferent_loop_stale_holds_total", "Ticks held because an input was stale.")
	dNotReady   = desc("efferent_loop_not_ready_total", "Observations the robot refused because an input was missing or stale.")
	dStaleNow   = desc("efferent_loop_stale", "1 while an input is stale and the robot holds for it, labelled with that input; 0 (input=\"\") otherwise.", "input")
	dAge        = desc("efferent_input_age_seconds", "Age of each input's newest message (since the connection while none arrived).", "input")
	dMaxAge     = desc("efferent_input_max_age_seconds", "Each input's maximum age: older, and the robot holds.", "input")
	dInStale    = desc("efferent_input_stale", "1 while the input is older than its maximum age.", "input")
	dInHolds    = desc("efferent_input_stale_holds_total", "Commands held while this input was the stale one.", "input")
	dMasterUp   = desc("efferent_link_master_up", "1 while the ROS master answers.")
	dLosses     = desc("efferent_link_master_losses_total", "How often the ROS master went away.")
	dReconnects = desc("efferent_link_reconnects_total", "How often the node registered with the ROS master again.")
	dPublished  = desc("efferent_link_commands_total", "Commands published, by kind: motion, hold.", "kind")
	dDropped    = desc("efferent_link_dropped_total", "Setpoints dropped at the link's hand-off (it was behind).")
	dHoldWhy    = desc("efferent_loop_holds_by_reason_total", "Held ticks by reason: the gate's verdict reason when it held or refused (estop, watchdog, stale_input, teleop_stale, nan, dimension, a motion limit), else no_chunk (a gap between chunks); other for a reason not listed. Sums to efferent_loop_holds_total.", "reason")
	dVerdictWhy = desc("efferent_loop_verdict_reasons_total", "Clamped and refused verdicts by reason (position_limit, step_limit, velocity_limit, acceleration_limit, jerk_limit, converging; estop, watchdog, nan, dimension; other); only the kind and reason pairs that occurred.", "kind", "reason")
	dEngaged    = desc("efferent_estop_engaged", "1 while the e-stop is engaged (the robot holds until an authenticated reset), else 0.")
	dTrips      = desc("efferent_estop_trips_total", "How often the e-stop went from released to engaged.")
	dTriggers   = desc("efferent_estop_triggers_total", "E-stop requests (POST /estop, the viewer, SIGUSR1, a ROS topic), including those while it was engaged already.")
	dEStopHeld  = desc("efferent_estop_held_ticks_total", "Controller ticks the e-stop held.")
	dEStopLat   = desc("efferent_estop_latency_seconds", "From the last trip to the first tick the e-stop held (0 before any).")
)

// Describe implements prometheus.Collector: the series vary with the
// inputs, so the Collector is unchecked.
func (c *Collector) Describe(chan<- *prometheus.Desc) {}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	st := c.conf.Loop()
	counter(dTicks, st.Ticks)
	counter(dHolds, st.Holds)
	counter(dStartHolds, st.StartHolds)
	counter(dOverruns, st.Overruns)
	for i, k := range []string{"allowed", "clamped", "held", "refused"} {
		counter(dVerdicts, st.Verdicts[i], k)
	}
	counter(dInfer, st.Inferences)
	counter(dInferErr, st.InferErrors)
	counter(dReqDropped, st.RequestsDropped)
	counter(dChunks, st.Chunks.Accepted, "accepted")
	counter(dChunks, st.Chunks.Stale, "stale")
	counter(dChunks, st.Chunks.Expired, "expired")
	counter(dChunks, st.Chunks.Invalid, "invalid")
	counter(dChunks, st.Discarded, "discarded")
	gauge(dInferLat, st.InferP50.Seconds(), "0.5")
	gauge(dInferLat, st.InferP99.Seconds(), "0.99")
	gauge(dInferLat, st.InferMax.Seconds(), "1")
	gauge(dLead, st.Lead.Seconds())
	gauge(dPlay, st.PlayPeriod.Seconds())
	counter(dSlowTicks, st.Chunks.SlowTicks)
	counter(dWaits, sub(st.Waits, st.WaitMisses), "in_time")
	counter(dWaits, st.WaitMisses, "missed")
	counter(dStaleEv, st.StaleEvents)
	counter(dStaleHolds, st.StaleHolds)
	counter(dNotReady, st.NotReady)
	for i, r := range control.Reasons {
		counter(dHoldWhy, st.HoldReasons[i], r)
		if n := st.ClampReasons[i]; n > 0 {
			counter(dVerdictWhy, n, "clamped", r)
		}
		if n := st.RefuseReasons[i]; n > 0 {
			counter(dVerdictWhy, n, "refused", r)
		}
	}
	if st.StaleInput != "" {
		gauge(dStaleNow, 1, st.StaleInput)
	} else {
		gauge(dStaleNow, 0, "")
	}
	if c.conf.Inputs != nil {
		seen := map[string]bool{}
		for _, in := range c.conf.Inputs() {
			if seen[in.Name] { // a repeated label set would fail the scrape
				continue
			}
			seen[in.Name] = true
			gauge(dAge, in.Age.Seconds(), in.Name)
			gauge(dMaxAge, in.MaxAge.Seconds(), in.Name)
			gauge(dInStale, b2f(in.Stale), in.Name)
			counter(dInHolds, in.Holds, in.Name)
		}
	}
	if c.conf.EStop != nil {
		e := c.conf.EStop()
		gauge(dEngaged, b2f(e.Engaged))
		counter(dTrips, e.Trips)
		counter(dTriggers, e.Triggers)
		counter(dEStopHeld, e.HeldTicks)
		gauge(dEStopLat, e.Latency.Seconds())
	}
	if c.conf.Link != nil {
		l := c.conf.Link()
		gauge(dMasterUp, b2f(l.MasterUp))
		counter(dLosses, l.MasterLosses)
		counter(dReconnects, l.Reconnects)
		counter(dPublished, sub(l.Published, l.Holds), "motion")
		counter(dPublished, l.Holds, "hold")
		counter(dDropped, l.Dropped)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// sub is a − b, or 0: two counters read one after the other may be a
// count apart.
func sub(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}
