package main

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/goroslib/v2"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/std_msgs"

	"github.com/efferent/efferent/internal/rostest"
	"github.com/efferent/efferent/ros"
	"github.com/efferent/efferent/ros/simrobot"
	"github.com/efferent/efferent/sim"
)

// TestSimROSFranka closes the loop over a real rosmaster with nothing but
// efferent: `efferent sim ros --robot franka` plays the robot and
// `efferent run --robot franka` drives it with the bundled model, with no
// --camera (the franka profile's default camera topics are the
// simulator's). One episode: equilibrium poses flow, the simulated arm
// moves well away from its start, and the episode's result comes out (its
// success is logged: it depends on timing on a loaded host).
func TestSimROSFranka(t *testing.T) {
	rostest.Need(t)
	bundledConfig(t) // skips in -short: loads the model
	m := rostest.Start(t, 0)
	obs := m.Node(t, "observer")
	var mu sync.Mutex
	var start [3]float64
	var farthest float64
	var results []simrobot.EpisodeResult
	for _, c := range []goroslib.SubscriberConf{
		{Node: obs, Topic: "/franka_state_controller/franka_states", Callback: func(s *ros.FrankaState) {
			p := [3]float64{s.OTEE[12], s.OTEE[13], s.OTEE[14]}
			mu.Lock()
			defer mu.Unlock()
			if start == ([3]float64{}) {
				start = p
			}
			d := sim.Vec3(p).Sub(sim.Vec3(start)).Norm()
			farthest = max(farthest, d)
		}},
		{Node: obs, Topic: simrobot.EpisodeTopic, Callback: func(s *std_msgs.String) {
			var r simrobot.EpisodeResult
			if err := json.Unmarshal([]byte(s.Data), &r); err == nil {
				mu.Lock()
				results = append(results, r)
				mu.Unlock()
			}
		}},
	} {
		sub, err := goroslib.NewSubscriber(c)
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
	}

	simCmd := simROSCmd()
	var simOut, simLog bytes.Buffer
	simCmd.SetOut(&simOut)
	simCmd.SetErr(&simLog)
	simCmd.SetArgs([]string{"--robot", "franka", "--ros-master", m.Addr, "--episodes", "1", "--episode-timeout", "11s",
		"--log-level", "warn"})
	simDone := make(chan error, 1)
	go func() { simDone <- simCmd.ExecuteContext(context.Background()) }()

	run, runLog := newRunCmd(t, "--robot", "franka", "--policy", "efferent-tiny", "--task", "put the red block in the blue bowl",
		"--ros-master", m.Addr, "--log-level", "warn")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runDone := make(chan error, 1)
	go func() { runDone <- run.ExecuteContext(ctx) }()

	select {
	case err := <-simDone:
		if err != nil {
			t.Fatalf("sim ros: %v\n%s", err, simLog.String())
		}
	case err := <-runDone:
		t.Fatalf("run ended first: %v\n%s", err, runLog.String())
	case <-time.After(45 * time.Second):
		t.Fatalf("no episode result within 45 s\nsim:\n%s\nrun:\n%s", simLog.String(), runLog.String())
	}
	cancel()
	if err := <-runDone; err != nil {
		t.Fatalf("run: %v\n%s", err, runLog.String())
	}
	got := regexp.MustCompile(`success (\d)/1`).FindStringSubmatch(simOut.String())
	if got == nil {
		t.Fatalf("sim ros printed %q, want success k/1", simOut.String())
	}
	mu.Lock()
	defer mu.Unlock()
	if farthest < 0.05 {
		t.Fatalf("the arm moved at most %.3f m from its start: the policy's commands did not drive it", farthest)
	}
	if len(results) != 1 || results[0].Commands < 1000 {
		t.Fatalf("episode results %+v, want one with a 1 kHz command stream behind it", results)
	}
	ok, _ := strconv.Atoi(got[1])
	t.Logf("episode: success %v after %.2f s, %d equilibrium poses; the arm went %.2f m from its start",
		ok == 1, results[0].Seconds, results[0].Commands, farthest)
}
