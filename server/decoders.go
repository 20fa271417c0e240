package server

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
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
	idle atomic.Int32 // decoders waiting for work
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
				d.idle.Add(1)
				select {
				case f := <-d.work:
					d.idle.Add(-1)
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
	return d.runEach(ctx, wait, 1, func(int) { f() })
}

// runEach has f(0), …, f(n−1) run by decoders, as many at once as are
// free (at least one, waiting at most wait for it, or until ctx ends), and
// returns once all have returned. The decoders that take part share out
// the indices, so with one decoder free all n cost a single hand-off.
func (d *decoders) runEach(ctx context.Context, wait time.Duration, n int, f func(i int)) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	share := func() {
		defer wg.Done()
		for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
			f(i)
		}
	}
	wg.Add(1)
	select {
	case d.work <- share:
	default:
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case d.work <- share:
		case <-t.C:
			return fmt.Errorf("%w (no image decoder free within %v)", ErrOverloaded, wait)
		case <-ctx.Done():
			return ErrClosed
		}
	}
	// More decoders only where they are idle now: a request never waits
	// for a second one.
	for k := 1; k < n && next.Load() < int64(n) && d.idle.Load() > 0; k++ {
		wg.Add(1)
		select {
		case d.work <- share:
			continue
		default:
			wg.Done()
		}
		break
	}
	wg.Wait()
	return nil
}
