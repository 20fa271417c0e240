package rig

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/camera"
	"github.com/efferent/efferent/control"
	"github.com/efferent/efferent/policy"
	"github.com/efferent/efferent/robot"
	"github.com/efferent/efferent/ros"
	"github.com/efferent/efferent/safety"
	"github.com/efferent/efferent/viewer"
)

// ParseCameras maps camera specs (ROSConf.Cameras) onto the model's image
// keys: ROS topics, and other sources (devices, files, streams) by key to
// their URI.
func ParseCameras(vals, keys []string) ([]ros.Camera, map[string]string, error) {
	var cams []ros.Camera
	others := map[string]string{}
	used := map[string]bool{}
	next := 0
	for _, v := range vals {
		key, src, hasKey := strings.Cut(v, "=")
		if !hasKey {
			key, src = "", v
		}
		if src == "" {
			return nil, nil, fmt.Errorf("--camera %q: no source", v)
		}
		if key == "" {
			for next < len(keys) && used[keys[next]] {
				next++
			}
			if next >= len(keys) {
				return nil, nil, fmt.Errorf("--camera %q: the model has only %d cameras (%v)", v, len(keys), keys)
			}
			key = keys[next]
		}
		if used[key] {
			return nil, nil, fmt.Errorf("--camera %q: camera %q given twice", v, key)
		}
		used[key] = true
		if topic, ok := strings.CutPrefix(src, "ros:"); ok {
			cams = append(cams, ros.Camera{Key: key, Topic: topic, Compressed: strings.HasSuffix(topic, "/compressed")})
		} else {
			others[key] = src
		}
	}
	var missing []string
	for _, k := range keys {
		if !used[k] {
			missing = append(missing, k)
		}
	}
	if missing != nil {
		return nil, nil, fmt.Errorf("--camera: the model needs cameras %v; give each a source (e.g. --camera %s=ros:/camera/color/image_raw)", missing, missing[0])
	}
	return cams, others, nil
}

// rosPolicy opens the run's policy for prof: in the robot's frame
// (observation.state.robot_base), with the profile's dims.
func rosPolicy(ctx context.Context, c *Conf, p *Parts, prof *robot.Profile) (policy.Policy, string, error) {
	ref := c.Policy
	if ref == "auto" || ref == "" {
		ref = c.Model
	}
	pols, err := ResolvePolicy(ctx, ref, PolicyConf{Model: c.Model, Token: c.Server.AuthToken, Open: p.Open, Log: p.Log})
	if err != nil {
		return nil, "", err
	}
	pol, err := pols.Open(0)
	if err != nil {
		return nil, "", err
	}
	// A model trained in another frame (the simulator's world) sees the
	// measured pose moved into it (observation.state.robot_base).
	pol = withRobotBase(pol)
	dims := prof.Action.PolicyDims
	if md := pol.Metadata(); len(dims) == 0 && md.Dim == prof.Action.Dim {
		// The dims agree, but they may mean something else (an explicit
		// action.policy_dims is the operator's mapping, and other dims
		// are refused below with the way to map them).
		if err := spaceFits(md.ActionSpace, prof); err != nil {
			pol.Close()
			return nil, "", fmt.Errorf("policy %s on robot profile %s: %w", pols.Name, prof.Name, err)
		}
	}
	if len(dims) == 0 && prof.Action.Mapping == robot.MappingTwist && pol.Metadata().ActionSpace == policy.SpaceQuadrupedCommand {
		// A command vector's first three dims are the twist, zeroed by its
		// stop flag; a robot that takes only velocities keeps its gait
		// controller's own height and gait.
		tw, err := policy.CommandTwist(pol)
		if err != nil {
			pol.Close()
			return nil, "", err
		}
		pol = tw
	}
	if len(dims) > 0 {
		// The profile (or the policy's declared command vector) says which
		// of the policy's dims drive the robot's.
		sel, err := policy.SelectDims(pol, dims)
		if err != nil {
			pol.Close()
			return nil, "", fmt.Errorf("robot profile %s: action.policy_dims: %w", prof.Name, err)
		}
		pol = sel
	}
	if md := pol.Metadata(); md.Dim != 0 && md.Dim != prof.Action.Dim {
		pol.Close()
		return nil, "", DimMismatch(prof, pols.Name, md.Dim)
	}
	return pol, pols.Name, nil
}

// rosCameras opens the cameras of a ROS run: the configured ones, else the
// profile's default topics. close closes the non-ROS sources.
func rosCameras(c *Conf, p *Parts, prof *robot.Profile, keys []string) (cams []ros.Camera, sources map[string]camera.Source, close func(), err error) {
	specs := c.ROS.Cameras
	if len(specs) == 0 {
		// The profile's default topics (franka: efferent sim ros's).
		for _, key := range keys {
			if topic := prof.Cameras.Topics[key]; topic != "" {
				specs = append(specs, key+"=ros:"+topic)
			}
		}
	}
	cams, others, err := ParseCameras(specs, keys)
	if err != nil {
		return nil, nil, nil, err
	}
	sources = map[string]camera.Source{}
	close = func() {
		for _, s := range sources {
			s.Close()
		}
	}
	for key, uri := range others {
		if p.OpenCamera == nil {
			return nil, nil, nil, fmt.Errorf("--camera %s=%s: this build opens no cameras but ROS topics", key, uri)
		}
		src, err := p.OpenCamera(uri)
		if err != nil {
			close()
			return nil, nil, nil, fmt.Errorf("--camera %s=%s: %w", key, uri, err)
		}
		sources[key] = src
	}
	return cams, sources, close, nil
}

// rosRun is one run on a ROS robot: what its steps share.
type rosRun struct {
	c       *Conf
	p       *Parts
	prof    *robot.Profile
	space   Space
	pol     policy.Policy // with its taps
	name    string        // the policy's
	md      policy.Metadata
	estop   *safety.EStop
	live    *robotLive
	view    *robotViewer
	bridge  *ros.Bridge
	closers []func()
}

// runROS drives a ROS robot with a policy until interrupted.
func runROS(ctx context.Context, c *Conf, p *Parts, prof *robot.Profile) error {
	if c.Task == "" {
		return errors.New("--task: give the instruction for the robot (e.g. --task \"put the cup on the plate\")")
	}
	r := &rosRun{c: c, p: p, prof: prof, space: ProfileSpace(prof)}
	defer r.close()
	if err := r.open(ctx); err != nil {
		return err
	}
	if c.Premise != nil && *c.Premise {
		// Opt-in on real robots: the shipped checker knows the simulator's
		// objects only.
		if err := waitPremise(ctx, r.bridge, r.view, c.Task, r.md.ImageKeys, p, r.prof.Legged()); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil // interrupted while the instruction was refused
		}
	}
	gates, motion, err := r.gates(ctx)
	if err != nil || gates.Limits == nil {
		return err // nil: interrupted while an input was stale
	}
	err = r.drive(ctx, gates, motion)
	if ctx.Err() != nil { // interrupted: the way a ROS run ends
		return nil
	}
	return err
}

// close undoes open, last first.
func (r *rosRun) close() {
	for i := len(r.closers) - 1; i >= 0; i-- {
		r.closers[i]()
	}
}

// open opens the policy, the cameras, the viewer or /metrics, and the
// bridge, and waits until the robot's inputs arrive.
func (r *rosRun) open(ctx context.Context) (err error) {
	c, p, log := r.c, r.p, r.p.Log
	if r.pol, r.name, err = rosPolicy(ctx, c, p, r.prof); err != nil {
		return err
	}
	pol := r.pol
	r.closers = append(r.closers, func() { pol.Close() })
	r.md = r.pol.Metadata()
	cams, sources, closeCams, err := rosCameras(c, p, r.prof, r.md.ImageKeys)
	if err != nil {
		return err
	}
	r.closers = append(r.closers, closeCams)
	r.estop = NewEStop(ctx, log)
	r.live = &robotLive{estop: r.estop}
	if c.Viewer {
		if r.view, err = newRobotViewer(ctx, c, p, r.prof.Name, r.space, r.estop, r.live); err != nil {
			return err
		}
		r.closers = append(r.closers, r.view.close)
		r.pol = viewer.Policy{Policy: r.pol, V: r.view.v}
	} else if c.Metrics {
		stopMetrics, err := serveMetrics(ctx, c.Server, r.live, log)
		if err != nil {
			return err
		}
		r.closers = append(r.closers, stopMetrics)
	}
	r.bridge, err = ros.New(ros.Conf{Profile: r.prof, Master: c.ROS.Master, Cameras: cams, Sources: sources, StateDim: r.md.StateDim,
		Instruction: c.Task, DecodeImage: p.DecodeImage, Log: log, EStop: r.estop.Trigger})
	if err != nil {
		return err
	}
	r.closers = append(r.closers, func() { r.bridge.Close() })
	r.live.bridge.Store(r.bridge)
	log.Info("connected to ROS", "robot", r.prof.Name, "command", r.prof.Command.Topic, "type", r.prof.Command.Type,
		"rate_hz", r.prof.RateHz, "policy", r.name, "instruction", c.Task)
	wctx, cancel := context.WithTimeout(ctx, c.ROS.ReadyTimeout)
	defer cancel()
	return r.bridge.WaitReady(wctx)
}

// gates builds the run's gates; the motion gate starts from the measured
// state. Limits is nil when ctx ended while an input was stale.
func (r *rosRun) gates(ctx context.Context) (Gates, *safety.MotionGate, error) {
	prof := r.prof
	g := Gates{EStop: r.estop}
	if r.view != nil {
		g.Teleop = r.view.mux
	}
	step := r.md.StepPeriod
	if step == 0 {
		step = 50 * time.Millisecond
	}
	limits, err := ProfileLimits(prof, step)
	if err != nil {
		return g, nil, fmt.Errorf("robot profile %s: gate: %w", prof.Name, err)
	}
	if g.Watchdog, err = Watchdog(r.c.Watchdog, r.c.Scheduler.WithDefaults().ReplanSteps, float64(time.Second)/float64(step)); err != nil {
		return g, nil, err
	}
	var obs efferent.Observation
	if err := observeFresh(ctx, r.bridge, &obs); err != nil {
		if ctx.Err() != nil {
			return g, nil, nil
		}
		return g, nil, err
	}
	motion, err := ProfileMotion(prof, obs.State)
	if err != nil {
		return g, nil, fmt.Errorf("robot profile %s: motion gate: %w", prof.Name, err)
	}
	g.Limits = limits
	return g, motion, nil
}

// drive runs the loop until ctx ends and logs what it and the bridge
// counted.
func (r *rosRun) drive(ctx context.Context, gates Gates, motion *safety.MotionGate) error {
	measured := &measuredRobot{Bridge: r.bridge}
	if motion != nil {
		// Every hold before it (e-stop, watchdog, refusal) becomes a
		// controlled stop within the acceleration and jerk limits. Its
		// end-effector position follows the measured one (rosframe.go).
		gates.Motion = rebasedMotion{MotionGate: motion, robot: measured}
	}
	var clock efferent.Clock = efferent.SystemClock{}
	if r.prof.RateHz >= 200 {
		// Go timers wake with ~1 ms granularity: spin the last 200 µs.
		clock = control.PreciseClock{Spin: 200 * time.Microsecond}
	}
	bridge, view := r.bridge, r.view
	loop, err := NewLoop(LoopConf{Clock: clock, Policy: r.pol, Robot: measured, Space: r.space, Gates: gates, Scheduler: r.c.Scheduler,
		RateHz: r.prof.RateHz, OnTick: func(sp *efferent.Setpoint, v efferent.Verdict) {
			bridge.Report(v)
			if view != nil {
				view.v.Tick(sp, v)
			}
		}})
	if err != nil {
		return err
	}
	defer loop.Close()
	r.live.loop.Store(loop)
	err = loop.Run(ctx)
	st, bs := loop.Stats(), bridge.Stats()
	log := r.p.Log
	log.Info("stopped", "ticks", st.Ticks, "holds", st.Holds, "inferences", st.Inferences, "infer_errors", st.InferErrors,
		"stale_events", st.StaleEvents, "stale_holds", st.StaleHolds, "not_ready", st.NotReady, "discarded_chunks", st.Discarded,
		"chunk_waits", st.Waits, "wait_misses", st.WaitMisses, "lead", st.Lead.Round(time.Microsecond), "slow_ticks", st.Chunks.SlowTicks,
		"published", bs.Published, "dropped", bs.Dropped, "bridge_stale_holds", bs.StaleHolds, "clock_skews", bs.ClockSkews,
		"master_losses", bs.MasterLosses, "reconnects", bs.Reconnects)
	if motion != nil {
		mc := motion.Counts()
		log.Info("motion gate", "allowed", mc.Allowed, "position", mc.Position, "velocity", mc.Velocity, "acceleration", mc.Acceleration,
			"jerk", mc.Jerk, "converging", mc.Converging, "rejected", mc.Rejected, "held", mc.Hold, "nan", mc.NaN)
	}
	return err
}

// observeFresh observes the robot, waiting while an input is stale (a
// camera's hiccup is a wait, not the end of the run), until ctx ends.
func observeFresh(ctx context.Context, bridge *ros.Bridge, obs *efferent.Observation) error {
	for {
		err := bridge.Observe(obs)
		if !errors.Is(err, efferent.ErrStaleInput) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitPremise checks the instruction on the robot's cameras before
// anything moves, and while it is refused keeps the robot still, reports
// the verdict on the status topic and checks again every second (the
// object may be put in view), until it is accepted or ctx ends. A legged
// robot's instructions are checked against the legged simulator's objects
// (balls, cones, doors …), an arm's against the tabletop's.
func waitPremise(ctx context.Context, bridge *ros.Bridge, view *robotViewer, instr string, keys []string, p *Parts, legged bool) error {
	newChecker := SimPremiseChecker
	if legged {
		newChecker = LeggedPremiseChecker
	}
	checker, err := newChecker(0, p.Detector)
	if err != nil {
		return err
	}
	observe := func(obs *efferent.Observation) error {
		// Consecutive frames, not the same one three times.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		return observeFresh(ctx, bridge, obs)
	}
	for {
		bridge.ReportPremise("pending", "checking the instruction")
		v, err := CheckPremise(checker.NewSession(), instr, keys, observe, p.Log)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		bridge.ReportPremise(string(v.Decision), v.Reason())
		if view != nil {
			view.v.Premise(instr, string(v.Decision), v.Reason())
		}
		if v.Allows() {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

// spaceFits refuses a policy whose declared action space (action.space)
// means something else than the profile's actions, even where the dims
// agree: LIBERO's 7 end-effector deltas are not a quadruped's 7-d command
// vector.
func spaceFits(space string, prof *robot.Profile) error {
	m := prof.Action.Mapping
	return spaceMismatch(space, m == robot.MappingEEDelta, prof.Legged(), m)
}

// spaceMismatch refuses a declared action space on a robot that is not
// its kind: LIBERO's deltas drive an arm (arm), a quadruped's command
// vector a legged base (legs); takes says what the robot takes instead.
// The ROS profiles and the simulators share it.
func spaceMismatch(space string, arm, legs bool, takes string) error {
	switch {
	case space == policy.SpaceLIBERO && !arm:
		return fmt.Errorf("its actions are LIBERO's end-effector deltas, the robot takes %s", takes)
	case space == policy.SpaceQuadrupedCommand && !legs:
		return fmt.Errorf("its actions are a quadruped's command vector, the robot takes %s", takes)
	}
	return nil
}
