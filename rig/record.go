package rig

import (
	"fmt"
	"log/slog"

	"github.com/efferent/efferent/record"
)

// RecordConf says where a run records (efferent run --record).
type RecordConf struct {
	// Path is the MCAP file; empty: no recording.
	Path string `yaml:"path"`
	// Images is the image format in the recording: jpeg (default, small)
	// or png (lossless: replaying the same model reproduces its chunks).
	Images string `yaml:"images"`
}

// openRecorder starts the recorder conf asks for (nil without a path) and
// writes the run event.
func openRecorder(conf RecordConf, run record.Run, log *slog.Logger) (*record.Recorder, error) {
	if conf.Path == "" {
		return nil, nil
	}
	format := conf.Images
	if format == "" {
		format = "jpeg"
	}
	// In virtual time nothing real waits: the run waits for the writer
	// rather than lose records.
	rec, err := record.New(record.Conf{Path: conf.Path, ImageFormat: format, Block: run.Virtual})
	if err != nil {
		return nil, fmt.Errorf("--record: %w", err)
	}
	ev, err := record.RunEvent(run)
	if err != nil {
		rec.Close()
		return nil, err
	}
	rec.Event(ev)
	log.Info("recording", "file", conf.Path, "images", format)
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
