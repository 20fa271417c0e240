package main

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/control"
	"github.com/efferent/efferent/policy"
	"github.com/efferent/efferent/robot"
	"github.com/efferent/efferent/safety"
)

func benchTickCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tick",
		Short: "The real-time path at the robot's rate in real time: scheduler, the whole safety chain and the hand-off to the publisher; jitter, missed deadlines, allocations",
		Long: `bench tick runs the control loop for --duration in real time at the robot
profile's rate (1 kHz for the Franka), exactly as efferent run does on a ROS
robot: the scheduler interpolates 20 Hz chunks from a policy that takes 20 ms
per chunk on its own goroutine, every setpoint passes the e-stop, the
watchdog, the limits and the motion gate, and is handed to a publisher
goroutine over the same kind of bounded queue the ROS bridge uses. It
reports how late each tick ran (from its deadline to the hand-off: p50,
p99, max), the deadlines missed, and the heap allocations per tick of the
whole process.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := cmd.Flags()
			dur, _ := f.GetDuration("duration")
			ref, _ := f.GetString("robot")
			spin, _ := f.GetDuration("spin")
			out, _ := f.GetString("out")
			if dur < 100*time.Millisecond || dur > time.Hour {
				return fmt.Errorf("--duration %v: want 100ms .. 1h", dur)
			}
			prof, err := robot.Load(ref)
			if err != nil {
				return fmt.Errorf("--robot: %w", err)
			}
			probe, _ := f.GetDuration("probe")
			var stalls machineStalls
			if probe > 0 {
				stalls = probeStalls(probe)
			}
			row, err := benchTick(cmd.Context(), prof, dur, spin)
			if err != nil {
				return err
			}
			if probe > 0 {
				row.Extra["probe_seconds"] = probe.Seconds()
				row.Extra["probe_stalls_over_1ms"] = float64(stalls.over1ms)
				row.Extra["probe_stall_max_us"] = float64(stalls.max.Microseconds())
			}
			rep := benchReport{Name: "tick", Rows: []benchRow{row},
				Targets: []string{"1 kHz tick: p99 jitter < 200 µs, zero missed deadlines, 0 allocs/tick"}}
			return writeBench(cmd.OutOrStdout(), out, rep)
		},
	}
	f := cmd.Flags()
	f.Duration("duration", 30*time.Second, "how long to run")
	f.String("robot", "franka", "robot profile whose rate, limits and gates to use")
	f.Duration("spin", 200*time.Microsecond, "busy-wait this long before each deadline (what efferent run uses above 200 Hz); 0: Go timers only")
	f.Duration("probe", 5*time.Second, "first measure the machine itself for this long: a busy loop on one thread counting the gaps over 1 ms it sees (the hypervisor or kernel taking the CPU away); 0: skip")
	addBenchOut(f)
	return cmd
}

func benchTick(ctx context.Context, prof *robot.Profile, dur, spin time.Duration) (benchRow, error) {
	var clock efferent.Clock = efferent.SystemClock{}
	if spin > 0 {
		clock = control.PreciseClock{Spin: spin}
	}
	step := 50 * time.Millisecond
	limits, err := profileGate(prof, step)
	if err != nil {
		return benchRow{}, err
	}
	state := []float64{0.5, 0, 0.4, math.Pi, 0, 0, 0.04, -0.04}
	motion, err := profileMotion(prof, state)
	if err != nil {
		return benchRow{}, err
	}
	wd, err := safety.NewWatchdog(safety.DefaultWatchdog(5 * step))
	if err != nil {
		return benchRow{}, err
	}
	gate := safety.Chain{safety.NewEStop(nil), wd, limits}
	if motion != nil {
		gate = append(gate, motion)
	}
	ticks := int(dur.Seconds() * prof.RateHz)
	r := &tickRobot{clock: clock, late: make([]time.Duration, 0, ticks+16), want: ticks, pub: make(chan tickMsg, 64), dim: prof.Action.Dim}
	done := make(chan struct{})
	go r.publish(done)
	sc := control.SchedulerConf{Kinds: profileKinds(prof)}
	loop, err := control.New(control.LoopConf{Clock: clock, Policy: &tickPolicy{h: 10, d: prof.Action.Dim, delay: 20 * time.Millisecond, step: step},
		Robot: r, Gate: gate, Scheduler: sc, RateHz: prof.RateHz})
	if err != nil {
		return benchRow{}, err
	}
	defer loop.Close()
	a0 := mallocs()
	err = loop.Run(ctx)
	allocs := float64(mallocs()-a0) / float64(max(1, len(r.late)))
	close(r.pub)
	<-done
	if err != nil {
		return benchRow{}, err
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
	want, dim int
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

// machineStalls is what a busy loop saw: gaps over 1 ms between two reads
// of the clock, which only the kernel or the hypervisor can cause.
type machineStalls struct {
	over1ms int
	max     time.Duration
}

// probeStalls spins on one OS thread for d, reading the clock.
func probeStalls(d time.Duration) machineStalls {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var s machineStalls
	prev := time.Now()
	end := prev.Add(d)
	for {
		now := time.Now()
		if now.After(end) {
			return s
		}
		if g := now.Sub(prev); g > time.Millisecond {
			s.over1ms++
			s.max = max(s.max, g)
		}
		prev = now
	}
}
