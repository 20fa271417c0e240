package ros

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/goroslib/v2"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/diagnostic_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/geometry_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/sensor_msgs"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/camera"
	"github.com/efferent/efferent/control"
	"github.com/efferent/efferent/internal/rostest"
	"github.com/efferent/efferent/policy"
	"github.com/efferent/efferent/robot"
	"github.com/efferent/efferent/safety"
)

// The bridge is the control loop's freshness source.
var _ control.Freshness = (*Bridge)(nil)

// robotNode is a robot-side node whose publishers can be stopped (a killed
// driver) and started again as a new node (a restarted one).
type robotNode struct {
	node *goroslib.Node
	quit chan struct{}
	wg   sync.WaitGroup
	once sync.Once
	pubs []*goroslib.Publisher
}

func newRobotNode(t testing.TB, m *rostest.Master, name string) *robotNode {
	t.Helper()
	n, err := goroslib.NewNode(goroslib.NodeConf{Name: name, MasterAddress: m.Addr, Host: "127.0.0.1",
		LogDestinations: goroslib.LogDestinationCallback})
	if err != nil {
		t.Fatal(err)
	}
	r := &robotNode{node: n, quit: make(chan struct{})}
	t.Cleanup(r.stop)
	return r
}

// publishOn writes next() on topic every period until r stops.
func publishOn[T any](t testing.TB, r *robotNode, topic string, period time.Duration, next func() *T) {
	t.Helper()
	pub, err := goroslib.NewPublisher(goroslib.PublisherConf{Node: r.node, Topic: topic, Msg: new(T)})
	if err != nil {
		t.Fatal(err)
	}
	r.pubs = append(r.pubs, pub)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		tk := time.NewTicker(period)
		defer tk.Stop()
		for {
			select {
			case <-r.quit:
				return
			case <-tk.C:
				pub.Write(next())
			}
		}
	}()
}

// stop ends the publishers and closes the node. Safe to call twice.
func (r *robotNode) stop() {
	r.once.Do(func() {
		close(r.quit)
		r.wg.Wait()
		for _, p := range r.pubs {
			p.Close()
		}
		r.node.Close()
	})
}

// startArm publishes a stamped FrankaState (the end effector at (0.5, 0,
// 0.3), pointing down) at 100 Hz and the gripper's joint states at 50 Hz.
func startArm(t testing.TB, m *rostest.Master) *robotNode {
	r := newRobotNode(t, m, "fake_franka")
	publishOn(t, r, "/franka_state_controller/franka_states", 10*time.Millisecond, func() *FrankaState {
		s := &FrankaState{OTEE: [16]float64{1, 0, 0, 0, 0, -1, 0, 0, 0, 0, -1, 0, 0.5, 0, 0.3, 1}}
		s.Header.Stamp = time.Now()
		return s
	})
	publishOn(t, r, "/franka_gripper/joint_states", 20*time.Millisecond, func() *sensor_msgs.JointState {
		s := &sensor_msgs.JointState{Name: []string{"finger1", "finger2"}, Position: []float64{0.04, 0.04}}
		s.Header.Stamp = time.Now()
		return s
	})
	return r
}

// startCamera publishes stamped 4×3 rgb8 images at 30 Hz on /cam/image_raw.
func startCamera(t testing.TB, m *rostest.Master) *robotNode {
	r := newRobotNode(t, m, "fake_camera")
	pix := make([]byte, 4*3*3)
	publishOn(t, r, "/cam/image_raw", 33*time.Millisecond, func() *sensor_msgs.Image {
		im := &sensor_msgs.Image{Height: 3, Width: 4, Encoding: "rgb8", Step: 12, Data: pix}
		im.Header.Stamp = time.Now()
		return im
	})
	return r
}

// startLegs publishes the quadruped's joint states at 100 Hz.
func startLegs(t testing.TB, m *rostest.Master) *robotNode {
	r := newRobotNode(t, m, "fake_legs")
	publishOn(t, r, "/joint_states", 10*time.Millisecond, func() *sensor_msgs.JointState {
		s := &sensor_msgs.JointState{Name: []string{"hip"}, Position: []float64{0.1}}
		s.Header.Stamp = time.Now()
		return s
	})
	return r
}

// constPolicy answers every observation with the same action, after a
// 20 ms "inference", and records when each inference started.
type constPolicy struct {
	md     policy.Metadata
	v      []float64
	mu     sync.Mutex
	starts []time.Time
}

func newConstPolicy(v []float64) *constPolicy {
	return &constPolicy{v: v, md: policy.Metadata{Name: "const", ImageKeys: []string{"observation/image"}, StateDim: 8,
		Horizon: 10, Dim: len(v), StepPeriod: 50 * time.Millisecond}}
}

func (p *constPolicy) Infer(ctx context.Context, obs *efferent.Observation, out *efferent.Chunk) error {
	p.mu.Lock()
	p.starts = append(p.starts, time.Now())
	p.mu.Unlock()
	if _, ok := obs.Images["observation/image"]; !ok {
		return errors.New("no image")
	}
	time.Sleep(20 * time.Millisecond)
	h, d := p.md.Horizon, p.md.Dim
	if cap(out.Actions) < h*d {
		out.Actions = make([]float64, h*d)
	}
	out.Actions = out.Actions[:h*d]
	for i := range h {
		copy(out.Actions[i*d:], p.v)
	}
	out.H, out.D, out.StepPeriod = h, d, p.md.StepPeriod
	return nil
}

func (p *constPolicy) Metadata() policy.Metadata { return p.md }
func (p *constPolicy) Close() error              { return nil }

// firstStartAfter is the first inference started after t (zero: none).
func (p *constPolicy) firstStartAfter(t time.Time) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.starts {
		if s.After(t) {
			return s
		}
	}
	return time.Time{}
}

// frankaGate is efferent run's gate chain for an ee_delta profile
// (rig: ProfileLimits, ProfileMotion): each value within ±1 policy
// unit per step, then the motion gate, which turns every hold into a
// controlled stop.
func frankaGate(t testing.TB, p *robot.Profile, state []float64, step time.Duration) safety.Gate {
	t.Helper()
	perTick := p.Period().Seconds() / step.Seconds()
	lo, hi := make([]float64, 7), make([]float64, 7)
	kinds := make([]safety.Kind, 7)
	for i := range 7 {
		lo[i], hi[i], kinds[i] = -perTick, perTick, safety.Delta
	}
	lo[6], hi[6], kinds[6] = -1, 1, safety.Binary
	limits, err := safety.NewLimits(safety.LimitsConf{Min: lo, Max: hi, Kinds: kinds})
	if err != nil {
		t.Fatal(err)
	}
	l := p.Limits
	mc := safety.MotionConf{Period: p.Period(), Axes: make([]safety.Axis, 7), Initial: make([]float64, 7)}
	for i := range 6 {
		ax := &mc.Axes[i]
		ax.Kind, ax.Scale = safety.Delta, p.Action.TranslationScale
		ax.Velocity, ax.Acceleration, ax.Jerk = l.MaxSpeed, l.MaxAccel, l.MaxJerk
		if i < 3 {
			ax.Min, ax.Max, mc.Initial[i] = l.WorkspaceMin[i], l.WorkspaceMax[i], state[i]
		} else {
			ax.Scale = p.Action.RotationScale
			ax.Velocity, ax.Acceleration, ax.Jerk = l.MaxRotationSpeed, l.MaxRotationAccel, l.MaxRotationJerk
		}
	}
	mc.Axes[6].Kind = safety.Binary
	motion, err := safety.NewMotion(mc)
	if err != nil {
		t.Fatal(err)
	}
	return safety.Chain{limits, motion}
}

// poseWatch records the commanded poses as an outside subscriber sees
// them: how many, and when the position last changed.
type poseWatch struct {
	mu         sync.Mutex
	n          int
	last       [3]float64
	changes    int
	lastChange time.Time
}

func watchPoses(t testing.TB, m *rostest.Master, name, topic string) *poseWatch {
	t.Helper()
	w := &poseWatch{}
	n := newRobotNode(t, m, name)
	sub, err := goroslib.NewSubscriber(goroslib.SubscriberConf{Node: n.node, Topic: topic, QueueSize: 2048,
		Callback: func(p *geometry_msgs.PoseStamped) {
			now := time.Now()
			x := [3]float64{p.Pose.Position.X, p.Pose.Position.Y, p.Pose.Position.Z}
			w.mu.Lock()
			defer w.mu.Unlock()
			if w.n > 0 && x != w.last {
				w.changes++
				w.lastChange = now
			}
			w.n++
			w.last = x
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sub.Close)
	return w
}

func (w *poseWatch) get() (n, changes int, last [3]float64, lastChange time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n, w.changes, w.last, w.lastChange
}

// frankaLoop is a Franka run: bridge, constant policy (+y at 0.05 m/s),
// the gate chain and the control loop at 1 kHz, running until the test
// ends.
type frankaLoop struct {
	prof *robot.Profile
	b    *Bridge
	pol  *constPolicy
	loop *control.Loop
	errc chan error
}

func runFranka(t *testing.T, m *rostest.Master, poll time.Duration) *frankaLoop {
	t.Helper()
	prof, err := robot.Load("franka")
	if err != nil {
		t.Fatal(err)
	}
	// The fake arm does not follow its commands: let the commanded pose
	// run ahead of it for the whole test.
	prof.Action.MaxLead = 1
	b := newBridge(t, Conf{Profile: prof, Master: m.Addr, MasterPoll: poll, Instruction: "move left",
		Cameras: []Camera{{Key: "observation/image", Topic: "/cam/image_raw"}}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	var obs efferent.Observation
	if err := b.Observe(&obs); err != nil {
		t.Fatal(err)
	}
	pol := newConstPolicy([]float64{0, 0.05, 0, 0, 0, 0, -1})
	kinds := []safety.Kind{safety.Delta, safety.Delta, safety.Delta, safety.Delta, safety.Delta, safety.Delta, safety.Binary}
	loop, err := control.New(control.LoopConf{Clock: control.PreciseClock{Spin: 200 * time.Microsecond}, Policy: pol, Robot: b,
		Gate: frankaGate(t, prof, obs.State, pol.md.StepPeriod), Scheduler: control.SchedulerConf{Kinds: kinds}, RateHz: prof.RateHz,
		OnTick: func(_ *efferent.Setpoint, v efferent.Verdict) { b.Report(v) }})
	if err != nil {
		t.Fatal(err)
	}
	f := &frankaLoop{prof: prof, b: b, pol: pol, loop: loop, errc: make(chan error, 1)}
	rctx, rcancel := context.WithCancel(context.Background())
	go func() { f.errc <- loop.Run(rctx) }()
	t.Cleanup(func() {
		rcancel()
		<-f.errc
		loop.Close()
	})
	return f
}

// running fails t if the loop has stopped.
func (f *frankaLoop) running(t *testing.T) {
	t.Helper()
	select {
	case err := <-f.errc:
		f.errc <- err
		t.Fatalf("the control loop stopped: %v", err)
	default:
	}
}

// awaitMotion waits until the commanded pose has changed more than n
// times since the call (while the loop runs) and returns when it first
// changed.
func awaitMotion(t *testing.T, f *frankaLoop, w *poseWatch, n int, within time.Duration) time.Time {
	t.Helper()
	_, c0, _, _ := w.get()
	var first time.Time
	deadline := time.Now().Add(within)
	for {
		f.running(t)
		_, c, _, lc := w.get()
		if c > c0 && first.IsZero() {
			first = lc
		}
		if c > c0+n {
			return first
		}
		if time.Now().After(deadline) {
			t.Fatalf("the commanded pose changed %d times in %v, want more than %d (bridge %+v, loop %+v)", c-c0, within, n, f.b.Stats(), f.loop.Stats())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// awaitStill waits until the commanded pose has not changed for quiet
// while commands keep coming, and returns when it last changed.
func awaitStill(t *testing.T, f *frankaLoop, w *poseWatch, quiet, within time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		f.running(t)
		n0, _, _, lc := w.get()
		time.Sleep(quiet)
		n1, _, _, lc1 := w.get()
		if lc1.Equal(lc) && n1 > n0 {
			return lc
		}
		if time.Now().After(deadline) {
			t.Fatalf("the commanded pose did not stand still (with commands flowing) within %v", within)
		}
	}
}

// TestFrankaCameraStale: the camera's publisher is killed during a Franka
// run: the commanded pose (as a subscriber sees it) stops changing within
// the camera's max age + one period + the motion gate's stop time, while
// hold commands keep flowing and the status topic names the camera; the
// camera restarted, the pose moves again only after an inference started
// on the fresh frames.
func TestFrankaCameraStale(t *testing.T) {
	rostest.Need(t)
	m := rostest.Start(t, 0)
	startArm(t, m)
	cam := startCamera(t, m)
	f := runFranka(t, m, 0)
	w := watchPoses(t, m, "observer", f.prof.Command.Topic)
	statuses := make(chan diagnostic_msgs.DiagnosticStatus, 64)
	obs := newRobotNode(t, m, "status_observer")
	ssub, err := goroslib.NewSubscriber(goroslib.SubscriberConf{Node: obs.node, Topic: "/efferent/status",
		Callback: func(a *diagnostic_msgs.DiagnosticArray) {
			for _, s := range a.Status {
				select {
				case statuses <- s:
				default:
				}
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer ssub.Close()
	awaitMotion(t, f, w, 200, 5*time.Second)

	maxAge := f.prof.CameraMaxAge("observation/image")
	bound := maxAge + f.prof.Period() + f.prof.StopTime()
	cam.stop()
	killed := time.Now()
	still := awaitStill(t, f, w, 300*time.Millisecond, 5*time.Second)
	took := still.Sub(killed)
	t.Logf("camera killed: the commanded pose stopped changing after %v (max age %v + period %v + stop time %v = %v)",
		took.Round(time.Millisecond), maxAge, f.prof.Period(), f.prof.StopTime(), bound)
	// 30 ms of slack: the goroutines of a loaded 2-core host.
	if took > bound+30*time.Millisecond {
		t.Fatalf("the pose kept changing for %v after the camera died, want at most %v", took, bound)
	}
	st := f.b.Stats()
	if want := "camera observation/image (/cam/image_raw)"; st.StaleInput != want || st.StaleHolds == 0 || st.StaleEvents != 1 {
		t.Fatalf("bridge stats %+v: want stale input %q, held, one event", st, want)
	}
	if ls := f.loop.Stats(); ls.StaleInput != st.StaleInput || ls.StaleHolds == 0 {
		t.Fatalf("loop stats: stale input %q, %d stale holds", ls.StaleInput, ls.StaleHolds)
	}
	deadline := time.After(3 * time.Second)
	for found := false; !found; {
		select {
		case s := <-statuses:
			kv := map[string]string{}
			for _, v := range s.Values {
				kv[v.Key] = v.Value
			}
			found = strings.HasPrefix(s.Message, "held: stale input camera observation/image (/cam/image_raw) ") && strings.HasSuffix(s.Message, " s") &&
				s.Level == diagnostic_msgs.DiagnosticStatus_WARN && kv["stale_input"] == st.StaleInput && kv["stale_age"] != ""
		case <-deadline:
			t.Fatal("no status naming the stale camera within 3 s")
		}
	}
	in := f.b.Inputs()
	if len(in) != 4 || !in[3].Stale || in[3].Holds == 0 || in[1].Stale || in[1].Name != "robot state (/franka_state_controller/franka_states)" {
		t.Fatalf("inputs %+v", in)
	}

	infBefore := f.loop.Stats().Inferences
	startCamera(t, m)
	var fresh time.Time
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, _, stale := f.b.Stale(time.Now()); !stale {
			fresh = time.Now()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the restarted camera was not fresh within 5 s")
		}
	}
	moved := awaitMotion(t, f, w, 100, 5*time.Second)
	inferred := f.pol.firstStartAfter(fresh.Add(-2 * time.Millisecond))
	t.Logf("camera back: fresh at +0, first inference started %v later, pose moving again %v later",
		inferred.Sub(fresh).Round(time.Millisecond), moved.Sub(fresh).Round(time.Millisecond))
	if inferred.IsZero() || !moved.After(inferred) {
		t.Fatalf("the pose moved again at %v, before an inference on fresh data (started %v)", moved, inferred)
	}
	if ls := f.loop.Stats(); ls.Inferences <= infBefore {
		t.Fatalf("loop inferences %d, want more than %d once the camera is back", ls.Inferences, infBefore)
	}
}

// TestQuadrupedStaleZeroTwist: setpoints keep asking for 0.5 m/s (no
// loop: the bridge's own check), the camera's publisher dies, and /cmd_vel
// goes to exactly zero within the camera's max age and one period; the
// same when the joint states stop; the Twists come back with the inputs.
func TestQuadrupedStaleZeroTwist(t *testing.T) {
	rostest.Need(t)
	m := rostest.Start(t, 0)
	prof, _ := robot.Load("quadruped")
	legs := startLegs(t, m)
	cam := startCamera(t, m)
	b := newBridge(t, Conf{Profile: prof, Master: m.Addr, Cameras: []Camera{{Key: "observation/image", Topic: "/cam/image_raw"}}})
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { drive(b, prof.Period(), []float64{0, 0.5, 0}, stop); close(done) }()
	defer func() { close(stop); <-done }()

	n := newRobotNode(t, m, "observer")
	var mu sync.Mutex
	var vy float64
	var lastNonZero time.Time
	var got atomic.Int64
	sub, err := goroslib.NewSubscriber(goroslib.SubscriberConf{Node: n.node, Topic: "/cmd_vel",
		Callback: func(tw *geometry_msgs.Twist) {
			now := time.Now()
			mu.Lock()
			defer mu.Unlock()
			vy = tw.Linear.Y
			if tw.Linear.X != 0 || tw.Linear.Y != 0 || tw.Angular.Z != 0 {
				lastNonZero = now
			}
			got.Add(1)
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	state := func() (float64, time.Time) { mu.Lock(); defer mu.Unlock(); return vy, lastNonZero }
	for i, kill := range []struct {
		what  string
		node  **robotNode
		start func(testing.TB, *rostest.Master) *robotNode
		age   time.Duration
	}{
		{"camera", &cam, startCamera, prof.CameraMaxAge("observation/image")},
		{"joint states", &legs, startLegs, prof.State.MaxAge},
	} {
		waitFor(t, "walking at vy 0.5", func() bool { v, _ := state(); return v == 0.5 })
		(*kill.node).stop()
		killed := time.Now()
		waitFor(t, "zero Twists", func() bool { v, _ := state(); return v == 0 })
		n0 := got.Load()
		time.Sleep(200 * time.Millisecond)
		v, last := state()
		if v != 0 || got.Load()-n0 < 5 {
			t.Fatalf("%s dead: vy %g, %d Twists in 200 ms: want a stream of zeros", kill.what, v, got.Load()-n0)
		}
		took := last.Sub(killed)
		bound := kill.age + prof.Period()
		t.Logf("%s killed: the last non-zero Twist %v after (max age %v + period %v = %v)", kill.what, took.Round(time.Millisecond), kill.age, prof.Period(), bound)
		if took > bound+30*time.Millisecond {
			t.Fatalf("%s dead: non-zero Twists for %v, want at most %v", kill.what, took, bound)
		}
		if st := b.Stats(); st.StaleEvents != uint64(i+1) {
			t.Fatalf("stats %+v: want %d stale events", st, i+1)
		}
		*kill.node = kill.start(t, m)
	}
	waitFor(t, "walking again", func() bool { v, _ := state(); return v == 0.5 })
}

// TestFrankaMasterRestart: rosmaster is killed during a Franka run with
// state topics, then started again on its port and the robot's nodes with
// it: the run goes on (the loop holds, it does not stop), the commands
// resume within 2 s of the state's return, and one loss counts one.
func TestFrankaMasterRestart(t *testing.T) {
	rostest.Need(t)
	m := rostest.Start(t, 0)
	arm, cam := startArm(t, m), startCamera(t, m)
	f := runFranka(t, m, 100*time.Millisecond)
	w := watchPoses(t, m, "observer", f.prof.Command.Topic)
	awaitMotion(t, f, w, 200, 5*time.Second)

	m.Kill()
	waitFor(t, "the master's loss noticed", func() bool { return !f.b.Stats().MasterUp })
	if _, _, stale := f.b.Stale(time.Now()); !stale {
		t.Fatal("the master lost, but the inputs report fresh")
	}
	awaitStill(t, f, w, 300*time.Millisecond, 5*time.Second)

	m2 := rostest.Start(t, m.Port)
	// The robot's nodes restart with the master (as roslaunch would). The
	// old ones close in the background: goroslib sometimes takes seconds
	// to close a publisher whose master went away, which is not the
	// bridge's time.
	go arm.stop()
	go cam.stop()
	back := time.Now()
	startArm(t, m2)
	startCamera(t, m2)
	w2 := watchPoses(t, m2, "observer2", f.prof.Command.Topic)
	waitFor(t, "registered again", func() bool { st := f.b.Stats(); return st.MasterUp && st.Reconnects == 1 })
	moved := awaitMotion(t, f, w2, 100, 5*time.Second)
	t.Logf("state back at +0: commands moving again %v later", moved.Sub(back).Round(time.Millisecond))
	if moved.Sub(back) > 2*time.Second {
		t.Fatalf("commands resumed %v after the state returned, want within 2 s", moved.Sub(back))
	}
	time.Sleep(500 * time.Millisecond) // a slow master right after its start is not a second loss
	f.running(t)
	if st := f.b.Stats(); st.MasterLosses != 1 || st.Reconnects != 1 {
		t.Fatalf("stats %+v: want one master loss and one reconnect", st)
	}
}

// TestStaleNoAlloc: Stale, called on every controller tick, allocates
// nothing, with topics and a non-ROS camera among the inputs.
func TestStaleNoAlloc(t *testing.T) {
	b := offlineBridge(t, map[string]camera.Source{"wrist": &fixedSource{}})
	now := time.Now()
	b.fmu.Lock()
	b.stateIn.refresh(now, now)
	b.gripIn.refresh(now, now)
	b.frames["front"].in.refresh(now, now)
	b.fmu.Unlock()
	if a := testing.AllocsPerRun(1000, func() { b.Stale(now) }); a != 0 {
		t.Fatalf("Stale allocates %v times per call", a)
	}
	if name, _, stale := b.Stale(now); !stale || name != "camera wrist (non-ROS source)" {
		t.Fatalf("Stale = %q %v: want the source that has no frame", name, stale)
	}
}

// offlineBridge is a Bridge's freshness state without ROS: the franka
// profile, a camera topic "front", the given sources, the master up.
func offlineBridge(t *testing.T, sources map[string]camera.Source) *Bridge {
	prof, err := robot.Load("franka")
	if err != nil {
		t.Fatal(err)
	}
	b := &Bridge{prof: prof, frames: map[string]*frame{}, conf: Conf{Profile: prof, Master: "127.0.0.1:11311",
		Cameras: []Camera{{Key: "front", Topic: "/front"}}, Sources: sources}}
	b.initInputs()
	b.masterOK, b.since = true, time.Now()
	return b
}

// TestInputAge: how a message's age is judged (see freshness.go).
func TestInputAge(t *testing.T) {
	t0 := time.Now()
	ms := time.Millisecond
	for _, tc := range []struct {
		name           string
		stamp, arrival time.Duration // after t0; stamp -1: none
		prev           time.Duration // the previous message's stamp (-1: none)
		want           time.Duration // the time it is judged by, after t0
		skew           bool
	}{
		{"no stamp: arrival", -1, 10 * ms, -1, 10 * ms, false},
		{"stamped, 5 ms in transit: the stamp", 5 * ms, 10 * ms, -1, 5 * ms, false},
		{"old on arrival (a lagging pipeline): the stamp", -500 * ms, 10 * ms, -1, -500 * ms, false},
		{"stamp slightly ahead: arrival", 20 * ms, 10 * ms, -1, 10 * ms, false},
		{"stamp far ahead (clock ahead): arrival, counted", 10 * time.Second, 10 * ms, -1, 10 * ms, true},
		{"stamp far behind (clock behind): arrival, counted", -time.Hour, 10 * ms, -1, 10 * ms, true},
		{"a stamp that does not advance is not fresh data", 5 * ms, 10 * ms, 5 * ms, -20 * ms, false},
	} {
		in := &input{maxAge: 100 * ms}
		if tc.prev >= 0 {
			in.refresh(t0.Add(tc.prev), t0.Add(-20*ms))
		}
		var stamp time.Time
		if tc.stamp != -1 {
			stamp = t0.Add(tc.stamp)
		}
		got := in.refresh(stamp, t0.Add(tc.arrival))
		if !got.Equal(t0.Add(tc.want)) || (in.skews.Load() > 0) != tc.skew {
			t.Errorf("%s: judged by %v, skews %d; want %v, skew %v", tc.name, got.Sub(t0), in.skews.Load(), tc.want, tc.skew)
		}
	}
	// An old message is stale at once; a fresh one after max age.
	in := &input{maxAge: 100 * ms}
	in.refresh(t0.Add(-500*ms), t0)
	if _, stale := in.age(t0, t0); !stale {
		t.Error("a message 500 ms old on arrival is fresh")
	}
	in.refresh(t0, t0)
	if a, stale := in.age(t0.Add(100*ms), t0); stale || a != 100*ms {
		t.Errorf("at max age: %v %v", a, stale)
	}
	if _, stale := in.age(t0.Add(101*ms), t0); !stale {
		t.Error("past max age: fresh")
	}
}

// TestFrankaStaleWithoutLoop: defence in depth. Setpoints keep asking for
// motion as if nothing happened (no control loop, no motion gate), the
// camera's publisher dies: the bridge on its own lets the commanded pose
// go no faster than before and stand still once the stop time has passed
// after the camera's max age; the gripper is not commanded meanwhile.
func TestFrankaStaleWithoutLoop(t *testing.T) {
	rostest.Need(t)
	m := rostest.Start(t, 0)
	startArm(t, m)
	cam := startCamera(t, m)
	prof, _ := robot.Load("franka")
	prof.Action.MaxLead = 1
	b := newBridge(t, Conf{Profile: prof, Master: m.Addr, Cameras: []Camera{{Key: "observation/image", Topic: "/cam/image_raw"}}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	w := watchPoses(t, m, "observer", prof.Command.Topic)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { drive(b, time.Millisecond, []float64{0, 0.001, 0, 0, 0, 0, 1}, stop); close(done) }()
	defer func() { close(stop); <-done }()
	f := &frankaLoop{b: b, errc: make(chan error, 1)}
	awaitMotion(t, f, w, 200, 5*time.Second)
	grips := b.Stats().GripperCommands
	_, _, before, _ := w.get()
	cam.stop()
	killed := time.Now()
	still := awaitStill(t, f, w, 300*time.Millisecond, 5*time.Second)
	_, _, after, _ := w.get()
	maxAge := prof.CameraMaxAge("observation/image")
	bound := maxAge + prof.Period() + prof.StopTime()
	took := still.Sub(killed)
	// No faster than 0.05 m/s for that long.
	t.Logf("no loop: the commanded pose stood still %v after the camera died (bound %v), %.1f mm on", took.Round(time.Millisecond), bound, 1e3*(after[1]-before[1]))
	if took > bound+30*time.Millisecond {
		t.Fatalf("the pose kept changing for %v, want at most %v", took, bound)
	}
	if d := after[1] - before[1]; d > 0.05*(bound+30*time.Millisecond).Seconds() {
		t.Fatalf("the pose moved %.1f mm after the camera died, faster than before", 1e3*d)
	}
	if g := b.Stats().GripperCommands; g != grips {
		t.Fatalf("%d gripper commands while stale", g-grips)
	}
}

// TestArmStaleEnvelope: while an input is stale the arm's steps never
// grow (a braking input passes unchanged) and stop at freezeAt.
func TestArmStaleEnvelope(t *testing.T) {
	prof, _ := robot.Load("franka")
	prof.Action.MaxLead = 1
	a := newArmIntegrator(prof)
	measured := pose{p: [3]float64{0.5, 0, 0.3}, q: identity}
	a.anchor(measured)
	t0 := time.Now()
	step := func(v float64, at time.Duration) float64 {
		y0 := a.target.p[1]
		if _, ok := a.step(measured, []float64{0, v, 0, 0, 0, 0, 0}, false, t0.Add(at)); !ok {
			t.Fatal("not anchored")
		}
		return a.target.p[1] - y0
	}
	ms := time.Millisecond
	if d := step(0.001, 0); math.Abs(d-5e-5) > 1e-12 {
		t.Fatalf("fresh step %g, want 5e-5", d)
	}
	a.beginStale(t0.Add(100 * ms))
	if d := step(0.0005, 1*ms); math.Abs(d-2.5e-5) > 1e-12 {
		t.Fatalf("braking step %g, want it unchanged (2.5e-5)", d)
	}
	if d := step(0.002, 2*ms); math.Abs(d-2.5e-5) > 1e-12 {
		t.Fatalf("stale step asking for more %g, want at most the last (2.5e-5)", d)
	}
	if d := step(0.002, 100*ms); d != 0 {
		t.Fatalf("step %g after freezeAt, want none", d)
	}
	a.endStale()
	// Fresh again: the bridge anchors the target anew on the measured pose
	// at the next motion (what it led by must not spring the arm), then it
	// steps as usual.
	if !a.reanchor {
		t.Fatal("endStale did not ask for a new anchor")
	}
	if d := step(0.001, 102*ms); math.Abs(d-5e-5) > 1e-12 {
		t.Fatalf("fresh again: step %g, want 5e-5", d)
	}
}
