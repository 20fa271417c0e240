package main

import (
	"math"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/goroslib/v2"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/geometry_msgs"

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
