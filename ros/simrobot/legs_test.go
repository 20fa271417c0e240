package simrobot

import (
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/goroslib/v2/pkg/msgs/geometry_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/sensor_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/std_msgs"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/internal/rostest"
	"github.com/efferent/efferent/robot"
	"github.com/efferent/efferent/sim"
	"github.com/efferent/efferent/sim/legged"
)

// flatLegged paints the egocentric camera one colour.
type flatLegged struct{}

func (flatLegged) Render(_ *legged.World, cam sim.Camera, dst *efferent.Image) error {
	return flatRenderer{}.Render(nil, cam, dst)
}

// jointLog keeps the quadruped's joint states.
type jointLog struct {
	mu   sync.Mutex
	last sensor_msgs.JointState
	n    int
}

func (l *jointLog) add(j *sensor_msgs.JointState) {
	l.mu.Lock()
	l.last, l.n = *j, l.n+1
	l.mu.Unlock()
}

func (l *jointLog) get() (sensor_msgs.JointState, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last, l.n
}

func leggedTask(t *testing.T) legged.Task {
	t.Helper()
	tk, ok := legged.FindTask(legged.DefaultTask)
	if !ok {
		t.Fatal("no legged task")
	}
	return tk
}

// The quadruped over ROS is the legged simulator: its state comes as the
// seven base joints, its egocentric camera on the agent topic; a Twist
// stream drives it forward at the commanded speed, and once the Twists
// stop it stands still within TwistTimeout plus the stop it takes.
func TestQuadrupedOverROS(t *testing.T) {
	rostest.Need(t)
	m := rostest.Start(t, 0)
	prof, err := robot.Load("quadruped")
	if err != nil {
		t.Fatal(err)
	}
	startNode(t, Conf{Profile: prof, Master: m.Addr, Legged: leggedTask(t), LeggedRenderer: flatLegged{}, ImageSize: 32,
		ResetHold: -1, Log: quietLog()})
	obs := m.Node(t, "observer")
	var joints jointLog
	subscribe(t, obs, prof.State.JointStates, joints.add)
	var imu sync.Mutex
	images := 0
	subscribe(t, obs, AgentTopic, func(*sensor_msgs.Image) { imu.Lock(); images++; imu.Unlock() })
	waitFor(t, 5*time.Second, "the first joint state", func() bool { _, n := joints.get(); return n > 0 })
	j, _ := joints.get()
	if len(j.Name) != legged.StateDim || j.Name[0] != "base_x" || j.Name[6] != "base_height" || j.Position[6] != legged.NominalHeight {
		t.Fatalf("joint state %v %v: want the legged state's seven joints, standing", j.Name, j.Position)
	}

	stop := rostest.Publish(t, m.Node(t, "driver"), prof.Command.Topic, 20*time.Millisecond, func() *geometry_msgs.Twist {
		return &geometry_msgs.Twist{Linear: geometry_msgs.Vector3{X: 0.5}}
	})
	waitFor(t, 5*time.Second, "the base to walk 0.3 m at 0.5 m/s", func() bool {
		j, _ := joints.get()
		return j.Position[0] > 0.3 && j.Position[3] > 0.45
	})
	stop()
	stopped := time.Now()
	waitFor(t, 3*time.Second, "the base to stand still once the Twists stopped", func() bool {
		j, _ := joints.get()
		return j.Position[3] < 0.01
	})
	if d := time.Since(stopped); d < TwistTimeout/2 {
		t.Errorf("stopped %v after the last Twist: it should keep the last one for TwistTimeout (%v)", d, TwistTimeout)
	}
	imu.Lock()
	n := images
	imu.Unlock()
	if n == 0 {
		t.Fatal("no egocentric image on the agent topic")
	}
}

// A command_vector robot (quadruped-command) takes the whole command: a
// crouch to 0.16 m lowers the body there.
func TestQuadrupedCommandVector(t *testing.T) {
	rostest.Need(t)
	m := rostest.Start(t, 0)
	prof, err := robot.Load("quadruped-command")
	if err != nil {
		t.Fatal(err)
	}
	startNode(t, Conf{Profile: prof, Master: m.Addr, Legged: leggedTask(t), ResetHold: -1, Log: quietLog()})
	var joints jointLog
	subscribe(t, m.Node(t, "observer"), prof.State.JointStates, joints.add)
	rostest.Publish(t, m.Node(t, "driver"), prof.Command.Topic, 20*time.Millisecond, func() *std_msgs.Float64MultiArray {
		return &std_msgs.Float64MultiArray{Data: []float64{0, 0, 0, 0.16, 2, 0.08, 0}}
	})
	waitFor(t, 5*time.Second, "the body to crouch to 0.16 m", func() bool {
		j, n := joints.get()
		return n > 0 && j.Position[6] < 0.161
	})
}
