//go:build linux

package control

import (
	"syscall"
	"time"
)

// sleep blocks the calling thread in nanosleep(2) for d, resuming after
// signals (the Go runtime's preemption signals interrupt it).
func sleep(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	for syscall.Nanosleep(&ts, &ts) == syscall.EINTR {
	}
}
