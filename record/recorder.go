package record

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/foxglove/mcap/go/mcap"

	"github.com/efferent/efferent"
)

// MaxDim is the largest setpoint or teleop dimension recorded.
const MaxDim = 32

// Conf configures a Recorder.
type Conf struct {
	// Path of the MCAP file to create (required; an existing file is
	// replaced).
	Path string
	// ImageFormat of the camera frames: "jpeg" (default; lossy, small) or
	// "png" (lossless: a replay through the same model reproduces its
	// chunks exactly).
	ImageFormat string
	// JPEGQuality, 1..100. Default 90.
	JPEGQuality int
	// Queue is how many records may wait for the writer. Default 8192
	// (8 s of setpoints at 1 kHz).
	Queue int
	// Buffers is how many observations or chunks (with their images) may
	// wait for the writer. Default 16.
	Buffers int
	// Block makes the recording methods wait for the writer instead of
	// dropping: for runs in virtual time, where nothing real waits and a
	// complete recording matters more. Never set it on a real robot.
	// Default false.
	Block bool
	// Encode, if set, encodes a frame (e.g. with OpenCV); default Go's
	// image/jpeg and image/png.
	Encode func(img efferent.Image, format string, quality int) ([]byte, error)
}

// Stats counts what was written and what was dropped because the writer
// fell behind.
type Stats struct {
	Written, Dropped uint64
	Bytes            uint64
}

// ErrClosed is returned by Close when called twice.
var ErrClosed = errors.New("record: closed")

const (
	kSetpoint uint8 = iota
	kTeleop
	kEvent
	kObservation
	kChunk
)

// item is one queued record; setpoints and teleop commands travel by value.
type item struct {
	kind    uint8
	t       time.Time
	seq     uint64
	hold    bool
	n       int
	v       [MaxDim]float64
	verdict efferent.Verdict
	mode    string
	source  string
	slot    *slot
	event   *Event
}

// slot holds a copy of an observation or a chunk for the writer.
type slot struct {
	obs   efferent.Observation
	keys  []string
	chunk efferent.Chunk
}

// Recorder writes an MCAP recording from one writer goroutine. Its
// recording methods are safe for concurrent use, never block and do not
// allocate (Event excepted).
type Recorder struct {
	conf     Conf
	f        *os.File
	buf      *bufio.Writer
	w        *mcap.Writer
	q        chan item
	free     chan *slot
	done     chan struct{}
	mu       sync.RWMutex // held for writing only while closing the queue
	closed   atomic.Bool
	channels map[string]uint16
	schemas  map[string]uint16
	seqs     map[uint16]uint32
	written  atomic.Uint64
	dropped  atomic.Uint64
	bytes    atomic.Uint64
	errOnce  sync.Once
	err      error
	enc      bytes.Buffer
}

// New creates the file and starts the writer.
func New(conf Conf) (*Recorder, error) {
	if conf.Path == "" {
		return nil, errors.New("record: Conf.Path: required")
	}
	switch conf.ImageFormat {
	case "":
		conf.ImageFormat = "jpeg"
	case "jpeg", "png":
	default:
		return nil, fmt.Errorf("record: Conf.ImageFormat %q: want jpeg or png", conf.ImageFormat)
	}
	if conf.JPEGQuality == 0 {
		conf.JPEGQuality = 90
	}
	if conf.JPEGQuality < 1 || conf.JPEGQuality > 100 {
		return nil, fmt.Errorf("record: Conf.JPEGQuality %d: want 1..100", conf.JPEGQuality)
	}
	if conf.Queue == 0 {
		conf.Queue = 8192
	}
	if conf.Buffers == 0 {
		conf.Buffers = 16
	}
	if conf.Queue < 1 || conf.Buffers < 1 {
		return nil, fmt.Errorf("record: Conf.Queue %d / Buffers %d: want ≥ 1", conf.Queue, conf.Buffers)
	}
	if conf.Encode == nil {
		conf.Encode = encodeImage
	}
	f, err := os.Create(conf.Path)
	if err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	r := &Recorder{conf: conf, f: f, buf: bufio.NewWriterSize(f, 1<<20), q: make(chan item, conf.Queue),
		free: make(chan *slot, conf.Buffers), done: make(chan struct{}),
		channels: map[string]uint16{}, schemas: map[string]uint16{}, seqs: map[uint16]uint32{}}
	for range conf.Buffers {
		r.free <- &slot{}
	}
	r.w, err = mcap.NewWriter(r.buf, &mcap.WriterOptions{Chunked: true, ChunkSize: 4 << 20, Compression: mcap.CompressionLZ4, IncludeCRC: true})
	if err == nil {
		err = r.w.WriteHeader(&mcap.Header{Profile: "", Library: "efferent"})
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("record: %w", err)
	}
	go r.run()
	return r, nil
}

// Path returns the file's path.
func (r *Recorder) Path() string { return r.conf.Path }

// Stats returns the counters; safe from any goroutine.
func (r *Recorder) Stats() Stats {
	return Stats{Written: r.written.Load(), Dropped: r.dropped.Load(), Bytes: r.bytes.Load()}
}

func (r *Recorder) push(it item) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed.Load() {
		r.dropped.Add(1)
		if it.slot != nil {
			r.free <- it.slot
		}
		return
	}
	if r.conf.Block {
		r.q <- it
		return
	}
	select {
	case r.q <- it:
	default:
		r.dropped.Add(1)
		if it.slot != nil {
			r.free <- it.slot
		}
	}
}

// Setpoint records one gated setpoint and its verdict (values beyond
// MaxDim are cut).
func (r *Recorder) Setpoint(sp *efferent.Setpoint, v efferent.Verdict) {
	it := item{kind: kSetpoint, t: sp.Time, seq: sp.Seq, hold: sp.Hold, verdict: v}
	it.n = copy(it.v[:], sp.Values)
	r.push(it)
}

// Teleop records one teleoperator command.
func (r *Recorder) Teleop(t time.Time, mode string, values []float64, source string) {
	it := item{kind: kTeleop, t: t, mode: mode, source: source}
	it.n = copy(it.v[:], values)
	r.push(it)
}

// Event records an episode event (it allocates; events are rare).
func (r *Recorder) Event(e Event) {
	r.push(item{kind: kEvent, event: &e})
}

// takeSlot returns a free buffer, or nil (counted as a drop).
func (r *Recorder) takeSlot() *slot {
	if r.closed.Load() {
		r.dropped.Add(1)
		return nil
	}
	if r.conf.Block {
		return <-r.free
	}
	select {
	case s := <-r.free:
		return s
	default:
		r.dropped.Add(1)
		return nil
	}
}

// Observation records an observation with its camera frames (copied).
func (r *Recorder) Observation(obs *efferent.Observation) {
	s := r.takeSlot()
	if s == nil {
		return
	}
	s.obs.Time, s.obs.Seq, s.obs.Prompt = obs.Time, obs.Seq, obs.Prompt
	s.obs.State = append(s.obs.State[:0], obs.State...)
	if s.obs.Images == nil {
		s.obs.Images = map[string]efferent.Image{}
	}
	clear(s.obs.Images)
	s.keys = s.keys[:0]
	for k, im := range obs.Images {
		c := s.obs.Images[k]
		c.CopyFrom(im)
		s.obs.Images[k] = c
		s.keys = append(s.keys, k)
	}
	sort.Strings(s.keys)
	r.push(item{kind: kObservation, slot: s})
}

// Chunk records a chunk (copied).
func (r *Recorder) Chunk(c *efferent.Chunk) {
	s := r.takeSlot()
	if s == nil {
		return
	}
	d := &s.chunk
	d.H, d.D, d.ObsTime, d.Seq, d.Model, d.StepPeriod = c.H, c.D, c.ObsTime, c.Seq, c.Model, c.StepPeriod
	d.Actions = append(d.Actions[:0], c.Actions...)
	d.Tokens = append(d.Tokens[:0], c.Tokens...)
	r.push(item{kind: kChunk, slot: s})
}

// Close drains the queue, finishes the file (its index and summary) and
// returns the first error the writer met.
func (r *Recorder) Close() error {
	r.mu.Lock()
	if r.closed.Swap(true) {
		r.mu.Unlock()
		return ErrClosed
	}
	close(r.q)
	r.mu.Unlock()
	<-r.done
	err := r.w.Close()
	if err == nil {
		err = r.buf.Flush()
	}
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	if r.err != nil {
		return r.err
	}
	if err != nil {
		return fmt.Errorf("record: %s: %w", r.conf.Path, err)
	}
	return nil
}

// run is the writer goroutine.
func (r *Recorder) run() {
	defer close(r.done)
	for it := range r.q {
		if err := r.write(&it); err != nil {
			r.errOnce.Do(func() { r.err = fmt.Errorf("record: %s: %w", r.conf.Path, err) })
		}
		if it.slot != nil {
			r.free <- it.slot
		}
	}
}

func (r *Recorder) write(it *item) error {
	switch it.kind {
	case kSetpoint:
		return r.message(TopicSetpoint, "efferent.Setpoint", it.t, Setpoint{Time: ns(it.t), Seq: it.seq, Hold: it.hold,
			Values: it.v[:it.n], Verdict: it.verdict.Kind.String(), Reason: it.verdict.Reason, Dim: it.verdict.Dim})
	case kTeleop:
		return r.message(TopicTeleop, "efferent.Teleop", it.t, Teleop{Time: ns(it.t), Mode: it.mode, Values: it.v[:it.n], Source: it.source})
	case kEvent:
		return r.message(TopicEvent, "efferent.Event", time.Unix(0, it.event.Time), it.event)
	case kChunk:
		c := &it.slot.chunk
		return r.message(TopicChunk, "efferent.Chunk", c.ObsTime, Chunk{Seq: c.Seq, ObsTime: ns(c.ObsTime), Model: c.Model,
			H: c.H, D: c.D, StepPeriodNs: int64(c.StepPeriod), Actions: c.Actions, Tokens: c.Tokens})
	case kObservation:
		o := &it.slot.obs
		for _, k := range it.slot.keys {
			data, err := r.conf.Encode(o.Images[k], r.conf.ImageFormat, r.conf.JPEGQuality)
			if err != nil {
				return fmt.Errorf("camera %s: %w", k, err)
			}
			t := o.Time
			if err := r.message(TopicCameraPrefix+k, "foxglove.CompressedImage", t, CompressedImage{
				Timestamp: FoxgloveTime{Sec: uint32(t.Unix()), Nsec: uint32(t.Nanosecond())}, FrameID: k,
				Data: data, Format: r.conf.ImageFormat}); err != nil {
				return err
			}
		}
		return r.message(TopicObservation, "efferent.Observation", o.Time, Observation{Seq: o.Seq, Time: ns(o.Time),
			Prompt: o.Prompt, State: o.State, Images: it.slot.keys})
	}
	return fmt.Errorf("unknown record kind %d", it.kind)
}

// message writes one JSON message, creating its schema and channel on
// first use.
func (r *Recorder) message(topic, schema string, t time.Time, v any) error {
	id, ok := r.channels[topic]
	if !ok {
		sid, ok := r.schemas[schema]
		if !ok {
			sid = uint16(len(r.schemas) + 1)
			if err := r.w.WriteSchema(&mcap.Schema{ID: sid, Name: schema, Encoding: "jsonschema", Data: []byte(schemas[schema])}); err != nil {
				return err
			}
			r.schemas[schema] = sid
		}
		id = uint16(len(r.channels) + 1)
		if err := r.w.WriteChannel(&mcap.Channel{ID: id, SchemaID: sid, Topic: topic, MessageEncoding: "json"}); err != nil {
			return err
		}
		r.channels[topic] = id
	}
	r.enc.Reset()
	if err := json.NewEncoder(&r.enc).Encode(v); err != nil {
		return err
	}
	data := bytes.TrimSuffix(r.enc.Bytes(), []byte{'\n'})
	seq := r.seqs[id]
	r.seqs[id] = seq + 1
	ts := uint64(max(ns(t), 0))
	if err := r.w.WriteMessage(&mcap.Message{ChannelID: id, Sequence: seq, LogTime: ts, PublishTime: ts, Data: data}); err != nil {
		return err
	}
	r.written.Add(1)
	r.bytes.Add(uint64(len(data)))
	return nil
}

// encodeImage encodes an RGB (or gray) frame with Go's encoders.
func encodeImage(img efferent.Image, format string, quality int) ([]byte, error) {
	var im image.Image
	switch img.C {
	case 3:
		rgba := image.NewRGBA(image.Rect(0, 0, img.W, img.H))
		for i, j := 0, 0; i+2 < len(img.Pix) && j+3 < len(rgba.Pix); i, j = i+3, j+4 {
			rgba.Pix[j], rgba.Pix[j+1], rgba.Pix[j+2], rgba.Pix[j+3] = img.Pix[i], img.Pix[i+1], img.Pix[i+2], 255
		}
		im = rgba
	case 1:
		g := image.NewGray(image.Rect(0, 0, img.W, img.H))
		copy(g.Pix, img.Pix)
		im = g
	default:
		return nil, fmt.Errorf("%d channels, want 1 or 3", img.C)
	}
	var b bytes.Buffer
	var err error
	if format == "png" {
		err = png.Encode(&b, im)
	} else {
		err = jpeg.Encode(&b, im, &jpeg.Options{Quality: quality})
	}
	return b.Bytes(), err
}
