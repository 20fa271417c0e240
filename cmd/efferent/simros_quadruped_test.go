package main

import (
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/goroslib/v2"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/diagnostic_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/geometry_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/sensor_msgs"

	"github.com/efferent/efferent/internal/rostest"
	"github.com/efferent/efferent/robot"
	"github.com/efferent/efferent/ros/simrobot"
	"github.com/efferent/efferent/sim/legged"
	"github.com/efferent/efferent/sim/render"
)

// twistLog is what a subscriber saw on /cmd_vel: the last Twist that
// moved the base, and when.
type twistLog struct {
	mu     sync.Mutex
	n      int
	moving time.Time // the last non-zero Twist's stamp of arrival
}

func (l *twistLog) add(m *geometry_msgs.Twist) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n++
	if m.Linear.X != 0 || m.Linear.Y != 0 || m.Angular.Z != 0 {
		l.moving = time.Now()
	}
}

func (l *twistLog) get() (int, time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n, l.moving
}

// TestQuadrupedROSClosedLoop is issue 26's closed loop over a real
// rosmaster, measured from outside: `efferent sim ros --robot quadruped`
// plays the legged simulator, `efferent run --robot quadruped` drives it
// with efferent-quadruped (its command vector's first three dims on
// /cmd_vel), and a separate node reads /cmd_vel. It streams at 50 Hz
// (rostopic hz within 2 %), the base walks, and when the egocentric
// camera stops, /cmd_vel is exactly zero within the camera's max age, a
// period and the braking the acceleration limit allows.
func TestQuadrupedROSClosedLoop(t *testing.T) {
	rostest.Need(t)
	bundledConfig(t) // skips in -short: loads the model
	m := rostest.Start(t, 0)
	prof, err := robot.Load("quadruped")
	if err != nil {
		t.Fatal(err)
	}
	// A long task (about 17 s), so the base is still walking when the
	// camera goes.
	task, _ := legged.FindTask(legged.SuitePosture + "/5")
	r := render.NewLegged()
	t.Cleanup(r.Close)
	node, runLog := playAndRun(t, simrobot.Conf{Profile: prof, Master: m.Addr, LeggedRenderer: r, Legged: task,
		Drop: []string{simrobot.StreamAgent}}, "--robot", "quadruped", "--policy", "efferent-quadruped", "--task", task.Instruction)

	var twists twistLog
	sub, err := goroslib.NewSubscriber(goroslib.SubscriberConf{Node: m.Node(t, "observer"), Topic: prof.Command.Topic, Callback: twists.add})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sub.Close)
	deadline := time.Now().Add(20 * time.Second)
	for _, moving := twists.get(); moving.IsZero() || time.Since(moving) > 50*time.Millisecond; _, moving = twists.get() {
		if time.Now().After(deadline) {
			t.Fatalf("the policy never moved the base\nrun:\n%s", runLog.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(time.Second) // walking, whatever the first chunk did

	// The camera goes while the base walks.
	if _, moving := twists.get(); time.Since(moving) > 100*time.Millisecond {
		t.Fatalf("the base is not walking when the camera is to be lost (last moving Twist %v ago)", time.Since(moving))
	}
	if !node.ToggleFaults() {
		t.Fatal("the camera fault did not switch on")
	}
	lost := time.Now()
	bound := prof.CameraMaxAge("observation/image") + prof.Period() + prof.StopTime()
	time.Sleep(bound + time.Second)
	n1, last := twists.get()
	t.Logf("camera lost: the last moving Twist %v later (bound %v: max age %v + period + braking %v)",
		last.Sub(lost).Round(time.Millisecond), bound, prof.CameraMaxAge("observation/image"), prof.StopTime())
	if d := last.Sub(lost); d > bound+20*time.Millisecond {
		t.Errorf("/cmd_vel still moved the base %v after the camera was lost, bound %v", d, bound)
	}
	time.Sleep(time.Second)
	if n2, _ := twists.get(); n2-n1 < 45 {
		t.Errorf("%d Twists in the second after the camera was lost: want explicit zero Twists at 50 Hz", n2-n1)
	}
	if node.ToggleFaults() {
		t.Fatal("the camera fault did not switch off")
	}
	if hz := m.Hz(t, prof.Command.Topic, 4*time.Second); math.Abs(hz-prof.RateHz) > 0.02*prof.RateHz {
		t.Errorf("rostopic hz %s: %.2f, want %g ± 2 %%", prof.Command.Topic, hz, prof.RateHz)
	}
}

// TestQuadrupedPremiseOverROS: `efferent run --robot quadruped --premise`
// checks the instruction on the legged base's camera against the legged
// simulator's objects before anything moves. An instruction naming
// something that is not there — a kind no detector knows ("the purple
// chair": asked about), or the goal of a scene it was taken from ("the red
// ball": refused, naming it) — never moves the base: a separate node sees
// no moving Twist on /cmd_vel, /efferent/status reports the verdict, and
// the simulated base's odometry stays at its start.
func TestQuadrupedPremiseOverROS(t *testing.T) {
	rostest.Need(t)
	bundledConfig(t) // skips in -short: loads the model
	prof, err := robot.Load("quadruped")
	if err != nil {
		t.Fatal(err)
	}
	red, _ := legged.FindTask(legged.SuiteGoto + "/0") // "go to the red ball"
	noRed, _ := legged.FindTask(red.Name + "/false_premise")
	for _, c := range []struct {
		name        string
		scene       legged.Task
		instruction string
		decision    string
		reason      string
	}{
		{"unknown kind", red, "go to the purple chair", "clarify", "chair"},
		{"missing goal", noRed, red.Instruction, "refuse", "red ball"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := rostest.Start(t, 0)
			r := render.NewLegged()
			t.Cleanup(r.Close)
			var twists twistLog
			var mu sync.Mutex
			status := map[string]string{}
			moved, states := 0.0, 0 // the largest distance of the base from its start, over states
			obs := m.Node(t, "observer")
			for _, sc := range []goroslib.SubscriberConf{
				{Node: obs, Topic: prof.Command.Topic, Callback: twists.add},
				{Node: obs, Topic: prof.Status.Topic, Callback: func(a *diagnostic_msgs.DiagnosticArray) {
					mu.Lock()
					defer mu.Unlock()
					if len(a.Status) > 0 {
						for _, kv := range a.Status[0].Values {
							status[kv.Key] = kv.Value
						}
					}
				}},
				{Node: obs, Topic: prof.State.JointStates, Callback: func(js *sensor_msgs.JointState) {
					if len(js.Position) >= 2 {
						mu.Lock()
						moved = max(moved, math.Hypot(js.Position[0], js.Position[1]))
						states++
						mu.Unlock()
					}
				}},
			} {
				sub, err := goroslib.NewSubscriber(sc)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(sub.Close)
			}
			_, runLog := playAndRun(t, simrobot.Conf{Profile: prof, Master: m.Addr, LeggedRenderer: r, Legged: c.scene},
				"--robot", "quadruped", "--policy", "efferent-quadruped", "--premise", "--task", c.instruction)
			deadline := time.Now().Add(20 * time.Second)
			for {
				mu.Lock()
				got := status["premise"]
				mu.Unlock()
				if got == c.decision {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("premise %q after 20 s, want %q\nrun:\n%s", got, c.decision, runLog)
				}
				time.Sleep(50 * time.Millisecond)
			}
			time.Sleep(2 * time.Second) // checked again, still still
			mu.Lock()
			defer mu.Unlock()
			if !strings.Contains(status["premise_reason"], c.reason) {
				t.Errorf("premise reason %q, want it to name %q", status["premise_reason"], c.reason)
			}
			if n, moving := twists.get(); !moving.IsZero() {
				t.Errorf("a moving Twist on %s (of %d) for an instruction the check did not accept", prof.Command.Topic, n)
			}
			if states < 50 || moved > 1e-6 {
				t.Errorf("the base moved %.4f m from its start over %d joint states", moved, states)
			}
		})
	}
}
