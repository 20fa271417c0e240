package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/foxglove/mcap/go/mcap"
)

// MaxMessage bounds one message's size when reading (a 4K PNG frame is
// well below it).
const MaxMessage = 64 << 20

// ErrMalformed is wrapped by errors about a file that is not a readable
// recording.
var ErrMalformed = errors.New("record: malformed recording")

// Recording is a whole recording in memory, each topic in file order.
type Recording struct {
	Observations []Observation
	Chunks       []Chunk
	Setpoints    []Setpoint
	Teleop       []Teleop
	Events       []Event
	// Frames by image key.
	Frames map[string][]CompressedImage
	// Episodes groups the messages by episode_start events, in file
	// order; messages before the first one form an episode without Start.
	Episodes []Episode
}

// Episode is one episode's part of a recording.
type Episode struct {
	Start, End   *Event
	Observations []Observation
	Chunks       []Chunk
	Setpoints    []Setpoint
	Teleop       []Teleop
	// Frames by image key.
	Frames map[string][]CompressedImage
}

// episode returns the episode messages are being added to.
func (rec *Recording) episode() *Episode {
	if len(rec.Episodes) == 0 {
		rec.Episodes = append(rec.Episodes, Episode{Frames: map[string][]CompressedImage{}})
	}
	return &rec.Episodes[len(rec.Episodes)-1]
}

// ReadFile reads the recording at path.
func ReadFile(path string) (*Recording, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	defer f.Close()
	rec, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rec, nil
}

// Read reads a recording. Messages on topics it does not know are skipped;
// a message that does not decode is an error naming its topic.
func Read(r io.Reader) (*Recording, error) {
	return read(r, MaxMessage, MaxChunk)
}

// MaxChunk bounds one decompressed MCAP chunk (the writer makes 4 MiB
// chunks; one oversized message makes a larger one).
const MaxChunk = 256 << 20

// read lexes the file record by record, with bounds on every length the
// file claims, so a hostile file costs at most those bounds.
func read(r io.Reader, maxRecord, maxChunk int) (rec *Recording, err error) {
	defer func() {
		// The MCAP library trusts more of the file than it should; a
		// hostile file must give an error, not a crash.
		if p := recover(); p != nil {
			rec, err = nil, fmt.Errorf("%w: %v", ErrMalformed, p)
		}
	}()
	lex, err := mcap.NewLexer(r, &mcap.LexerOptions{MaxRecordSize: maxRecord, MaxDecompressedChunkSize: maxChunk, ValidateChunkCRCs: true})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	defer lex.Close()
	rec = &Recording{Frames: map[string][]CompressedImage{}}
	topics := map[uint16]string{}
	var buf []byte
	for first := true; ; first = false {
		tok, data, err := lex.Next(buf)
		if errors.Is(err, io.EOF) && !first {
			return rec, nil // a truncated recording (the run was killed): what is there
		}
		if err == nil && first && tok != mcap.TokenHeader {
			err = errors.New("no header record")
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		buf = data[:0]
		switch tok {
		case mcap.TokenChannel:
			ch, err := mcap.ParseChannel(data)
			if err != nil {
				return nil, fmt.Errorf("%w: channel: %v", ErrMalformed, err)
			}
			topics[ch.ID] = ch.Topic
		case mcap.TokenMessage:
			msg, err := mcap.ParseMessage(data)
			if err != nil {
				return nil, fmt.Errorf("%w: message: %v", ErrMalformed, err)
			}
			topic, ok := topics[msg.ChannelID]
			if !ok {
				return nil, fmt.Errorf("%w: message on unknown channel %d", ErrMalformed, msg.ChannelID)
			}
			if err := rec.add(topic, msg.Data); err != nil {
				return nil, fmt.Errorf("%w: %s message %d: %v", ErrMalformed, topic, msg.Sequence, err)
			}
		case mcap.TokenFooter:
			return rec, nil
		}
	}
}

func (rec *Recording) add(topic string, data []byte) error {
	switch {
	case topic == TopicObservation:
		return decodeInto(data, &rec.Observations, &rec.episode().Observations)
	case topic == TopicChunk:
		return decodeInto(data, &rec.Chunks, &rec.episode().Chunks)
	case topic == TopicSetpoint:
		return decodeInto(data, &rec.Setpoints, &rec.episode().Setpoints)
	case topic == TopicTeleop:
		return decodeInto(data, &rec.Teleop, &rec.episode().Teleop)
	case topic == TopicEvent:
		var e Event
		if err := strictJSON(data, &e); err != nil {
			return err
		}
		rec.Events = append(rec.Events, e)
		switch e.Kind {
		case EventEpisodeStart:
			ep := rec.episode()
			if ep.Start != nil || len(ep.Setpoints)+len(ep.Chunks)+len(ep.Observations) > 0 {
				rec.Episodes = append(rec.Episodes, Episode{Frames: map[string][]CompressedImage{}})
				ep = rec.episode()
			}
			ep.Start = &e
		case EventEpisodeEnd:
			rec.episode().End = &e
		}
	case strings.HasPrefix(topic, TopicCameraPrefix):
		var im CompressedImage
		if err := strictJSON(data, &im); err != nil {
			return err
		}
		key := strings.TrimPrefix(topic, TopicCameraPrefix)
		rec.Frames[key] = append(rec.Frames[key], im)
		ep := rec.episode()
		ep.Frames[key] = append(ep.Frames[key], im)
	}
	return nil
}

func decodeInto[T any](data []byte, all, episode *[]T) error {
	var v T
	if err := strictJSON(data, &v); err != nil {
		return err
	}
	*all = append(*all, v)
	*episode = append(*episode, v)
	return nil
}

func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
