package viewer

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"strconv"
	"time"

	"github.com/efferent/efferent/compare"
)

// outMsg is one message to browsers, encoded once and shared by every
// client's queue (never modified after it is built).
type outMsg struct {
	data   []byte
	binary bool
	frame  bool // a camera frame: the first thing a slow client loses
}

// num is a float in JSON: non-finite values (a policy's NaN) are null,
// which encoding/json would refuse.
type num float64

// MarshalJSON implements json.Marshaler.
func (n num) MarshalJSON() ([]byte, error) { return appendNum(nil, float64(n)), nil }

func appendNum(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, f, 'g', 6, 64)
}

func nums(fs []float64) []num {
	out := make([]num, len(fs))
	for i, f := range fs {
		out[i] = num(f)
	}
	return out
}

// ms is a time in milliseconds since the Unix epoch, as JavaScript counts.
func ms(unixNano int64) float64 { return float64(unixNano) / 1e6 }

func appendMs(b []byte, unixNano int64) []byte {
	return strconv.AppendFloat(b, ms(unixNano), 'f', 3, 64)
}

// helloMsg is the first message on a connection.
type helloMsg struct {
	Type         string       `json:"type"` // "hello"
	Client       int64        `json:"client"`
	Title        string       `json:"title"`
	Dims         []string     `json:"dims"`
	Instructions []string     `json:"instructions"`
	Controls     controlsInfo `json:"controls"`
	CameraFPS    float64      `json:"camera_fps"`
	// Auth is "token" (every connection presented it), "loopback" (open to
	// this machine) or "none" (open to anyone: AllowNoAuth).
	Auth string `json:"auth"`
}

// controlsInfo says which commands this viewer can carry out.
type controlsInfo struct {
	Teleop      bool `json:"teleop"`
	EStop       bool `json:"estop"`
	Instruction bool `json:"instruction"`
}

type eventMsg struct {
	Type        string           `json:"type"` // "event"
	Kind        string           `json:"kind"`
	T           num              `json:"t"`
	Episode     int              `json:"episode,omitempty"`
	Task        string           `json:"task,omitempty"`
	Instruction string           `json:"instruction,omitempty"`
	Decision    string           `json:"decision,omitempty"`
	Detail      string           `json:"detail,omitempty"`
	Success     *bool            `json:"success,omitempty"`
	Steps       int              `json:"steps,omitempty"`
	Compare     *compare.Summary `json:"compare,omitempty"`
}

func eventMessage(e Event) outMsg {
	return jsonMsg(eventMsg{Type: "event", Kind: e.Kind, T: num(ms(e.Time.UnixNano())), Episode: e.Episode, Task: e.Task,
		Instruction: e.Instruction, Decision: e.Decision, Detail: e.Detail, Success: e.Success, Steps: e.Steps,
		Compare: e.Compare})
}

type replyMsg struct {
	Type  string `json:"type"` // "reply"
	ID    int64  `json:"id,omitempty"`
	Op    string `json:"op"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

type camStatus struct {
	Name   string `json:"name"`
	FPS    num    `json:"fps"`    // frames sent per second, over the last status period
	Frames uint64 `json:"frames"` // frames sent
}

type statusMsg struct {
	Type        string         `json:"type"` // "status"
	T           num            `json:"t"`    // wall clock, ms
	RateHz      num            `json:"rate_hz"`
	Ticks       uint64         `json:"ticks"`
	Verdicts    verdictCounts  `json:"verdicts"`
	Inferences  uint64         `json:"inferences"`
	InferMs     latencyMs      `json:"infer_ms"`
	Cameras     []camStatus    `json:"cameras"`
	Instruction string         `json:"instruction"`
	State       []num          `json:"state"`
	Drops       dropCounts     `json:"drops"`
	Clients     []ClientStats  `json:"clients"`
	Control     *controlStatus `json:"control,omitempty"`
	Inputs      []inputStatus  `json:"inputs,omitempty"`
}

// Input is one input the control loop observes (a camera, the robot
// state), as Conf.Inputs reports it.
type Input struct {
	// Name says what and where, e.g. "camera observation/image
	// (/cam/image_raw)".
	Name string
	// Age is the time since its last message (or since the robot
	// connected, when none came); MaxAge the bound beyond which the robot
	// holds.
	Age, MaxAge time.Duration
	// Stale: older than MaxAge (or never received).
	Stale bool
}

type inputStatus struct {
	Name     string `json:"name"`
	AgeMs    num    `json:"age_ms"`
	MaxAgeMs num    `json:"max_age_ms"`
	Stale    bool   `json:"stale"`
}

type verdictCounts struct {
	Allowed uint64 `json:"allowed"`
	Clamped uint64 `json:"clamped"`
	Held    uint64 `json:"held"`
	Refused uint64 `json:"refused"`
}

type latencyMs struct {
	Last num `json:"last"`
	P50  num `json:"p50"`
	Max  num `json:"max"`
}

type dropCounts struct {
	Ticks  uint64 `json:"ticks"`
	Frames uint64 `json:"frames"`
	Chunks uint64 `json:"chunks"`
	Events uint64 `json:"events"`
}

type controlStatus struct {
	Mode    string           `json:"mode,omitempty"`
	Teleop  *teleopStatus    `json:"teleop,omitempty"`
	EStop   *estopStatus     `json:"estop,omitempty"`
	Compare *compare.Summary `json:"compare,omitempty"`
}

type teleopStatus struct {
	Driven   uint64 `json:"driven"`
	Stale    uint64 `json:"stale"`
	Compared uint64 `json:"compared"`
	Skipped  uint64 `json:"skipped"`
	// Last is the last command; AgeMs its age on the controller's clock.
	Last  []num `json:"last,omitempty"`
	AgeMs num   `json:"age_ms"`
}

type estopStatus struct {
	Engaged   bool   `json:"engaged"`
	Source    string `json:"source,omitempty"`
	LatencyMs num    `json:"latency_ms"`
	Triggers  uint64 `json:"triggers"`
	HeldTicks uint64 `json:"held_ticks"`
}

func jsonMsg(v any) outMsg {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own types are marshalled, with num for floats: a failure
		// is a bug, reported where the page shows errors.
		b, _ = json.Marshal(replyMsg{Type: "reply", Op: "internal", Error: err.Error()})
	}
	return outMsg{data: b}
}

// frameHeader precedes a frame's JPEG bytes in a binary message:
// a 4-byte big-endian length, then this as JSON.
type frameHeader struct {
	Type   string `json:"type"` // "frame"
	Camera string `json:"camera"`
	Seq    uint64 `json:"seq"`
	W      int    `json:"w"`
	H      int    `json:"h"`
	T      num    `json:"t"` // when the frame was copied in, wall ms
}

func frameMessage(h frameHeader, jpg []byte) outMsg {
	hdr, _ := json.Marshal(h)
	b := make([]byte, 4, 4+len(hdr)+len(jpg))
	binary.BigEndian.PutUint32(b, uint32(len(hdr)))
	b = append(append(b, hdr...), jpg...)
	return outMsg{data: b, binary: true, frame: true}
}

func msOf(d time.Duration) num { return num(float64(d) / 1e6) }
