package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/camera"
	camcv "github.com/efferent/efferent/camera/cv"
	"github.com/efferent/efferent/control"
	"github.com/efferent/efferent/policy"
	"github.com/efferent/efferent/robot"
	"github.com/efferent/efferent/ros"
	"github.com/efferent/efferent/safety"
	"github.com/efferent/efferent/teleop"
	"github.com/efferent/efferent/viewer"
)

func addROSFlags(f *pflag.FlagSet) {
	f.String("ros-master", "", "ROS master host:port (default: $ROS_MASTER_URI, else 127.0.0.1:11311)")
	f.StringArray("camera", nil, "camera for a ROS robot, the model's cameras in order or KEY=SOURCE: ros:/topic (a topic ending in "+
		"/compressed carries sensor_msgs/CompressedImage), a V4L2 device (0, /dev/video0), a video file, rtsp:// or http:// stream, dir:PATH")
	f.Duration("ready-timeout", 10*time.Second, "how long to wait for the robot's state and cameras before giving up")
}

// parseCameras maps --camera values onto the model's image keys: ROS
// topics, and other sources (devices, files, streams) by key to their URI.
func parseCameras(vals, keys []string) ([]ros.Camera, map[string]string, error) {
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

// profileKinds is how the scheduler interpolates and the gate limits each
// action dimension of a profile's mapping.
func profileKinds(p *robot.Profile) []safety.Kind {
	kinds := make([]safety.Kind, p.Action.Dim)
	if p.Action.Mapping == robot.MappingEEDelta {
		for i := range kinds {
			kinds[i] = safety.Delta
		}
		kinds[6] = safety.Binary
	}
	return kinds
}

// profileGate bounds each dimension at the controller tick: ee_delta
// values to ±1 policy unit per step (spread over its ticks) and the
// gripper to ±1; joint positions to their range and velocity; twists to
// their caps.
func profileGate(p *robot.Profile, stepPeriod time.Duration) (*safety.LimitGate, error) {
	d := p.Action.Dim
	lo, hi := make([]float64, d), make([]float64, d)
	var step []float64
	perTick := p.Period().Seconds() / stepPeriod.Seconds()
	l := p.Limits
	for i := range d {
		lo[i], hi[i] = -1, 1
		switch p.Action.Mapping {
		case robot.MappingEEDelta:
			if i < 6 {
				lo[i], hi[i] = -perTick, perTick
			}
		case robot.MappingJointPosition:
			lo[i], hi[i] = l.JointMin[i], l.JointMax[i]
			if step == nil {
				step = make([]float64, d)
			}
			step[i] = l.JointVelocity[i] * p.Period().Seconds()
		case robot.MappingTwist:
			caps := []float64{l.MaxVx, l.MaxVy, l.MaxWz}
			if i < 3 {
				lo[i], hi[i] = -caps[i], caps[i]
			}
		}
	}
	return safety.NewLimits(safety.LimitsConf{Min: lo, Max: hi, MaxStep: step, Kinds: profileKinds(p)})
}

// profileMotion is the motion gate for a profile's mapping (nil when the
// profile bounds no acceleration): end-effector deltas integrated in
// metres and radians within the workspace box, joints within their range,
// twist components as rate commands; each bounded in velocity,
// acceleration and jerk at the controller period. state is the robot's
// measured state as Observe reports it (the end effector's position
// first, or the joints), where the integration and the joints start.
func profileMotion(p *robot.Profile, state []float64) (*safety.MotionGate, error) {
	l, d := p.Limits, p.Action.Dim
	conf := safety.MotionConf{Period: p.Period(), Axes: make([]safety.Axis, d), Initial: make([]float64, d)}
	var err error
	for i, r := range []struct {
		dst *safety.Response
		s   string
	}{{&conf.OnPosition, l.OnViolation.Position}, {&conf.OnVelocity, l.OnViolation.Velocity},
		{&conf.OnAcceleration, l.OnViolation.Acceleration}, {&conf.OnJerk, l.OnViolation.Jerk}} {
		if *r.dst, err = safety.ParseResponse(r.s); err != nil {
			return nil, fmt.Errorf("limits.on_violation (%d): %w", i, err)
		}
	}
	limited := false
	for i := range d {
		ax := &conf.Axes[i]
		ax.Kind = safety.Binary
		switch p.Action.Mapping {
		case robot.MappingEEDelta:
			if i >= 6 {
				continue
			}
			ax.Kind, ax.Scale = safety.Delta, p.Action.TranslationScale
			ax.Velocity, ax.Acceleration, ax.Jerk = l.MaxSpeed, l.MaxAccel, l.MaxJerk
			// Drop what the limits hold back rather than bank 100 ms of
			// it: the policy closes the loop on the measured pose, and
			// banked motion ran on after it asked to stop (efferent sim
			// ros: 10/20 → 16/20 successes, the arm no longer hitting the
			// table or releasing below the bowl's floor).
			ax.Lead = 10 * time.Millisecond
			if i < 3 {
				ax.Min, ax.Max = l.WorkspaceMin[i], l.WorkspaceMax[i]
				if i < len(state) {
					conf.Initial[i] = state[i]
				}
			} else {
				ax.Scale = p.Action.RotationScale
				ax.Velocity, ax.Acceleration, ax.Jerk = l.MaxRotationSpeed, l.MaxRotationAccel, l.MaxRotationJerk
			}
		case robot.MappingJointPosition:
			if l.JointAcceleration == nil {
				continue
			}
			ax.Kind = safety.Absolute
			ax.Min, ax.Max = l.JointMin[i], l.JointMax[i]
			ax.Velocity, ax.Acceleration = l.JointVelocity[i], l.JointAcceleration[i]
			if l.JointJerk != nil {
				ax.Jerk = l.JointJerk[i]
			}
			if i < len(state) {
				conf.Initial[i] = state[i]
			}
		case robot.MappingTwist:
			if i >= 3 || l.MaxJerk == 0 {
				continue
			}
			caps := []float64{l.MaxVx, l.MaxVy, l.MaxWz}
			ax.Kind, ax.Rate = safety.Absolute, true
			ax.Min, ax.Max = -caps[i], caps[i]
			// The command is a velocity: its rate of change is the
			// acceleration, its second derivative the jerk.
			ax.Velocity, ax.Acceleration = l.MaxAccel, l.MaxJerk
		default:
			continue
		}
		if ax.Velocity > 0 && ax.Acceleration > 0 {
			limited = true
		} else {
			ax.Kind, ax.Velocity, ax.Acceleration, ax.Jerk = safety.Binary, 0, 0, 0
		}
	}
	if !limited {
		return nil, nil
	}
	return safety.NewMotion(conf)
}

// dimMismatch is the error for a policy whose actions do not have the
// profile's dims: it says how to map them (action.policy_dims).
func dimMismatch(p *robot.Profile, policyName string, dim int) error {
	what, eg := p.Action.Mapping, ""
	switch p.Action.Mapping {
	case robot.MappingTwist:
		what = "twist: vx, vy, wz"
		if dim >= 3 {
			eg = "[0, 1, 2]"
		}
	case robot.MappingEEDelta:
		what = "ee_delta: Δxyz, Δaxis-angle, gripper"
	}
	if eg == "" && dim >= p.Action.Dim {
		idx := make([]string, p.Action.Dim)
		for i := range idx {
			idx[i] = strconv.Itoa(i)
		}
		eg = "[" + strings.Join(idx, ", ") + "]"
	}
	msg := fmt.Sprintf("robot profile %s takes %d-dim actions (%s), policy %s produces %d", p.Name, p.Action.Dim, what, policyName, dim)
	if eg == "" {
		return fmt.Errorf("%s: the policy has too few action dims for this robot", msg)
	}
	return fmt.Errorf("%s: to drive the robot with %d of its dims, say which in a profile of your own: a YAML file with `base: %s` and `action: {policy_dims: %s}` "+
		"(entry i: the policy's dim that drives the profile's dim i; the others are dropped), then --robot FILE", msg, p.Action.Dim, p.Name, eg)
}

// runROS drives a ROS robot with a policy until interrupted.
func runROS(ctx context.Context, f *pflag.FlagSet, cfg Config, prof *robot.Profile, log *slog.Logger) error {
	ref, _ := f.GetString("policy")
	instr, _ := f.GetString("task")
	if instr == "" {
		return errors.New("--task: give the instruction for the robot (e.g. --task \"put the cup on the plate\")")
	}
	master, _ := f.GetString("ros-master")
	camFlags, _ := f.GetStringArray("camera")
	readyTimeout, _ := f.GetDuration("ready-timeout")
	if ref == "auto" || ref == "" {
		ref = cfg.Model
	}
	if ref == "expert" {
		return errors.New("--policy expert: the scripted expert exists only in the simulator")
	}
	newPolicy, name, err := policyFactory(ctx, ref, cfg, log)
	if err != nil {
		return err
	}
	pol, err := newPolicy(0, nil)
	if err != nil {
		return err
	}
	defer pol.Close()
	// A model trained in another frame (the simulator's world) sees the
	// measured pose moved into it (observation.state.robot_base).
	pol = withRobotBase(pol)
	if dims := prof.Action.PolicyDims; len(dims) > 0 {
		// The profile says which of the policy's dims drive its own.
		if pol, err = policy.SelectDims(pol, dims); err != nil {
			return fmt.Errorf("robot profile %s: action.policy_dims: %w", prof.Name, err)
		}
	}
	md := pol.Metadata()
	if md.Dim != 0 && md.Dim != prof.Action.Dim {
		return dimMismatch(prof, name, md.Dim)
	}
	if len(camFlags) == 0 {
		// The profile's default topics (franka: efferent sim ros's).
		for _, key := range md.ImageKeys {
			if topic := prof.Cameras.Topics[key]; topic != "" {
				camFlags = append(camFlags, key+"=ros:"+topic)
			}
		}
	}
	cams, others, err := parseCameras(camFlags, md.ImageKeys)
	if err != nil {
		return err
	}
	sources := map[string]camera.Source{}
	for key, uri := range others {
		src, err := camcv.OpenCapture(camcv.CaptureConf{URI: uri})
		if err != nil {
			return fmt.Errorf("--camera %s=%s: %w", key, uri, err)
		}
		defer src.Close()
		sources[key] = src
	}
	estop := newEStop(ctx, log)
	live := &robotLive{estop: estop}
	var view *robotViewer
	if on, _ := f.GetBool("viewer"); on {
		if view, err = newRobotViewer(ctx, cfg, prof, estop, live, log); err != nil {
			return err
		}
		defer view.close()
		pol = viewer.Policy{Policy: pol, V: view.v}
	} else if on, _ := f.GetBool("metrics"); on {
		stopMetrics, err := serveMetrics(ctx, cfg, live, log)
		if err != nil {
			return err
		}
		defer stopMetrics()
	}
	bridge, err := ros.New(ros.Conf{Profile: prof, Master: master, Cameras: cams, Sources: sources, StateDim: md.StateDim,
		Instruction: instr, DecodeImage: camcv.DecodeImage, Log: log, EStop: estop.Trigger})
	if err != nil {
		return err
	}
	defer bridge.Close()
	live.bridge.Store(bridge)
	log.Info("connected to ROS", "robot", prof.Name, "command", prof.Command.Topic, "type", prof.Command.Type,
		"rate_hz", prof.RateHz, "policy", name, "instruction", instr)
	wctx, cancel := context.WithTimeout(ctx, readyTimeout)
	err = bridge.WaitReady(wctx)
	cancel()
	if err != nil {
		return err
	}
	if on, _ := f.GetBool("premise"); on && f.Changed("premise") {
		// Opt-in on real robots: the shipped checker knows the simulator's
		// objects only.
		if err := waitPremise(ctx, bridge, view, instr, md.ImageKeys, log); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil // interrupted while the instruction was refused
		}
	}
	step := md.StepPeriod
	if step == 0 {
		step = 50 * time.Millisecond
	}
	limits, err := profileGate(prof, step)
	if err != nil {
		return fmt.Errorf("robot profile %s: gate: %w", prof.Name, err)
	}
	sc := schedulerConf(f)
	sc.Kinds = profileKinds(prof)
	guards, err := realtimeGuards(f, estop, sc, float64(time.Second)/float64(step), false)
	if err != nil {
		return err
	}
	if view != nil {
		// The teleop gate first: a teleoperator passes every gate after it.
		guards = append([]safety.Gate{view.mux}, guards...)
	}
	gate := append(safety.Chain(guards), limits)
	var obs efferent.Observation
	if err := observeFresh(ctx, bridge, &obs); err != nil {
		if ctx.Err() != nil {
			return nil // interrupted while an input was stale
		}
		return err
	}
	motion, err := profileMotion(prof, obs.State)
	if err != nil {
		return fmt.Errorf("robot profile %s: motion gate: %w", prof.Name, err)
	}
	measured := &measuredRobot{Bridge: bridge}
	if motion != nil {
		// Last: every hold before it (e-stop, watchdog, refusal) becomes a
		// controlled stop within the acceleration and jerk limits. Its
		// end-effector position follows the measured one (rosframe.go).
		gate = append(gate, rebasedMotion{MotionGate: motion, robot: measured})
	}
	var clock efferent.Clock = efferent.SystemClock{}
	if prof.RateHz >= 200 {
		// Go timers wake with ~1 ms granularity: spin the last 200 µs.
		clock = control.PreciseClock{Spin: 200 * time.Microsecond}
	}
	loop, err := control.New(control.LoopConf{Clock: clock, Policy: pol, Robot: measured, Gate: gate, Scheduler: sc,
		RateHz: prof.RateHz, OnTick: func(sp *efferent.Setpoint, v efferent.Verdict) {
			bridge.Report(v)
			if view != nil {
				view.v.Tick(sp, v)
			}
		}})
	if err != nil {
		return err
	}
	defer loop.Close()
	live.loop.Store(loop)
	err = loop.Run(ctx)
	st, bs := loop.Stats(), bridge.Stats()
	log.Info("stopped", "ticks", st.Ticks, "holds", st.Holds, "inferences", st.Inferences, "infer_errors", st.InferErrors,
		"stale_events", st.StaleEvents, "stale_holds", st.StaleHolds, "not_ready", st.NotReady, "discarded_chunks", st.Discarded,
		"chunk_waits", st.Waits, "wait_misses", st.WaitMisses, "lead", st.Lead.Round(time.Microsecond),
		"published", bs.Published, "dropped", bs.Dropped, "bridge_stale_holds", bs.StaleHolds, "clock_skews", bs.ClockSkews,
		"master_losses", bs.MasterLosses, "reconnects", bs.Reconnects)
	if motion != nil {
		mc := motion.Counts()
		log.Info("motion gate", "allowed", mc.Allowed, "position", mc.Position, "velocity", mc.Velocity, "acceleration", mc.Acceleration,
			"jerk", mc.Jerk, "converging", mc.Converging, "rejected", mc.Rejected, "held", mc.Hold, "nan", mc.NaN)
	}
	if ctx.Err() != nil { // interrupted: the way a ROS run ends
		return nil
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
// object may be put in view), until it is accepted or ctx ends.
func waitPremise(ctx context.Context, bridge *ros.Bridge, view *robotViewer, instr string, keys []string, log *slog.Logger) error {
	checker, err := simPremiseChecker(0)
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
		v, err := checkInstruction(checker.NewSession(), instr, keys, observe, log)
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

// robotViewer is --viewer on a ROS robot: the page on its own listener at
// --addr (the token as for the server), the teleop gate, the run's e-stop.
type robotViewer struct {
	v    *viewer.Viewer
	mux  *teleop.Mux
	stop func()
}

func newRobotViewer(ctx context.Context, cfg Config, prof *robot.Profile, estop *safety.EStop, live *robotLive, log *slog.Logger) (*robotViewer, error) {
	dims := profileDims(prof)
	grip := -1
	if prof.Action.Mapping == robot.MappingEEDelta {
		grip = 6
	}
	mux, err := teleop.New(teleop.Conf{Dim: prof.Action.Dim, Gripper: grip})
	if err != nil {
		return nil, err
	}
	conf := viewerConf(cfg, "efferent run --robot "+prof.Name, log)
	conf.Teleop, conf.EStop, conf.Dims = mux, estop, dims
	conf.Inputs = live.viewerInputs
	if conf.Routes, err = live.metricsRoute(cfg); err != nil {
		return nil, err
	}
	v, err := viewer.New(conf)
	if err != nil {
		return nil, fmt.Errorf("--viewer: %w", err)
	}
	stop, err := serveViewer(ctx, v, cfg.Server.Addr, conf.Token != "", log)
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

// profileDims names a profile's action dimensions for the viewer.
func profileDims(p *robot.Profile) []string {
	dims := make([]string, p.Action.Dim)
	for i := range dims {
		switch {
		case p.Action.Mapping == robot.MappingEEDelta && i < len(simDims):
			dims[i] = simDims[i]
		case p.Action.Mapping == robot.MappingTwist && i < 3:
			dims[i] = []string{"vx", "vy", "wz"}[i]
		case p.Action.Mapping == robot.MappingJointPosition && i < len(p.Command.JointNames):
			dims[i] = p.Command.JointNames[i]
		case p.Action.Mapping == robot.MappingJointPosition:
			dims[i] = fmt.Sprintf("joint%d", i+1)
		default:
			dims[i] = fmt.Sprintf("d%d", i)
		}
	}
	return dims
}
