package server

import (
	"context"
	"fmt"
	"runtime"
	"time"
)

// decodeNice is the CPU priority (Linux nice value) of the threads that
// decode and resize large images: lower than the model's worker and the
// connections', so that a client sending large images uses the cores the
// model leaves idle instead of delaying the other clients' answers.
const decodeNice = 10

// decoders decode and resize large images: server.max_decodes goroutines,
// each on an OS thread of its own at decodeNice (OpenCV's cgo calls run on
// the calling thread, so they inherit it).
type decoders struct {
	work chan func()
}

func (s *Server) startDecoders(n int) *decoders {
	d := &decoders{work: make(chan func())}
	s.wg.Add(n)
	for range n {
		go func() {
			defer s.wg.Done()
			// The thread stays locked, so it ends with the goroutine and its
			// lowered priority is never handed to other goroutines.
			runtime.LockOSThread()
			lowerThreadPriority(decodeNice)
			for {
				select {
				case f := <-d.work:
					f()
				case <-s.ctx.Done():
					return
				}
			}
		}()
	}
	return d
}

// run has f run by a decoder, waiting at most wait for one to be free (or
// until ctx ends), and returns once f has returned.
func (d *decoders) run(ctx context.Context, wait time.Duration, f func()) error {
	done := make(chan struct{})
	g := func() { defer close(done); f() }
	select {
	case d.work <- g:
	default:
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case d.work <- g:
		case <-t.C:
			return fmt.Errorf("%w (no image decoder free within %v)", ErrOverloaded, wait)
		case <-ctx.Done():
			return ErrClosed
		}
	}
	<-done
	return nil
}
