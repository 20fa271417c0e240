package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/pflag"

	"github.com/efferent/efferent/control"
	"github.com/efferent/efferent/record"
)

// EventRun is the recording's first event: how the run was configured, so
// that `efferent replay` can rebuild its control path.
const EventRun = "run"

// runInfo is the Detail of the run event (JSON).
type runInfo struct {
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

func addRecordFlags(f *pflag.FlagSet) {
	f.String("record", "", "record camera frames, observations, chunks, setpoints with verdicts and episode events to this MCAP file")
	f.String("record-images", "jpeg", "image format in the recording: jpeg (small) or png (lossless: replaying the same model reproduces its chunks)")
}

// openRecorder starts the recorder --record asks for (nil without it) and
// writes the run event.
func openRecorder(f *pflag.FlagSet, info runInfo, log *slog.Logger) (*record.Recorder, error) {
	path, _ := f.GetString("record")
	if path == "" {
		return nil, nil
	}
	format, _ := f.GetString("record-images")
	// In virtual time nothing real waits: the run waits for the writer
	// rather than lose records.
	rec, err := record.New(record.Conf{Path: path, ImageFormat: format, Block: info.Virtual})
	if err != nil {
		return nil, fmt.Errorf("--record: %w", err)
	}
	detail, err := json.Marshal(info)
	if err != nil {
		rec.Close()
		return nil, err
	}
	rec.Event(record.Event{Time: time.Now().UnixNano(), Kind: EventRun, Detail: string(detail)})
	log.Info("recording", "file", path, "images", format)
	return rec, nil
}

// closeRecorder finishes the file and reports what was lost.
func closeRecorder(rec *record.Recorder, log *slog.Logger) error {
	if rec == nil {
		return nil
	}
	err := rec.Close()
	st := rec.Stats()
	log.Info("recording closed", "file", rec.Path(), "messages", st.Written, "dropped", st.Dropped, "bytes", st.Bytes)
	if err != nil {
		return err
	}
	if st.Dropped > 0 {
		log.Warn("the recorder fell behind: records were dropped", "dropped", st.Dropped)
	}
	return nil
}
