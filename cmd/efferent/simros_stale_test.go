package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/goroslib/v2"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/diagnostic_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/geometry_msgs"

	"github.com/efferent/efferent/internal/rostest"
	"github.com/efferent/efferent/robot"
	"github.com/efferent/efferent/ros/simrobot"
	"github.com/efferent/efferent/sim"
	"github.com/efferent/efferent/sim/render"
)

// poseLog is what a subscriber saw of the equilibrium pose: when the last
// pose that differed from the one before it was sent.
type poseLog struct {
	mu      sync.Mutex
	last    geometry_msgs.Point
	n       int
	changed time.Time
}

func (l *poseLog) add(m *geometry_msgs.PoseStamped) {
	// When the pose left the publisher (its stamp, set as it is sent; the
	// same clock as this process's): the subscriber's own scheduling on a
	// loaded machine does not count against the robot.
	now := m.Header.Stamp
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n > 0 && m.Pose.Position != l.last {
		l.changed = now
	}
	l.last, l.n = m.Pose.Position, l.n+1
}

func (l *poseLog) lastChange() (time.Time, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.changed, l.n
}

// simAndRun starts `efferent sim ros --robot franka` (in-process, with
// the given faults, off until toggled) and `efferent run --robot franka`
// with the bundled model against m, both until the test ends.
func simAndRun(t *testing.T, m *rostest.Master, drop []string, runArgs ...string) (*simrobot.Node, *robot.Profile, *bytes.Buffer) {
	t.Helper()
	prof, err := robot.Load("franka")
	if err != nil {
		t.Fatal(err)
	}
	task, _ := sim.FindTask("put the red block in the blue bowl")
	r := render.New()
	t.Cleanup(func() { r.Close() })
	node, runLog := playAndRun(t, simrobot.Conf{Profile: prof, Master: m.Addr, Renderer: r, Task: task,
		EpisodeTimeout: time.Minute, Drop: drop}, append([]string{"--robot", "franka", "--policy", "efferent-tiny", "--task", task.Instruction}, runArgs...)...)
	return node, prof, runLog
}

// playAndRun starts `efferent sim ros` (in-process: a simrobot node on
// conf, its faults off until toggled) and `efferent run` with args
// against conf's master, both until the test ends.
func playAndRun(t *testing.T, conf simrobot.Conf, args ...string) (*simrobot.Node, *bytes.Buffer) {
	t.Helper()
	conf.FaultAfter, conf.MasterPoll, conf.Log = time.Hour, 100*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil))
	node, err := simrobot.New(conf)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	simDone := make(chan struct{})
	go func() { _, _ = node.Run(ctx); close(simDone) }()

	run, runLog := newRunCmd(t, append(args, "--ros-master", conf.Master, "--log-level", "warn")...)
	runDone := make(chan error, 1)
	go func() { runDone <- run.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-runDone; err != nil {
			t.Errorf("run: %v\n%s", err, runLog.String())
		}
		<-simDone
		node.Close()
	})
	return node, runLog
}

// watch subscribes a node of its own to the equilibrium pose and the
// status topic.
func watch(t *testing.T, m *rostest.Master, name string, prof *robot.Profile) (*poseLog, func() []string) {
	t.Helper()
	obs := m.Node(t, name)
	poses := &poseLog{}
	var mu sync.Mutex
	var status []string
	for _, c := range []goroslib.SubscriberConf{
		{Node: obs, Topic: prof.Command.Topic, Callback: poses.add},
		{Node: obs, Topic: prof.Status.Topic, Callback: func(d *diagnostic_msgs.DiagnosticArray) {
			if len(d.Status) > 0 {
				mu.Lock()
				status = append(status, d.Status[0].Message)
				mu.Unlock()
			}
		}},
	} {
		sub, err := goroslib.NewSubscriber(c)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(sub.Close)
	}
	return poses, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), status...)
	}
}

// waitMoving waits until the commanded pose changes after after.
func waitMoving(t *testing.T, poses *poseLog, after time.Time, within time.Duration, runLog *bytes.Buffer) time.Time {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if c, _ := poses.lastChange(); c.After(after) {
			return c
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("the commanded pose did not move within %v\nrun:\n%s", within, runLog.String())
	return time.Time{}
}

// TestSimROSCameraLossHolds is the acceptance test of a camera lost during
// a Franka run, measured from outside: `efferent sim ros` plays the robot,
// `efferent run --robot franka` drives it with the bundled model, and a
// separate node subscribes to the equilibrium pose. When the agent camera
// stops, the commanded pose stops changing within the camera's max age,
// one controller period and the profile's braking time, and the status
// topic names the camera; when it is back, the pose moves again after a
// fresh inference.
func TestSimROSCameraLossHolds(t *testing.T) {
	rostest.Need(t)
	bundledConfig(t) // skips in -short: loads the model
	m := rostest.Start(t, 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	node, prof, runLog := simAndRun(t, m, []string{simrobot.StreamAgent}, "--metrics", "--addr", addr)
	poses, status := watch(t, m, "observer", prof)
	// The arm moves (the episode's reset hold of 1 s is over).
	waitMoving(t, poses, time.Now().Add(1500*time.Millisecond), 20*time.Second, runLog)

	if !node.ToggleFaults() {
		t.Fatal("the fault did not switch on")
	}
	lost := time.Now()
	maxAge := prof.CameraMaxAge("observation/image")
	bound := maxAge + prof.Period() + prof.StopTime()
	time.Sleep(bound + time.Second)
	last, _ := poses.lastChange()
	t.Logf("camera lost: the commanded pose last changed %v later (bound %v: max age %v + period + braking %v)",
		last.Sub(lost).Round(time.Millisecond), bound, maxAge, prof.StopTime())
	if d := last.Sub(lost); d > bound+20*time.Millisecond {
		t.Errorf("the commanded pose changed %v after the camera was lost, bound %v", d, bound)
	}
	// /metrics names it too, with its age.
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	cam := `input="camera observation/image (/efferent_sim/agent/image_raw)"`
	for _, want := range []string{"efferent_loop_stale{" + cam + "} 1", "efferent_input_stale{" + cam + "} 1", "efferent_input_age_seconds{" + cam + "} ",
		`efferent_loop_holds_by_reason_total{reason="stale_input"} `, "efferent_estop_engaged 0\n"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(string(body), `efferent_loop_holds_by_reason_total{reason="stale_input"} 0`+"\n") {
		t.Error("/metrics counts no holds for the stale camera")
	}
	named := false
	for _, s := range status() {
		named = named || strings.Contains(s, "stale input camera observation/image")
	}
	if !named {
		t.Errorf("/efferent/status never named the stale camera: %q", status())
	}

	if node.ToggleFaults() {
		t.Fatal("the fault did not switch off")
	}
	back := time.Now()
	moved := waitMoving(t, poses, back, 10*time.Second, runLog)
	t.Logf("camera back: the commanded pose moved again %v later (a fresh inference on fresh frames)", moved.Sub(back).Round(time.Millisecond))
}

// TestSimROSMasterRestart: the rosmaster is killed and restarted on its
// port during a Franka run with state topics: `efferent run` and `efferent
// sim ros` both register again, and the commanded pose moves again.
func TestSimROSMasterRestart(t *testing.T) {
	rostest.Need(t)
	bundledConfig(t) // skips in -short: loads the model
	m := rostest.Start(t, 0)
	_, prof, runLog := simAndRun(t, m, nil)
	poses, _ := watch(t, m, "observer", prof)
	waitMoving(t, poses, time.Now().Add(1500*time.Millisecond), 20*time.Second, runLog)

	m.Kill()
	killed := time.Now()
	time.Sleep(500 * time.Millisecond)
	m2 := rostest.Start(t, m.Port)
	restarted := time.Now()
	// A node of the new master's: the old observer is not re-registered.
	poses2, _ := watch(t, m2, "observer2", prof)
	moved := waitMoving(t, poses2, restarted, 15*time.Second, runLog)
	t.Logf("master killed, restarted 500 ms later: commands moving again %v after the restart (%v after the kill)",
		moved.Sub(restarted).Round(time.Millisecond), moved.Sub(killed).Round(time.Millisecond))
}
