package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/policy/remote"
	"github.com/efferent/efferent/record"
	"github.com/efferent/efferent/rig"
	"github.com/efferent/efferent/sim/legged"
)

// TestViewerLeggedBase: `efferent run --task` with a legged simulator task
// drives the legged base in process with efferent-quadruped ("auto" picks
// the model trained for it), and the viewer shows what the issue asks:
// the egocentric camera the policy sees, the chase camera for people, and
// the commanded velocities under their names, moving the base; the
// episode succeeds and the recording has its 50 Hz setpoints. It offers
// the e-stop but not the arm's teleop.
func TestViewerLeggedBase(t *testing.T) {
	bundledConfig(t) // skips in -short: loads the model
	port := freePort(t, "127.0.0.1")
	base := "http://127.0.0.1:" + port
	path := filepath.Join(t.TempDir(), "run.mcap")
	task, _ := legged.FindTask(legged.SuiteGoto + "/0")
	stop, logs := startRun(t, base+"/viewer/app.js", "--task", task.Instruction, "--episodes", "1", "--viewer", "--serve",
		"--addr", "127.0.0.1:"+port, "--record", path, "--log-level", "info")
	// --serve serves the model that drives the base, not the tabletop's:
	// one egocentric camera and a 7-d state in, 10 commands of 7 out.
	served, err := remote.Connect(context.Background(), "ws://127.0.0.1:"+port, remote.Conf{
		ImageKeys: []string{legged.ImageKey}, StateKey: legged.StateKey, StateDim: legged.StateDim})
	if err != nil {
		t.Fatal(err)
	}
	var chunk efferent.Chunk
	err = served.Infer(context.Background(), &efferent.Observation{
		Images: map[string]efferent.Image{legged.ImageKey: {H: 224, W: 224, C: 3, Pix: make([]byte, 224*224*3)}},
		State:  make([]float64, legged.StateDim), Prompt: task.Instruction}, &chunk)
	if err != nil || chunk.H != 10 || chunk.D != legged.CommandDim {
		t.Errorf("--serve: a legged observation got a %d×%d chunk (err %v): want efferent-quadruped's 10×7", chunk.H, chunk.D, err)
	}
	_ = served.Close()
	c, _, err := websocket.DefaultDialer.Dial("ws://127.0.0.1:"+port+"/viewer/ws", http.Header{"Origin": {base}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	hello := viewerMessage(t, c, "hello", 10*time.Second)
	dims := []string{}
	for _, d := range hello["dims"].([]any) {
		dims = append(dims, d.(string))
	}
	if !slices.Equal(dims, rig.Quadruped().Names) {
		t.Fatalf("dims %v, want the command vector's %v", dims, rig.Quadruped().Names)
	}
	if ctl, _ := hello["controls"].(map[string]any); ctl["teleop"] != false || ctl["estop"] != true {
		t.Fatalf("controls %v: want the e-stop and no teleop (the page's keys are an arm's)", ctl)
	}
	instrs, _ := hello["instructions"].([]any)
	if len(instrs) == 0 || !slices.Contains(instrs, any(task.Instruction)) {
		t.Fatalf("instructions %v: want the legged tasks'", instrs)
	}

	cameras := map[string]int{} // frames seen per camera
	fastest := 0.0              // the largest |vx| commanded
	var end map[string]any
	deadline := time.Now().Add(90 * time.Second)
	for end == nil {
		_ = c.SetReadDeadline(deadline)
		kind, data, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("reading the viewer (cameras %v, fastest vx %.2f): %v\n%s", cameras, fastest, err, logs)
		}
		if kind == websocket.BinaryMessage {
			n := binary.BigEndian.Uint32(data)
			var h struct {
				Camera string `json:"camera"`
				W, H   int
			}
			if err := json.Unmarshal(data[4:4+n], &h); err != nil {
				t.Fatal(err)
			}
			if h.W == 0 || h.H == 0 || len(data) <= int(4+n) {
				t.Fatalf("frame %+v with %d bytes of image", h, len(data)-int(4+n))
			}
			cameras[h.Camera]++
			continue
		}
		var m struct {
			Type    string          `json:"type"`
			Kind    json.RawMessage `json:"kind"` // a string in events, a list in ticks
			V       [][]float64     `json:"v"`
			Success *bool           `json:"success"`
		}
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		var event string
		if m.Type == "event" {
			_ = json.Unmarshal(m.Kind, &event)
		}
		switch {
		case m.Type == "ticks":
			for _, v := range m.V {
				if len(v) != len(dims) {
					t.Fatalf("a tick of %d values, want %d", len(v), len(dims))
				}
				fastest = max(fastest, math.Abs(v[0]))
			}
		case event == "episode_end":
			_ = json.Unmarshal(data, &end)
			if m.Success == nil || !*m.Success {
				t.Fatalf("episode end %s\n%s", data, logs)
			}
		case event == "premise":
			if !strings.Contains(string(data), `"ok"`) {
				t.Fatalf("premise %s: a true instruction was not passed", data)
			}
		}
	}
	if cameras[legged.ImageKey] == 0 || cameras[rig.ThirdPersonKey] == 0 {
		t.Fatalf("frames per camera %v: want the egocentric %q and the chase camera %q", cameras, legged.ImageKey, rig.ThirdPersonKey)
	}
	if fastest < 0.1 {
		t.Fatalf("the fastest commanded vx was %.3f m/s: the base never walked", fastest)
	}
	if err := stop(); err != nil {
		t.Fatalf("run: %v\n%s", err, logs)
	}
	rec, err := record.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Episodes) != 1 || len(rec.Setpoints) < 50 || len(rec.Setpoints[0].Values) != legged.CommandDim {
		t.Fatalf("%d episodes, %d setpoints recorded", len(rec.Episodes), len(rec.Setpoints))
	}
}

// TestRunLeggedPremise: before the legged base moves, the instruction is
// checked on its surround cameras, so a goal behind it ("turn around and
// go to the yellow ball") passes and the episode runs, while the same
// instruction on its false-premise scene (no yellow ball) is refused,
// naming the ball, and the recording holds not one setpoint.
func TestRunLeggedPremise(t *testing.T) {
	bundledConfig(t) // skips in -short: loads the model
	task, _ := legged.FindTask(legged.SuiteGoto + "/5")
	for _, c := range []struct {
		task      string
		decision  string
		setpoints bool
	}{
		{task.Name, "ok", true},
		{task.Name + "/false_premise", "refuse", false},
	} {
		path := filepath.Join(t.TempDir(), "run.mcap")
		runCommand(t, runCmd(), "--task", c.task, "--fast", "--episodes", "1", "--record", path, "--log-level", "warn")
		rec, err := record.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var verdicts []string
		for _, e := range rec.Events {
			if e.Kind == record.EventPremise {
				verdicts = append(verdicts, e.Detail)
			}
		}
		if len(verdicts) != 1 || !strings.HasPrefix(verdicts[0], c.decision) {
			t.Fatalf("%s: premise verdicts %q, want one %s", c.task, verdicts, c.decision)
		}
		if c.decision == "refuse" && !strings.Contains(verdicts[0], "yellow ball") {
			t.Errorf("%s: the refusal %q does not name the yellow ball", c.task, verdicts[0])
		}
		if got := len(rec.Setpoints) > 0; got != c.setpoints {
			t.Errorf("%s: %d setpoints recorded, want any: %v", c.task, len(rec.Setpoints), c.setpoints)
		}
	}
}
