package server

import "syscall"

// lowerThreadPriority sets the calling OS thread's nice value (Linux
// priorities are per thread).
func lowerThreadPriority(nice int) {
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, syscall.Gettid(), nice)
}
