package record

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/efferent/efferent/control"
)

// Topics.
const (
	TopicObservation = "/observation"
	TopicChunk       = "/chunk"
	TopicSetpoint    = "/setpoint"
	TopicTeleop      = "/teleop"
	TopicEvent       = "/event"
	// TopicCameraPrefix + image key, e.g. "/camera/observation/image".
	TopicCameraPrefix = "/camera/"
)

// FoxgloveTime is Foxglove's {sec, nsec} timestamp.
type FoxgloveTime struct {
	Sec  uint32 `json:"sec"`
	Nsec uint32 `json:"nsec"`
}

// CompressedImage is foxglove.CompressedImage.
type CompressedImage struct {
	Timestamp FoxgloveTime `json:"timestamp"`
	FrameID   string       `json:"frame_id"`
	Data      []byte       `json:"data"`
	Format    string       `json:"format"`
}

// Observation is one observation's non-image part; its images are on the
// camera topics with the same timestamp.
type Observation struct {
	Seq    uint64    `json:"seq"`
	Time   int64     `json:"time"`
	Prompt string    `json:"prompt"`
	State  []float64 `json:"state"`
	Images []string  `json:"images"`
}

// Chunk is one chunk as the policy produced it.
type Chunk struct {
	Seq          uint64    `json:"seq"`
	ObsTime      int64     `json:"obs_time"`
	Model        string    `json:"model"`
	H            int       `json:"h"`
	D            int       `json:"d"`
	StepPeriodNs int64     `json:"step_period_ns"`
	Actions      []float64 `json:"actions"`
	Tokens       []int64   `json:"tokens,omitempty"`
}

// Setpoint is one controller tick's setpoint after the gate, with the
// gate's verdict.
type Setpoint struct {
	Time    int64     `json:"time"`
	Seq     uint64    `json:"seq"`
	Hold    bool      `json:"hold"`
	Values  []float64 `json:"values"`
	Verdict string    `json:"verdict"`
	Reason  string    `json:"reason,omitempty"`
	Dim     int       `json:"dim"`
}

// Teleop is one teleoperator command.
type Teleop struct {
	Time   int64     `json:"time"`
	Mode   string    `json:"mode"`
	Values []float64 `json:"values"`
	Source string    `json:"source,omitempty"`
}

// Event is an episode-level event.
type Event struct {
	Time        int64  `json:"time"`
	Kind        string `json:"kind"`
	Task        string `json:"task,omitempty"`
	Instruction string `json:"instruction,omitempty"`
	Success     *bool  `json:"success,omitempty"`
	Detail      string `json:"detail,omitempty"`
}

// Event kinds.
const (
	EventEpisodeStart = "episode_start"
	EventEpisodeEnd   = "episode_end"
	// EventPremise: the false-premise verdict on the instruction (Detail).
	EventPremise = "premise"
	// EventComparison: the policy against the teleoperator over an episode
	// (Detail: compare.Summary as JSON, NaN as null).
	EventComparison = "comparison"
	// EventRun: the recording's first event, how the run was configured
	// (Detail: Run as JSON), so that a replay can rebuild its control path.
	EventRun = "run"
)

func ns(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// schemas are the JSON Schemas written for each message type.
var schemas = map[string]string{
	"foxglove.CompressedImage": `{"type":"object","properties":{"timestamp":{"type":"object","properties":{"sec":{"type":"integer"},"nsec":{"type":"integer"}}},"frame_id":{"type":"string"},"data":{"type":"string","contentEncoding":"base64"},"format":{"type":"string"}}}`,
	"efferent.Observation":     `{"type":"object","properties":{"seq":{"type":"integer"},"time":{"type":"integer"},"prompt":{"type":"string"},"state":{"type":"array","items":{"type":"number"}},"images":{"type":"array","items":{"type":"string"}}}}`,
	"efferent.Chunk":           `{"type":"object","properties":{"seq":{"type":"integer"},"obs_time":{"type":"integer"},"model":{"type":"string"},"h":{"type":"integer"},"d":{"type":"integer"},"step_period_ns":{"type":"integer"},"actions":{"type":"array","items":{"type":"number"}},"tokens":{"type":"array","items":{"type":"integer"}}}}`,
	"efferent.Setpoint":        `{"type":"object","properties":{"time":{"type":"integer"},"seq":{"type":"integer"},"hold":{"type":"boolean"},"values":{"type":"array","items":{"type":"number"}},"verdict":{"type":"string"},"reason":{"type":"string"},"dim":{"type":"integer"}}}`,
	"efferent.Teleop":          `{"type":"object","properties":{"time":{"type":"integer"},"mode":{"type":"string"},"values":{"type":"array","items":{"type":"number"}},"source":{"type":"string"}}}`,
	"efferent.Event":           `{"type":"object","properties":{"time":{"type":"integer"},"kind":{"type":"string"},"task":{"type":"string"},"instruction":{"type":"string"},"success":{"type":"boolean"},"detail":{"type":"string"}}}`,
}

// Run is the Detail of the run event (JSON).
type Run struct {
	// Robot is "sim" or the robot profile's name.
	Robot     string                `json:"robot"`
	Policy    string                `json:"policy"`
	RateHz    float64               `json:"rate_hz"`
	Virtual   bool                  `json:"virtual"`
	Scheduler control.SchedulerConf `json:"scheduler"`
	// State is the robot's state when the gate was built (ROS robots:
	// where the motion gate starts).
	State []float64 `json:"state,omitempty"`
	// Teleop: the teleop gate was first in the chain (--viewer); while a
	// teleoperator had taken over, the setpoints came from the /teleop
	// commands, not from the chunks.
	Teleop bool `json:"teleop,omitempty"`
}

// RunEvent is the run event for r.
func RunEvent(r Run) (Event, error) {
	detail, err := json.Marshal(r)
	if err != nil {
		return Event{}, err
	}
	return Event{Time: time.Now().UnixNano(), Kind: EventRun, Detail: string(detail)}, nil
}

// Run decodes the recording's run event.
func (rec *Recording) Run() (Run, error) {
	for _, e := range rec.Events {
		if e.Kind == EventRun {
			var r Run
			if err := json.Unmarshal([]byte(e.Detail), &r); err != nil {
				return r, fmt.Errorf("run event: %w", err)
			}
			return r, nil
		}
	}
	return Run{}, errors.New("no run event: not a recording of efferent run")
}
