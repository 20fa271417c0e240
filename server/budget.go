package server

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sync/atomic"
	"time"
)

// What a request may use without asking the budget: a frame up to
// smallFrameBytes is read into its connection's own buffer, and a
// compressed image up to smallImagePixels is decoded without a decode
// slot. A LIBERO observation (two raw 224×224 images, about 301 kB) is
// small on both counts, so the common request never waits for the budget.
const (
	smallFrameBytes  = 512 << 10
	smallImagePixels = 512 * 512
)

// ErrOverloaded is reported when a large request could not get a share of
// server.max_inflight_bytes within server.request_timeout.
var ErrOverloaded = errors.New("busy: too many large requests in progress (server.max_inflight_bytes); retry later")

// budget bounds the memory that large requests hold at once. Each large
// request (a frame over smallFrameBytes, or a compressed image over
// smallImagePixels) takes one slot for as long as it holds its frame or
// full-size images; a slot stands for the most one request can hold,
// max_frame_bytes + 3·max_frame_pixels, so the slots together never
// exceed max_inflight_bytes. One slot per request, taken in one step,
// means no request holds part of the budget while waiting for more: no
// deadlock however the requests interleave.
//
// Released large buffers go back to a free list of at most one per slot.
// When the last slot is released, the janitor waits trimDelay, empties the
// free list and returns the freed memory to the operating system, so a
// burst of large frames does not leave the process holding its peak.
type budget struct {
	slots    chan struct{} // one element per slot in use
	free     chan []byte
	maxFrame int64
	// dirty is set when a slot was released since the last trim.
	dirty atomic.Bool
	kick  chan struct{}
	// trimNative returns native (C heap) memory, e.g. OpenCV's decode
	// buffers; nil when there is none.
	trimNative func()
}

// trimDelay is how long the server must have had no large request in
// progress before it returns memory to the operating system.
const trimDelay = time.Second

func newBudget(c Conf) *budget {
	slot := c.MaxFrameBytes + 3*int64(c.MaxFramePixels)
	n := max(1, int(c.MaxInflightBytes/slot))
	return &budget{slots: make(chan struct{}, n), free: make(chan []byte, n), maxFrame: c.MaxFrameBytes,
		kick: make(chan struct{}, 1), trimNative: c.TrimNative}
}

// acquire takes a slot, waiting at most wait (or until ctx ends).
func (b *budget) acquire(ctx context.Context, wait time.Duration) error {
	select {
	case b.slots <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case b.slots <- struct{}{}:
		return nil
	case <-t.C:
		return fmt.Errorf("%w (waited %v)", ErrOverloaded, wait)
	case <-ctx.Done():
		return ErrClosed
	}
}

// release returns a slot and buf (the large buffer it held, or nil).
func (b *budget) release(buf []byte) {
	if buf != nil {
		select {
		case b.free <- buf[:0]:
		default:
		}
	}
	<-b.slots
	b.dirty.Store(true)
	if len(b.slots) == 0 {
		select {
		case b.kick <- struct{}{}:
		default:
		}
	}
}

// buffer returns a large buffer from the free list, or a new one.
func (b *budget) buffer() []byte {
	select {
	case buf := <-b.free:
		return buf
	default:
		return make([]byte, 0, 2*smallFrameBytes)
	}
}

// janitor returns memory to the operating system once no large request
// has been in progress for trimDelay. It runs until ctx ends.
func (b *budget) janitor(ctx context.Context) {
	t := time.NewTimer(time.Hour)
	t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.kick:
			t.Reset(trimDelay)
		case <-t.C:
			if len(b.slots) != 0 || !b.dirty.Swap(false) {
				continue
			}
			for len(b.free) > 0 {
				<-b.free
			}
			debug.FreeOSMemory()
			if b.trimNative != nil {
				b.trimNative()
			}
		}
	}
}
