package viewer

import (
	"errors"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/safety"
	"github.com/efferent/efferent/teleop"
)

// TestCommands drives a real teleop gate and e-stop from a browser's
// websocket: takeover, teleop commands stamped with the controller's
// clock (and recorded), e-stop and its release, instruction changes, and
// refusals of what is malformed or impossible.
func TestCommands(t *testing.T) {
	mux, err := teleop.New(teleop.Conf{Dim: 7, Gripper: 6})
	if err != nil {
		t.Fatal(err)
	}
	estop := safety.NewEStop(nil)
	clock := time.Unix(5000, 0)
	var (
		mu       sync.Mutex
		recorded []string
		instr    string
	)
	_, srv := start(t, Conf{Loopback: true, Teleop: mux, EStop: estop,
		Now: func() time.Time { return clock },
		OnTeleop: func(at time.Time, mode teleop.Mode, values []float64, source string) {
			mu.Lock()
			defer mu.Unlock()
			recorded = append(recorded, mode.String()+" "+source+" "+at.Format("05"))
		},
		SetInstruction: func(s string) error {
			if s != "put the red block in the blue bowl" {
				return errors.New("no such simulator task")
			}
			instr = s
			return nil
		}})
	c, _, err := dial(t, srv, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	hello := waitFor(t, c, 5*time.Second, "hello", func(m msg) bool { return m.Type == "hello" })
	if ctl := hello.JSON["controls"].(map[string]any); ctl["teleop"] != true || ctl["estop"] != true || ctl["instruction"] != true {
		t.Fatalf("hello controls %v", ctl)
	}

	send(t, c, `{"type":"teleop","values":[0.5,0,0,0,0,0,1],"source":"keyboard","id":1}`)
	send(t, c, `{"type":"mode","mode":"takeover","id":2}`)
	if r := reply(t, c, 2); r["ok"] != true {
		t.Fatalf("takeover: %v", r)
	}
	if mux.Mode() != teleop.Takeover {
		t.Fatal("mode is not takeover")
	}
	vals, at := mux.Latest()
	if len(vals) != 7 || vals[0] != 0.5 || !at.Equal(clock) {
		t.Fatalf("teleop command %v at %v, want it stamped %v", vals, at, clock)
	}
	// The gate now drives with the teleoperator's command.
	sp := &efferent.Setpoint{Time: clock.Add(10 * time.Millisecond), Values: make([]float64, 7)}
	if v := mux.Check(sp); v.Kind != efferent.Allowed || sp.Values[0] != 0.5 {
		t.Fatalf("takeover setpoint %v, %v", sp.Values, v)
	}
	mu.Lock()
	if len(recorded) != 1 || recorded[0] != "policy keyboard 20" {
		t.Fatalf("recorded %v", recorded)
	}
	mu.Unlock()

	send(t, c, `{"type":"teleop","values":[1,2]}`)
	if r := waitFor(t, c, 5*time.Second, "refusal", func(m msg) bool { return m.Type == "reply" }).JSON; r["ok"] != false || !strings.Contains(r["error"].(string), "2 values, want 7") {
		t.Fatalf("wrong-size teleop: %v", r)
	}
	send(t, c, `{"type":"warp"}`)
	if r := waitFor(t, c, 5*time.Second, "refusal", func(m msg) bool { return m.Type == "reply" }).JSON; !strings.Contains(r["error"].(string), "unknown type") {
		t.Fatalf("unknown type: %v", r)
	}

	send(t, c, `{"type":"estop","id":3}`)
	reply(t, c, 3)
	if !estop.Status().Engaged || !strings.HasPrefix(estop.Status().Source, "viewer client 1") {
		t.Fatalf("e-stop %+v", estop.Status())
	}
	st := waitFor(t, c, 5*time.Second, "status with the e-stop", func(m msg) bool {
		ctl, _ := m.JSON["control"].(map[string]any)
		e, _ := ctl["estop"].(map[string]any)
		return m.Type == "status" && e["engaged"] == true
	})
	if st.JSON["control"].(map[string]any)["mode"] != "takeover" {
		t.Fatalf("status %s", st.Raw)
	}
	send(t, c, `{"type":"estop_reset","id":4}`)
	reply(t, c, 4)
	if estop.Status().Engaged {
		t.Fatal("e-stop still engaged after its reset")
	}

	send(t, c, `{"type":"instruction","instruction":"fly","id":5}`)
	if r := reply(t, c, 5); r["ok"] != false || r["error"] != "no such simulator task" {
		t.Fatalf("bad instruction: %v", r)
	}
	send(t, c, `{"type":"instruction","instruction":"put the red block in the blue bowl","id":6}`)
	if r := reply(t, c, 6); r["ok"] != true || instr == "" {
		t.Fatalf("instruction: %v", r)
	}
	send(t, c, `{"type":"mode","mode":"policy","id":7}`)
	reply(t, c, 7)
	if mux.Mode() != teleop.Policy {
		t.Fatal("mode is not policy")
	}

	// A message over the size limit ends the connection (1009). The server
	// closes as soon as it has read the frame's header, so the rest of the
	// write may meet a reset instead (the close frame is then lost with
	// it): that try proves nothing either way, and a new connection tries
	// again.
	for try := 1; ; try++ {
		err := c.WriteMessage(websocket.TextMessage, []byte(`{"type":"instruction","instruction":"`+strings.Repeat("a", 70<<10)+`"}`))
		for err == nil {
			_, err = read(c, time.Now().Add(5*time.Second))
		}
		if websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
			return
		}
		if !errors.Is(err, syscall.ECONNRESET) || try == 5 {
			t.Fatalf("oversized message (try %d): %v, want close 1009", try, err)
		}
		if c, _, err = dial(t, srv, "", 0); err != nil {
			t.Fatal(err)
		}
	}
}

// TestViewOnly: without a robot (efferent serve) commands are refused
// with a reason, and the page is told there is nothing to command.
func TestViewOnly(t *testing.T) {
	_, srv := start(t, Conf{Loopback: true})
	c, _, err := dial(t, srv, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	hello := waitFor(t, c, 5*time.Second, "hello", func(m msg) bool { return m.Type == "hello" })
	if ctl := hello.JSON["controls"].(map[string]any); ctl["teleop"] != false || ctl["estop"] != false {
		t.Fatalf("controls %v", ctl)
	}
	for i, m := range []string{`"type":"mode","mode":"takeover"`, `"type":"estop"`, `"type":"instruction","instruction":"x"`} {
		send(t, c, "{"+m+`,"id":`+string(rune('1'+i))+"}")
		if r := reply(t, c, float64(i+1)); r["ok"] != false || !strings.Contains(r["error"].(string), "here") {
			t.Fatalf("%s: %v", m, r)
		}
	}
}
