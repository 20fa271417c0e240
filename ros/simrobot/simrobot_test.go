package simrobot

import (
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/goroslib/v2"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/geometry_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/sensor_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/std_msgs"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/internal/rostest"
	"github.com/efferent/efferent/robot"
	"github.com/efferent/efferent/ros"
	"github.com/efferent/efferent/sim"
)

// flatRenderer paints every camera one colour: the tests check streams,
// not pictures, and need no OpenCV.
type flatRenderer struct{}

func (flatRenderer) Render(_ *sim.World, cam sim.Camera, dst *efferent.Image) error {
	n := cam.W * cam.H * 3
	if cap(dst.Pix) < n {
		dst.Pix = make([]byte, n)
	}
	dst.Pix, dst.H, dst.W, dst.C = dst.Pix[:n], cam.H, cam.W, 3
	return nil
}

func quietLog() *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{}

func (testWriter) Write(p []byte) (int, error) { return len(p), nil }

func franka(t *testing.T) *robot.Profile {
	t.Helper()
	p, err := robot.Load("franka")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func task(t *testing.T) sim.Task {
	t.Helper()
	tk, ok := sim.FindTask("put the red block in the blue bowl")
	if !ok {
		t.Fatal("no task")
	}
	return tk
}

// startNode runs a node until the test ends.
func startNode(t *testing.T, conf Conf) *Node {
	t.Helper()
	n, err := New(conf)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := n.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done; n.Close() })
	return n
}

// stateLog records the published FrankaState positions (base frame) and
// header stamps.
type stateLog struct {
	mu     sync.Mutex
	stamps []time.Time
	pos    []sim.Vec3
	rot    [][16]float64
}

func (s *stateLog) add(m *ros.FrankaState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stamps = append(s.stamps, m.Header.Stamp)
	s.pos = append(s.pos, sim.Vec3{m.OTEE[12], m.OTEE[13], m.OTEE[14]})
	s.rot = append(s.rot, m.OTEE)
}

func (s *stateLog) snapshot() ([]time.Time, []sim.Vec3) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.stamps...), append([]sim.Vec3(nil), s.pos...)
}

func subscribe(t *testing.T, n *goroslib.Node, topic string, cb any) {
	t.Helper()
	sub, err := goroslib.NewSubscriber(goroslib.SubscriberConf{Node: n, Topic: topic, Callback: cb, QueueSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sub.Close)
}

// waitFor polls cond every 10 ms until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestArmFollowsEquilibrium: an equilibrium pose 25 cm away (in the base
// frame, as franka_ros takes it) is reached like an impedance controller
// reaches it: never faster than Franka's 1.7 m/s, the remaining error
// shrinking by e^−1 per lag time constant, settling on it; the state is
// the real franka_msgs layout (O_T_EE column-major, pointing down as a
// rotation of π about x), and the gripper's move goal closes both fingers
// at the goal's speed, each opening ≥ 0 as franka_gripper publishes it.
func TestArmFollowsEquilibrium(t *testing.T) {
	rostest.Need(t)
	m := rostest.Start(t, 0)
	prof := franka(t)
	startNode(t, Conf{Profile: prof, Master: m.Addr, Task: task(t), Log: quietLog()})
	obs := m.Node(t, "observer")
	var states stateLog
	subscribe(t, obs, prof.State.FrankaState, states.add)
	var fmu sync.Mutex
	var fingers []sensor_msgs.JointState
	subscribe(t, obs, prof.State.GripperJointStates, func(j *sensor_msgs.JointState) {
		fmu.Lock()
		fingers = append(fingers, *j)
		fmu.Unlock()
	})
	waitFor(t, 5*time.Second, "the first state", func() bool { _, p := states.snapshot(); return len(p) > 0 })
	_, p := states.snapshot()
	start := p[0]
	// The start is the task's: the grip point near HomePos, in the base frame.
	if want := sim.HomePos.Sub(FrankaBase); start.Sub(want).Norm() > 0.02 {
		t.Fatalf("start %v, want near %v (HomePos in the base frame)", start, want)
	}
	states.mu.Lock()
	r := states.rot[0]
	states.mu.Unlock()
	for i, want := range []float64{1, 0, 0, 0, 0, -1, 0, 0, 0, 0, -1, 0} {
		if math.Abs(r[i]-want) > 1e-12 {
			t.Fatalf("O_T_EE rotation %v, want pointing down (π about x)", r[:12])
		}
	}

	goal := start.Add(sim.Vec3{0.25, 0, 0})
	cmdNode := m.Node(t, "commander")
	rostest.Publish(t, cmdNode, prof.Command.Topic, time.Millisecond, func() *geometry_msgs.PoseStamped {
		ps := &geometry_msgs.PoseStamped{}
		ps.Header.Stamp = time.Now()
		ps.Pose.Position = geometry_msgs.Point{X: goal[0], Y: goal[1], Z: goal[2]}
		ps.Pose.Orientation = geometry_msgs.Quaternion{X: 1}
		return ps
	})
	rostest.Publish(t, cmdNode, prof.Gripper.Topic, 50*time.Millisecond, func() *ros.MoveActionGoal {
		return &ros.MoveActionGoal{Goal: ros.MoveGoal{Width: 0, Speed: 0.1}}
	})
	waitFor(t, 5*time.Second, "the arm to settle on the equilibrium pose", func() bool {
		_, p := states.snapshot()
		return p[len(p)-1].Sub(goal).Norm() < 5e-4
	})
	stamps, pos := states.snapshot()
	// Speed bound and lag, from consecutive states (their stamps are the
	// simulation's times).
	moving, vmax := -1, 0.0
	for i := 1; i < len(pos); i++ {
		dt := stamps[i].Sub(stamps[i-1]).Seconds()
		if dt <= 0 {
			continue
		}
		v := pos[i].Sub(pos[i-1]).Norm() / dt
		vmax = max(vmax, v)
		if moving < 0 && pos[i].Sub(start).Norm() > 1e-6 {
			moving = i
		}
	}
	if vmax > prof.Hardware.MaxSpeed*1.05 {
		t.Fatalf("peak speed %.3f m/s, above Franka's %.2f", vmax, prof.Hardware.MaxSpeed)
	}
	if vmax < prof.Hardware.MaxSpeed*0.9 {
		t.Fatalf("peak speed %.3f m/s: a 25 cm step under a 50 ms lag (5 m/s unbounded) should run at the bound", vmax)
	}
	// Lag: once the error is below 2 cm (past the speed bound), it falls
	// by about e^−1 every 50 ms.
	i0 := -1
	for i := moving; i < len(pos); i++ {
		if pos[i].Sub(goal).Norm() < 0.02 {
			i0 = i
			break
		}
	}
	if i0 < 0 {
		t.Fatal("the error never fell below 2 cm")
	}
	e0 := pos[i0].Sub(goal).Norm()
	checked := false
	for i := i0; i < len(pos); i++ {
		if dt := stamps[i].Sub(stamps[i0]).Seconds(); dt >= 0.05 {
			ratio := pos[i].Sub(goal).Norm() / e0
			want := math.Exp(-dt / 0.05)
			if ratio < want*0.6 || ratio > want*1.6 {
				t.Fatalf("after %.3f s the error is %.2f of its value, want about %.2f (first-order lag, τ = 50 ms)", dt, ratio, want)
			}
			checked = true
			break
		}
	}
	if !checked {
		t.Fatal("no state 50 ms after the error fell below 2 cm")
	}
	t.Logf("peak speed %.2f m/s; settled within 0.5 mm of the 25 cm step", vmax)

	// Gripper: both fingers closed (nothing under them at home), never
	// faster than speed/2 each, never negative.
	waitFor(t, 3*time.Second, "the fingers to close", func() bool {
		fmu.Lock()
		defer fmu.Unlock()
		return len(fingers) > 0 && fingers[len(fingers)-1].Position[0] < 1e-6
	})
	fmu.Lock()
	defer fmu.Unlock()
	for i, j := range fingers {
		if len(j.Name) != 2 || j.Name[0] != "panda_finger_joint1" || j.Name[1] != "panda_finger_joint2" ||
			j.Position[0] < 0 || j.Position[1] != j.Position[0] {
			t.Fatalf("finger state %d: %v %v", i, j.Name, j.Position)
		}
		if i > 0 {
			dt := j.Header.Stamp.Sub(fingers[i-1].Header.Stamp).Seconds()
			if d := fingers[i-1].Position[0] - j.Position[0]; dt > 0 && d/dt > 0.05*1.05 {
				t.Fatalf("a finger closed at %.3f m/s, faster than the goal's 0.1 m/s width allows", d/dt)
			}
		}
	}
}

// TestFaults: --drop camera:agent stops the agent view while the wrist
// view flows on; --freeze state repeats the last FrankaState, stamp and
// pose unchanged, while the arm is commanded away; toggling the faults off
// brings both back.
func TestFaults(t *testing.T) {
	rostest.Need(t)
	m := rostest.Start(t, 0)
	prof := franka(t)
	n := startNode(t, Conf{Profile: prof, Master: m.Addr, Task: task(t), Renderer: flatRenderer{}, ImageSize: 16,
		Drop: []string{StreamAgent}, Freeze: []string{StreamState}, FaultAfter: 400 * time.Millisecond, Log: quietLog()})
	obs := m.Node(t, "observer")
	var mu sync.Mutex
	var agent, wrist []time.Time // arrivals
	var states stateLog
	subscribe(t, obs, AgentTopic, func(*sensor_msgs.Image) { mu.Lock(); agent = append(agent, time.Now()); mu.Unlock() })
	subscribe(t, obs, WristTopic, func(*sensor_msgs.Image) { mu.Lock(); wrist = append(wrist, time.Now()); mu.Unlock() })
	subscribe(t, obs, prof.State.FrankaState, states.add)
	counts := func() (int, int, int) {
		mu.Lock()
		defer mu.Unlock()
		_, p := states.snapshot()
		return len(agent), len(wrist), len(p)
	}
	waitFor(t, 5*time.Second, "both cameras and the state", func() bool { a, w, s := counts(); return a > 0 && w > 0 && s > 0 })
	_, p := states.snapshot()
	goal := p[len(p)-1].Add(sim.Vec3{0, 0.1, 0})
	rostest.Publish(t, m.Node(t, "commander"), prof.Command.Topic, time.Millisecond, func() *geometry_msgs.PoseStamped {
		ps := &geometry_msgs.PoseStamped{}
		ps.Pose.Position = geometry_msgs.Point{X: goal[0], Y: goal[1], Z: goal[2]}
		ps.Pose.Orientation = geometry_msgs.Quaternion{X: 1}
		return ps
	})
	// Wait out the fault's start and anything in flight.
	waitFor(t, 5*time.Second, "the faults to start", func() bool { return n.faultsOn.Load() })
	time.Sleep(150 * time.Millisecond)
	a0, w0, s0 := counts()
	time.Sleep(500 * time.Millisecond)
	a1, w1, s1 := counts()
	if a1 != a0 {
		t.Fatalf("%d agent-view images while it was dropped", a1-a0)
	}
	if w1-w0 < 5 {
		t.Fatalf("%d wrist images in 0.5 s: the wrist view must flow on", w1-w0)
	}
	if s1-s0 < 20 {
		t.Fatalf("%d states in 0.5 s: a frozen stream keeps publishing", s1-s0)
	}
	stamps, pos := states.snapshot()
	for i := s0; i < s1; i++ {
		if !stamps[i].Equal(stamps[s0]) || pos[i] != pos[s0] {
			t.Fatalf("frozen state %d: %v at %v, want the repeated %v at %v", i, pos[i], stamps[i], pos[s0], stamps[s0])
		}
	}
	if on := n.ToggleFaults(); on {
		t.Fatal("ToggleFaults turned the faults on, want off")
	}
	waitFor(t, 3*time.Second, "the agent view to return", func() bool { a, _, _ := counts(); return a > a1+2 })
	waitFor(t, 3*time.Second, "the state to move again", func() bool {
		st, p := states.snapshot()
		return st[len(st)-1].After(stamps[s0]) && p[len(p)-1].Sub(goal).Norm() < 0.01
	})
}

// TestEpisodes: the first episode waits for a command, each ends at its
// time limit (nothing succeeds from a pose held at the start), its result
// goes out as JSON on the episode topic, and after Episodes Run returns.
func TestEpisodes(t *testing.T) {
	rostest.Need(t)
	m := rostest.Start(t, 0)
	prof := franka(t)
	n, err := New(Conf{Profile: prof, Master: m.Addr, Task: task(t), FirstInit: 3, Episodes: 2,
		EpisodeTimeout: 300 * time.Millisecond, ResetHold: 100 * time.Millisecond, Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	var mu sync.Mutex
	var got []EpisodeResult
	subscribe(t, m.Node(t, "observer"), EpisodeTopic, func(s *std_msgs.String) {
		var r EpisodeResult
		if err := json.Unmarshal([]byte(s.Data), &r); err != nil {
			t.Errorf("episode message %q: %v", s.Data, err)
		}
		mu.Lock()
		got = append(got, r)
		mu.Unlock()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	type out struct {
		res []EpisodeResult
		err error
	}
	done := make(chan out, 1)
	go func() { r, err := n.Run(ctx); done <- out{r, err} }()
	select {
	case <-done:
		t.Fatal("Run ended before any command arrived")
	case <-time.After(700 * time.Millisecond):
	}
	rostest.Publish(t, m.Node(t, "commander"), prof.Command.Topic, 5*time.Millisecond, func() *geometry_msgs.PoseStamped {
		ps := &geometry_msgs.PoseStamped{}
		h := sim.HomePos.Sub(FrankaBase)
		ps.Pose.Position = geometry_msgs.Point{X: h[0], Y: h[1], Z: h[2]}
		ps.Pose.Orientation = geometry_msgs.Quaternion{X: 1}
		return ps
	})
	o := <-done
	if o.err != nil || len(o.res) != 2 {
		t.Fatalf("Run: %v, %d results", o.err, len(o.res))
	}
	for i, r := range o.res {
		if r.Episode != i+1 || r.Init != 3+i || r.Success || r.Seconds < 0.3 || r.Seconds > 1 || r.Commands == 0 {
			t.Fatalf("result %d: %+v", i, r)
		}
	}
	waitFor(t, 3*time.Second, "the episode messages", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= 1 })
}

// TestMasterRestart: the node registers again with a new master on the
// same port, and a subscriber of the new master gets its state.
func TestMasterRestart(t *testing.T) {
	rostest.Need(t)
	m := rostest.Start(t, 0)
	prof := franka(t)
	startNode(t, Conf{Profile: prof, Master: m.Addr, Task: task(t), MasterPoll: 50 * time.Millisecond, Log: quietLog()})
	m.Kill()
	m2 := rostest.Start(t, m.Port)
	var states stateLog
	subscribe(t, m2.Node(t, "observer"), prof.State.FrankaState, states.add)
	waitFor(t, 10*time.Second, "the state through the new master", func() bool { _, p := states.snapshot(); return len(p) > 0 })
}

func TestParseStreams(t *testing.T) {
	s, err := ParseStreams([]string{"cameras", "state"})
	if err != nil || len(s) != 3 || s[0] != StreamAgent || s[1] != StreamWrist || s[2] != StreamState {
		t.Fatalf("%v %v", s, err)
	}
	if _, err := ParseStreams([]string{"camera:left"}); err == nil {
		t.Fatal("an unknown stream was accepted")
	}
}

// columnMajor matches ros's reading of O_T_EE: the rest pose is π about
// x, whose LIBERO axis-angle is (π, 0, 0) in both frames.
func TestColumnMajor(t *testing.T) {
	m := columnMajor(sim.Vec3{0.4, 0, 0.3}, sim.RestQuat)
	want := [16]float64{1, 0, 0, 0, 0, -1, 0, 0, 0, 0, -1, 0, 0.4, 0, 0.3, 1}
	for i := range m {
		if math.Abs(m[i]-want[i]) > 1e-15 {
			t.Fatalf("%v, want %v", m, want)
		}
	}
	if aa := sim.RestQuat.AxisAngle(); math.Abs(aa[0]-math.Pi) > 1e-12 || aa[1] != 0 || aa[2] != 0 {
		t.Fatalf("rest axis-angle %v", aa)
	}
}
