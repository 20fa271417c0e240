package rig

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/efferent/efferent/safety"
)

// NewEStop returns a run's e-stop latch. SIGUSR1 engages it (`kill -USR1
// <pid>`) and SIGUSR2 releases it, until ctx ends: a signal is as
// authenticated as the user allowed to send it. The server's POST /estop
// and the viewer engage it too (POST /estop/reset, with the token,
// releases it); ROS robots also take std_msgs/Bool true on
// /efferent/estop.
func NewEStop(ctx context.Context, log *slog.Logger) *safety.EStop {
	e := safety.NewEStop(nil)
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGUSR1, syscall.SIGUSR2)
	go func() {
		defer signal.Stop(sig)
		for {
			select {
			case <-ctx.Done():
				return
			case s := <-sig:
				if s == syscall.SIGUSR1 {
					e.Trigger("signal")
					log.Warn("e-stop engaged (SIGUSR1): the robot holds until SIGUSR2 or an authenticated POST /estop/reset")
				} else {
					e.Reset()
					log.Warn("e-stop released (SIGUSR2)")
				}
			}
		}
	}()
	return e
}
