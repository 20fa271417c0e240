package bench

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/control"
	"github.com/efferent/efferent/policy"
	"github.com/efferent/efferent/rig"
	"github.com/efferent/efferent/robot"
	"github.com/efferent/efferent/safety"
)

// TickConf configures Tick. Zero values mean the documented default.
type TickConf struct {
	// Robot is the robot profile whose rate, limits and gates the loop
	// uses: a shipped profile's name or a file (robot.Load). Default
	// "franka" (1 kHz).
	Robot string
	// Duration is how long the loop runs, in real time. Default 30s.
	Duration time.Duration
	// Spin busy-waits this long before each deadline
	// (control.PreciseClock, what efferent run uses above 200 Hz).
	// Default 0: Go timers only (`efferent bench tick` passes 200µs).
	Spin time.Duration
	// Probe, when positive, first runs ProbeStalls for this long and adds
	// what it saw to the row. Default 0: no probe.
	Probe time.Duration
}

// Tick's policy: 20 Hz chunks of 10 actions, 20 ms per inference.
const (
	tickStep    = 50 * time.Millisecond
	tickHorizon = 10
	tickInfer   = 20 * time.Millisecond
)

// Tick runs the control loop for c.Duration in real time at the
// profile's rate, assembled by rig as efferent run does on a ROS robot:
// the scheduler interpolates 20 Hz chunks from a policy that takes 20 ms
// per chunk on its own goroutine, every setpoint passes the e-stop, the
// watchdog, the limits and the motion gate, and is handed to a publisher
// goroutine over the same kind of bounded queue the ROS bridge uses. Its
// one row is how late each tick ran (from its deadline to the hand-off),
// the deadlines missed and the heap allocations per tick of the whole
// process. A robot that does not load is an error prefixed "--robot: ",
// as rig.Run's.
func Tick(ctx context.Context, c TickConf) (Report, error) {
	rep := Report{Name: "tick", Targets: []string{"1 kHz tick: p99 jitter < 200 µs, zero missed deadlines, 0 allocs/tick"}}
	if c.Robot == "" {
		c.Robot = "franka"
	}
	prof, err := robot.Load(c.Robot)
	if err != nil {
		return rep, fmt.Errorf("--robot: %w", err)
	}
	if c.Duration == 0 {
		c.Duration = 30 * time.Second
	}
	var stalls Stalls
	if c.Probe > 0 {
		stalls = ProbeStalls(c.Probe)
	}
	row, err := tickRow(ctx, prof, c.Duration, c.Spin)
	if err != nil {
		return rep, err
	}
	if c.Probe > 0 {
		row.Extra["probe_seconds"] = c.Probe.Seconds()
		row.Extra["probe_stalls_over_1ms"] = float64(stalls.Over1ms)
		row.Extra["probe_stall_max_us"] = float64(stalls.Max.Microseconds())
	}
	rep.Rows = []Row{row}
	return rep, nil
}

// tickLoop assembles the loop through rig: the profile's limits and
// motion gate, the e-stop and a watchdog of two replanning periods.
func tickLoop(prof *robot.Profile, clock efferent.Clock, r control.Robot) (*control.Loop, error) {
	limits, err := rig.ProfileLimits(prof, tickStep)
	if err != nil {
		return nil, err
	}
	// The Franka's measured state: end effector, axis-angle, fingers.
	state := []float64{0.5, 0, 0.4, math.Pi, 0, 0, 0.04, -0.04}
	motion, err := rig.ProfileMotion(prof, state)
	if err != nil {
		return nil, err
	}
	wd, err := rig.Watchdog(0, 5, float64(time.Second)/float64(tickStep))
	if err != nil {
		return nil, err
	}
	pol := &tickPolicy{h: tickHorizon, d: prof.Action.Dim, delay: tickInfer, step: tickStep}
	return rig.NewLoop(rig.LoopConf{Robot: r, Policy: pol, Space: rig.ProfileSpace(prof),
		Gates:  rig.Gates{EStop: safety.NewEStop(nil), Watchdog: wd, Limits: limits, Motion: motion},
		RateHz: prof.RateHz, Clock: clock})
}

func tickRow(ctx context.Context, prof *robot.Profile, dur, spin time.Duration) (Row, error) {
	var clock efferent.Clock = efferent.SystemClock{}
	if spin > 0 {
		clock = control.PreciseClock{Spin: spin}
	}
	ticks := int(dur.Seconds() * prof.RateHz)
	r := &tickRobot{clock: clock, late: make([]time.Duration, 0, ticks+16), want: ticks, pub: make(chan tickMsg, 64)}
	loop, err := tickLoop(prof, clock, r)
	if err != nil {
		return Row{}, err
	}
	defer loop.Close()
	done := make(chan struct{})
	go r.publish(done)
	a0 := mallocs()
	err = loop.Run(ctx)
	allocs := float64(mallocs()-a0) / float64(max(1, len(r.late)))
	close(r.pub)
	<-done
	if err != nil {
		return Row{}, err
	}
	st := loop.Stats()
	row := durationRow(fmt.Sprintf("%s %.0f Hz, %v", prof.Name, prof.RateHz, dur), r.late)
	// A wake-up a period or more late skips deadlines (counted in
	// Overruns), and the tick then runs for the next deadline: the loop's
	// own record of its worst wake-up is the true maximum.
	row.Max = max(row.Max, float64(st.LateMax.Nanoseconds())/1e3)
	row.Allocs = allocs
	row.Extra = map[string]float64{"missed_deadlines": float64(st.Overruns), "ticks": float64(st.Ticks),
		"published": float64(r.published.Load()), "publish_drops": float64(r.dropped.Load()), "inferences": float64(st.Inferences)}
	row.Verdict = meets(row.P99 < 200 && st.Overruns == 0 && allocs < 0.01, "p99 < 200 µs, 0 missed, 0 allocs")
	return row, nil
}

// tickPolicy answers with a smooth chunk of small deltas after a fixed
// delay, allocating nothing.
type tickPolicy struct {
	h, d  int
	delay time.Duration
	step  time.Duration
	n     int
	timer *time.Timer
}

func (p *tickPolicy) Infer(ctx context.Context, obs *efferent.Observation, out *efferent.Chunk) error {
	if p.timer == nil {
		p.timer = time.NewTimer(p.delay)
	} else {
		p.timer.Reset(p.delay)
	}
	select {
	case <-ctx.Done():
		p.timer.Stop()
		return ctx.Err()
	case <-p.timer.C:
	}
	if cap(out.Actions) < p.h*p.d {
		out.Actions = make([]float64, p.h*p.d)
	}
	out.Actions = out.Actions[:p.h*p.d]
	for k := range p.h {
		for j := range p.d {
			out.Actions[k*p.d+j] = 0.3 * math.Sin(0.2*float64(p.n+k)+float64(j))
		}
	}
	p.n++
	out.H, out.D, out.ObsTime, out.Seq, out.StepPeriod = p.h, p.d, obs.Time, obs.Seq, p.step
	return nil
}

func (p *tickPolicy) Metadata() policy.Metadata {
	return policy.Metadata{Name: "bench", Horizon: p.h, Dim: p.d, StepPeriod: p.step, StateDim: 8}
}

func (p *tickPolicy) Close() error { return nil }

// tickMsg is one setpoint on its way to the publisher, by value.
type tickMsg struct {
	n    int
	hold bool
	v    [16]float64
}

// tickRobot measures each tick's lateness and hands the setpoint to a
// publisher goroutine, as the ROS bridge does.
type tickRobot struct {
	clock     efferent.Clock
	late      []time.Duration
	want      int
	pub       chan tickMsg
	published atomic.Uint64
	dropped   atomic.Uint64
}

func (r *tickRobot) Observe(obs *efferent.Observation) error {
	if cap(obs.State) < 8 {
		obs.State = make([]float64, 8)
	}
	obs.State = obs.State[:8]
	obs.Prompt = "put the red block in the blue bowl"
	return nil
}

func (r *tickRobot) Apply(sp *efferent.Setpoint) error {
	var m tickMsg
	m.n = copy(m.v[:], sp.Values)
	m.hold = sp.Hold
	select {
	case r.pub <- m:
	default:
		r.dropped.Add(1)
	}
	r.late = append(r.late, r.clock.Now().Sub(sp.Time))
	return nil
}

func (r *tickRobot) Done() bool { return len(r.late) >= r.want }

// publish stands for the bridge's owner goroutine: it serialises each
// setpoint into a fixed buffer.
func (r *tickRobot) publish(done chan<- struct{}) {
	defer close(done)
	var buf [16 * 8]byte
	for m := range r.pub {
		for i := range m.n {
			b := math.Float64bits(m.v[i])
			for k := range 8 {
				buf[i*8+k] = byte(b >> (8 * k))
			}
		}
		r.published.Add(1)
	}
}
