package camera

import (
	"errors"
	"sync"
	"time"

	"github.com/efferent/efferent"
)

// Frame is one captured image.
type Frame struct {
	Image efferent.Image
	// Time is when the frame was captured (read from the device, or the
	// message's stamp).
	Time time.Time
	// Seq counts the source's frames from 1.
	Seq uint64
}

// Stats describe a source.
type Stats struct {
	// Frames captured; Dropped among them: replaced by a newer frame before
	// anyone took them (latest frame wins: a slow consumer never builds a
	// queue of old frames, it skips them, and they are counted here).
	Frames, Dropped uint64
	// Reconnects of a lost device or stream.
	Reconnects uint64
	// Width and Height of the last frame; FPS the measured capture rate
	// (a moving average over about a second).
	Width, Height int
	FPS           float64
	// EOF: a file source reached its end (and does not loop).
	EOF bool
	// Err is the last error (a lost stream, an unreadable file), "" if none.
	Err string
}

// Source is a camera: it captures on its own goroutine and keeps only the
// latest frame. Latest and Stats may be called from any goroutine.
type Source interface {
	// Latest copies the newest frame into dst (reusing dst.Image.Pix) and
	// reports false while there has been none.
	Latest(dst *Frame) bool
	Stats() Stats
	Close() error
}

// ErrClosed is returned by a closed source's operations.
var ErrClosed = errors.New("camera: source closed")

// Slot is the latest-frame-wins buffer a Source implementation keeps: Put
// from the capture goroutine, Latest from the consumer; one copy each way,
// into buffers reused from frame to frame.
type Slot struct {
	mu      sync.Mutex
	frame   Frame
	have    bool
	taken   bool
	stats   Stats
	lastPut time.Time
	ema     float64 // moving average of the capture interval, seconds
}

// Put stores a frame (copied), counting the previous one as dropped if
// nobody took it.
func (s *Slot) Put(im efferent.Image, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.have && !s.taken {
		s.stats.Dropped++
	}
	s.frame.Image.CopyFrom(im)
	s.stats.Frames++
	s.frame.Time, s.frame.Seq = at, s.stats.Frames
	s.have, s.taken = true, false
	s.stats.Width, s.stats.Height = im.W, im.H
	if !s.lastPut.IsZero() {
		dt := at.Sub(s.lastPut).Seconds()
		if s.ema == 0 {
			s.ema = dt
		} else {
			// Weight ~ one second of frames.
			a := min(1, dt)
			s.ema += a * (dt - s.ema)
		}
		if s.ema > 0 {
			s.stats.FPS = 1 / s.ema
		}
	}
	s.lastPut = at
}

// Latest implements Source.
func (s *Slot) Latest(dst *Frame) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.have {
		return false
	}
	dst.Image.CopyFrom(s.frame.Image)
	dst.Time, dst.Seq = s.frame.Time, s.frame.Seq
	s.taken = true
	return true
}

// Update changes the stats under the slot's lock (errors, reconnects, EOF).
func (s *Slot) Update(f func(*Stats)) {
	s.mu.Lock()
	f(&s.stats)
	s.mu.Unlock()
}

// Stats implements Source.
func (s *Slot) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}
