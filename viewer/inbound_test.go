package viewer

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

func TestDecodeInbound(t *testing.T) {
	ok := []struct {
		in   string
		want Inbound
	}{
		{`{"type":"teleop","values":[0.5,-1,0,0,0,0,1],"source":"keyboard"}`,
			Inbound{Type: OpTeleop, Values: []float64{0.5, -1, 0, 0, 0, 0, 1}, Source: "keyboard"}},
		{`{"type":"teleop","values":[1]}`, Inbound{Type: OpTeleop, Values: []float64{1}, Source: "browser"}},
		{`{"type":"mode","mode":"takeover","id":3}`, Inbound{Type: OpMode, Mode: "takeover", ID: 3}},
		{`{"type":"mode","mode":"policy"}`, Inbound{Type: OpMode, Mode: "policy"}},
		{`{"type":"estop"}`, Inbound{Type: OpEStop}},
		{` {"type":"estop_reset","id":1} `, Inbound{Type: OpEStopReset, ID: 1}},
		{`{"type":"instruction","instruction":"put the red block in the blue bowl"}`,
			Inbound{Type: OpInstruction, Instruction: "put the red block in the blue bowl"}},
	}
	for _, c := range ok {
		got, err := DecodeInbound([]byte(c.in), 64<<10)
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(c.want)
		if string(gj) != string(wj) {
			t.Errorf("%s: got %s, want %s", c.in, gj, wj)
		}
	}
	bad := []struct{ in, why string }{
		{``, "EOF"},
		{`null`, "no \"type\""},
		{`[]`, "cannot unmarshal"},
		{`{"type":"fly"}`, "unknown type"},
		{`{"type":"estop","extra":1}`, "unknown field"},
		{`{"type":"estop"} {"type":"estop"}`, "trailing data"},
		{`{"type":"estop","mode":"policy"}`, `field "mode" is not used by "estop"`},
		{`{"type":"mode","mode":"auto"}`, "want policy or takeover"},
		{`{"type":"mode","mode":"policy","values":[1]}`, `field "values"`},
		{`{"type":"teleop"}`, "0 values"},
		{`{"type":"teleop","values":[]}`, "0 values"},
		{`{"type":"teleop","values":[` + strings.Repeat("0,", MaxDim) + `0]}`, "17 values"},
		{`{"type":"teleop","values":[1e7]}`, "value 0 is 1e+07"},
		{`{"type":"teleop","values":[1e400]}`, "cannot unmarshal"},
		{`{"type":"teleop","values":["1"]}`, "cannot unmarshal"},
		{`{"type":"teleop","values":[1],"source":"Key Board"}`, "source"},
		{`{"type":"teleop","values":[1],"source":"` + strings.Repeat("a", 33) + `"}`, "source"},
		{`{"type":"instruction"}`, "empty"},
		{`{"type":"instruction","instruction":" pad "}`, "spaces"},
		{`{"type":"instruction","instruction":"a\u0007b"}`, "control"},
		{`{"type":"instruction","instruction":"` + strings.Repeat("a", 513) + `"}`, "513 bytes"},
		{`{"type":"estop","id":-1}`, "id -1"},
		{`{"type":"estop"` + strings.Repeat(" ", 100) + `}`, "bytes, at most 64"},
	}
	for _, c := range bad {
		limit := 64 << 10
		if c.why == "bytes, at most 64" {
			limit = 64
		}
		_, err := DecodeInbound([]byte(c.in), limit)
		if err == nil || !errors.Is(err, ErrInbound) || !strings.Contains(err.Error(), c.why) {
			t.Errorf("%.60s: error %v, want one saying %q", c.in, err, c.why)
		}
	}
}

// FuzzDecodeInbound: whatever a browser sends, the decoder returns an
// error or a message that satisfies every rule the commands rely on.
func FuzzDecodeInbound(f *testing.F) {
	for _, s := range []string{
		`{"type":"teleop","values":[0.5,-1,0,0,0,0,1],"source":"keyboard"}`,
		`{"type":"mode","mode":"takeover","id":3}`, `{"type":"estop"}`, `{"type":"estop_reset"}`,
		`{"type":"instruction","instruction":"put the red block in the blue bowl"}`,
		`{"type":"teleop","values":[1e308,-1e-308]}`, `{"type":"instruction","instruction":"\u00e9\ud800"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeInbound(data, 4096)
		if err != nil {
			if !errors.Is(err, ErrInbound) {
				t.Fatalf("error does not wrap ErrInbound: %v", err)
			}
			return
		}
		if len(data) > 4096 || m.ID < 0 {
			t.Fatalf("accepted %d bytes, id %d", len(data), m.ID)
		}
		switch m.Type {
		case OpTeleop:
			if len(m.Values) < 1 || len(m.Values) > MaxDim || m.Source == "" || len(m.Source) > MaxSourceBytes {
				t.Fatalf("teleop accepted: %+v", m)
			}
			for _, v := range m.Values {
				if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > MaxTeleopValue {
					t.Fatalf("teleop value %g accepted", v)
				}
			}
		case OpMode:
			if m.Mode != "policy" && m.Mode != "takeover" {
				t.Fatalf("mode %q accepted", m.Mode)
			}
		case OpInstruction:
			if m.Instruction == "" || len(m.Instruction) > MaxInstructionBytes || strings.TrimSpace(m.Instruction) != m.Instruction {
				t.Fatalf("instruction %q accepted", m.Instruction)
			}
		case OpEStop, OpEStopReset:
			if m.Values != nil || m.Mode != "" || m.Instruction != "" || m.Source != "" {
				t.Fatalf("%s with fields accepted: %+v", m.Type, m)
			}
		default:
			t.Fatalf("type %q accepted", m.Type)
		}
		// What was accepted survives a round trip unchanged.
		b, _ := json.Marshal(m)
		m2, err := DecodeInbound(b, 1<<20)
		if err != nil {
			t.Fatalf("re-encoded %s refused: %v", b, err)
		}
		b2, _ := json.Marshal(m2)
		if string(b) != string(b2) {
			t.Fatalf("round trip: %s → %s", b, b2)
		}
	})
}
