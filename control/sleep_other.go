//go:build !linux

package control

import "time"

func sleep(d time.Duration) { time.Sleep(d) }
