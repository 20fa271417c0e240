package viewer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"
)

// What a browser may send: one JSON object per websocket text message.
const (
	// OpTeleop: {"type":"teleop","values":[…],"source":"keyboard"} — the
	// teleoperator's command, in the setpoint's units (for the simulator
	// LIBERO's 7-d delta action in [−1, 1]). Sent continuously while the
	// page's teleop is armed; never answered unless refused.
	OpTeleop = "teleop"
	// OpMode: {"type":"mode","mode":"takeover"|"policy"}.
	OpMode = "mode"
	// OpEStop: {"type":"estop"} — never refused.
	OpEStop = "estop"
	// OpEStopReset: {"type":"estop_reset"}.
	OpEStopReset = "estop_reset"
	// OpInstruction: {"type":"instruction","instruction":"…"}.
	OpInstruction = "instruction"
)

// Limits on what a browser sends, besides Conf.MaxMessageBytes.
const (
	// MaxInstructionBytes bounds an instruction.
	MaxInstructionBytes = 512
	// MaxSourceBytes bounds a teleop command's source name.
	MaxSourceBytes = 32
	// MaxTeleopValue bounds each teleop value's magnitude. It only rejects
	// garbage: the safety gate, after the teleop gate, does the limiting.
	MaxTeleopValue = 1e6
)

// ErrInbound is wrapped by every DecodeInbound error.
var ErrInbound = errors.New("viewer: bad message")

// Inbound is one decoded, validated message from a browser.
type Inbound struct {
	Type string `json:"type"`
	// ID, when not 0, is echoed in the reply so the page can match it.
	ID          int64     `json:"id,omitempty"`
	Values      []float64 `json:"values,omitempty"`
	Source      string    `json:"source,omitempty"`
	Mode        string    `json:"mode,omitempty"`
	Instruction string    `json:"instruction,omitempty"`
}

// DecodeInbound decodes and validates one message of at most maxBytes:
// a single JSON object with known fields only, a known type, and only the
// fields that type uses. Errors wrap ErrInbound and say what was wrong.
func DecodeInbound(data []byte, maxBytes int) (Inbound, error) {
	var m Inbound
	bad := func(format string, a ...any) (Inbound, error) {
		return Inbound{}, fmt.Errorf("%w: "+format, append([]any{ErrInbound}, a...)...)
	}
	if len(data) > maxBytes {
		return bad("%d bytes, at most %d", len(data), maxBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return bad("%v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return bad("trailing data after the JSON object")
	}
	if m.ID < 0 {
		return bad("id %d: want ≥ 0", m.ID)
	}
	uses := func(values, source, mode, instruction bool) error {
		for _, f := range []struct {
			name    string
			set, ok bool
		}{{"values", m.Values != nil, values}, {"source", m.Source != "", source},
			{"mode", m.Mode != "", mode}, {"instruction", m.Instruction != "", instruction}} {
			if f.set && !f.ok {
				return fmt.Errorf("%w: field %q is not used by %q", ErrInbound, f.name, m.Type)
			}
		}
		return nil
	}
	var err error
	switch m.Type {
	case OpTeleop:
		if err = uses(true, true, false, false); err != nil {
			return Inbound{}, err
		}
		if len(m.Values) == 0 || len(m.Values) > MaxDim {
			return bad("teleop: %d values, want 1..%d", len(m.Values), MaxDim)
		}
		for i, x := range m.Values {
			if math.IsNaN(x) || math.Abs(x) > MaxTeleopValue {
				return bad("teleop: value %d is %g, want |v| ≤ %g", i, x, MaxTeleopValue)
			}
		}
		if m.Source == "" {
			m.Source = "browser"
		}
		if len(m.Source) > MaxSourceBytes || strings.IndexFunc(m.Source, notSourceRune) >= 0 {
			return bad("teleop: source %q: want at most %d of a-z 0-9 _ -", m.Source, MaxSourceBytes)
		}
	case OpMode:
		if err = uses(false, false, true, false); err != nil {
			return Inbound{}, err
		}
		if m.Mode != "policy" && m.Mode != "takeover" {
			return bad("mode %q: want policy or takeover", m.Mode)
		}
	case OpEStop, OpEStopReset:
		err = uses(false, false, false, false)
	case OpInstruction:
		if err = uses(false, false, false, true); err != nil {
			return Inbound{}, err
		}
		s := m.Instruction
		switch {
		case len(s) > MaxInstructionBytes:
			return bad("instruction: %d bytes, at most %d", len(s), MaxInstructionBytes)
		case !utf8.ValidString(s):
			return bad("instruction: not UTF-8")
		case strings.IndexFunc(s, unicode.IsControl) >= 0:
			return bad("instruction: control characters")
		case strings.TrimSpace(s) != s || s == "":
			return bad("instruction %q: empty, or spaces around it", s)
		}
	case "":
		return bad(`no "type"`)
	default:
		return bad("unknown type %q (want teleop, mode, estop, estop_reset or instruction)", m.Type)
	}
	if err != nil {
		return Inbound{}, err
	}
	return m, nil
}

func notSourceRune(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-')
}
