package main

import (
	"bytes"
	"context"
	"image"
	"image/jpeg"
	"math"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/goroslib/v2"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/diagnostic_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/geometry_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/sensor_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/std_msgs"
	"github.com/gorilla/websocket"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/internal/rostest"
	"github.com/efferent/efferent/ros"
)

// TestRunFrankaOverROS is `efferent run --robot franka` end to end against
// a real rosmaster: a fake Franka publishes its state, one camera as a raw
// rgb8 Image and one as a JPEG CompressedImage; the bundled model runs
// closed loop on them and the equilibrium pose streams out at 1 kHz until
// the run is interrupted, which ends it cleanly.
func TestRunFrankaOverROS(t *testing.T) {
	rostest.Need(t)
	bundledConfig(t) // skips in -short: loads the model
	m := rostest.Start(t, 0)
	robotSide := fakeFranka(t, m)
	pix := make([]byte, 224*224*3)
	for i := range pix {
		pix[i] = byte(i * 7)
	}
	rostest.Publish(t, robotSide, "/cam/agent", 33*time.Millisecond, func() *sensor_msgs.Image {
		return &sensor_msgs.Image{Height: 224, Width: 224, Encoding: "rgb8", Step: 224 * 3, Data: pix}
	})
	var jpg bytes.Buffer
	if err := jpeg.Encode(&jpg, image.NewRGBA(image.Rect(0, 0, 320, 240)), nil); err != nil {
		t.Fatal(err)
	}
	rostest.Publish(t, robotSide, "/cam/wrist/compressed", 33*time.Millisecond, func() *sensor_msgs.CompressedImage {
		return &sensor_msgs.CompressedImage{Format: "jpeg", Data: jpg.Bytes()}
	})
	// 2.5 s in, an operator presses the e-stop (a latched std_msgs/Bool).
	start := time.Now()
	estopAt := start.Add(2500 * time.Millisecond)
	rostest.Publish(t, robotSide, "/efferent/estop", 50*time.Millisecond, func() *std_msgs.Bool {
		return &std_msgs.Bool{Data: time.Now().After(estopAt)}
	})
	type stamped struct {
		at time.Time
		p  geometry_msgs.Point
	}
	var (
		poses, moved atomic.Int64
		mu           sync.Mutex
		stream       []stamped
	)
	sub, err := goroslib.NewSubscriber(goroslib.SubscriberConf{Node: m.Node(t, "observer"),
		Topic: "/cartesian_impedance_example_controller/equilibrium_pose",
		Callback: func(p *geometry_msgs.PoseStamped) {
			poses.Add(1)
			if x := p.Pose.Position; math.Abs(x.X-0.5)+math.Abs(x.Y)+math.Abs(x.Z-0.3) > 1e-6 {
				moved.Add(1) // the policy's chunks reached the command
			}
			mu.Lock()
			stream = append(stream, stamped{time.Now(), p.Pose.Position})
			mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	cmd, out := newRunCmd(t, "--robot", "franka", "--task", "put the red block in the blue bowl", "--ros-master", m.Addr,
		"--camera", "ros:/cam/agent", "--camera", "ros:/cam/wrist/compressed", "--log-level", "warn")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(4*time.Second, cancel) // Ctrl-C
	if err := cmd.ExecuteContext(ctx); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if n := poses.Load(); n < 1500 {
		t.Fatalf("%d equilibrium poses in about 3 s of running, want a 1 kHz stream", n)
	}
	if moved.Load() == 0 {
		t.Fatal("every pose is the measured one: no policy action reached the robot")
	}
	t.Logf("%d poses received, %d away from the measured pose", poses.Load(), moved.Load())
	// The e-stop is a controlled stop: no pose moves by more than the lab
	// speed allows in a tick (with one lost message's slack), and 300 ms
	// after it the pose stands still.
	mu.Lock()
	defer mu.Unlock()
	maxStep := 2 * 0.25 * 1e-3
	var held []geometry_msgs.Point
	for i := 1; i < len(stream); i++ {
		a, b := stream[i-1].p, stream[i].p
		if d := math.Sqrt((b.X-a.X)*(b.X-a.X) + (b.Y-a.Y)*(b.Y-a.Y) + (b.Z-a.Z)*(b.Z-a.Z)); d > maxStep+1e-9 {
			t.Fatalf("pose %d moved %.6f m in one tick, more than %.6f", i, d, maxStep)
		}
		if stream[i].at.After(estopAt.Add(300 * time.Millisecond)) {
			held = append(held, b)
		}
	}
	if len(held) < 300 {
		t.Fatalf("%d poses after the e-stop settled, want a 1 kHz stream of holds", len(held))
	}
	for i, p := range held {
		if p != held[0] {
			t.Fatalf("pose %d after the e-stop: %+v, want the held %+v", i, p, held[0])
		}
	}
}

// TestRunPremiseOverROS: `efferent run --robot franka --premise` on cameras
// that show the simulator's scene without the red block the instruction
// names: the run does not move the arm (every equilibrium pose the bridge
// streams is the measured one: a hold), and /efferent/status reports the
// refusal with the missing object.
func TestRunPremiseOverROS(t *testing.T) {
	rostest.Need(t)
	bundledConfig(t)
	obs := simObservation(t, "spatial/put_the_red_block_in_the_blue_bowl/false_premise")
	m := rostest.Start(t, 0)
	robotSide := fakeFranka(t, m)
	publishCameras(t, robotSide, obs)
	var poses, moved atomic.Int64
	var mu sync.Mutex
	var status []diagnostic_msgs.KeyValue
	watcher := m.Node(t, "observer")
	for _, c := range []goroslib.SubscriberConf{
		{Node: watcher, Topic: "/cartesian_impedance_example_controller/equilibrium_pose",
			Callback: func(p *geometry_msgs.PoseStamped) {
				poses.Add(1)
				if x := p.Pose.Position; math.Abs(x.X-0.5)+math.Abs(x.Y)+math.Abs(x.Z-0.3) > 1e-9 {
					moved.Add(1)
				}
			}},
		{Node: watcher, Topic: "/efferent/status", Callback: func(a *diagnostic_msgs.DiagnosticArray) {
			mu.Lock()
			if len(a.Status) > 0 {
				status = a.Status[0].Values
			}
			mu.Unlock()
		}},
	} {
		sub, err := goroslib.NewSubscriber(c)
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
	}
	cmd, out := newRunCmd(t, "--robot", "franka", "--task", obs.Prompt, "--premise", "--ros-master", m.Addr,
		"--camera", "ros:/cam/agent", "--camera", "ros:/cam/wrist", "--log-level", "warn")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(3*time.Second, cancel)
	if err := cmd.ExecuteContext(ctx); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if n := moved.Load(); n != 0 {
		t.Fatalf("%d of %d equilibrium poses moved away from the measured pose for a refused instruction", n, poses.Load())
	}
	mu.Lock()
	defer mu.Unlock()
	got := map[string]string{}
	for _, kv := range status {
		got[kv.Key] = kv.Value
	}
	if got["premise"] != "refuse" || !strings.Contains(got["premise_reason"], "red block") {
		t.Fatalf("status %v, want premise refuse naming the red block", got)
	}
}

// fakeFranka is a node publishing a Franka's state at (0.5, 0, 0.3),
// pointing down, with open fingers.
func fakeFranka(t *testing.T, m *rostest.Master) *goroslib.Node {
	robotSide := m.Node(t, "fake_franka")
	rostest.Publish(t, robotSide, "/franka_state_controller/franka_states", 10*time.Millisecond, func() *ros.FrankaState {
		return &ros.FrankaState{OTEE: [16]float64{1, 0, 0, 0, 0, -1, 0, 0, 0, 0, -1, 0, 0.5, 0, 0.3, 1}}
	})
	rostest.Publish(t, robotSide, "/franka_gripper/joint_states", 20*time.Millisecond, func() *sensor_msgs.JointState {
		return &sensor_msgs.JointState{Name: []string{"f1", "f2"}, Position: []float64{0.04, 0.04}}
	})
	return robotSide
}

// TestRunFrankaViewerOverROS: `efferent run --robot franka --viewer` serves
// the page on its own listener and streams the ROS cameras to it.
func TestRunFrankaViewerOverROS(t *testing.T) {
	rostest.Need(t)
	bundledConfig(t)
	obs := simObservation(t, "spatial/put_the_red_block_in_the_blue_bowl")
	m := rostest.Start(t, 0)
	robotSide := fakeFranka(t, m)
	publishCameras(t, robotSide, obs)
	port := freePort(t, "127.0.0.1")
	base := "http://127.0.0.1:" + port
	stop, logs := startRun(t, base+"/viewer/", "--robot", "franka", "--task", obs.Prompt, "--ros-master", m.Addr,
		"--camera", "ros:/cam/agent", "--camera", "ros:/cam/wrist", "--viewer", "--addr", "127.0.0.1:"+port, "--log-level", "warn")
	c, _, err := websocket.DefaultDialer.Dial("ws://127.0.0.1:"+port+"/viewer/ws", http.Header{"Origin": {base}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	hello := viewerMessage(t, c, "hello", 10*time.Second)
	if title, _ := hello["title"].(string); !strings.Contains(title, "franka") {
		t.Fatalf("hello %v", hello)
	}
	viewerMessage(t, c, "frame", 20*time.Second)
	if err := stop(); err != nil {
		t.Fatalf("run: %v\n%s", err, logs)
	}
}

// publishCameras publishes obs's two cameras as rgb8 Images on /cam/agent
// and /cam/wrist at 30 Hz.
func publishCameras(t *testing.T, n *goroslib.Node, obs efferent.Observation) {
	for topic, key := range map[string]string{"/cam/agent": "observation/image", "/cam/wrist": "observation/wrist_image"} {
		im := obs.Images[key]
		rostest.Publish(t, n, topic, 33*time.Millisecond, func() *sensor_msgs.Image {
			return &sensor_msgs.Image{Height: uint32(im.H), Width: uint32(im.W), Encoding: "rgb8", Step: uint32(im.W * 3), Data: im.Pix}
		})
	}
}
