//go:build !linux

package server

// lowerThreadPriority is a no-op where a thread's priority cannot be set
// on its own.
func lowerThreadPriority(int) {}
