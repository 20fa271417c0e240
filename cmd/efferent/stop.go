package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/efferent/efferent/control"
	"github.com/efferent/efferent/safety"
)

// newEStop returns the run's e-stop latch. SIGUSR1 engages it (`kill
// -USR1 <pid>`) and SIGUSR2 releases it: a signal is as authenticated as
// the user allowed to send it. With --serve, POST /estop engages it too
// (POST /estop/reset, with the token, releases it); ROS robots also take
// std_msgs/Bool true on /efferent/estop.
func newEStop(ctx context.Context, log *slog.Logger) *safety.EStop {
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

// realtimeGuards are the gates put before the limits in a run: the e-stop
// always, and in real time the watchdog, timed by --watchdog or else to two
// replanning periods (at least 150 ms). In virtual time nothing can stall,
// so no watchdog.
func realtimeGuards(f *pflag.FlagSet, estop *safety.EStop, sc control.SchedulerConf, stepHz float64, virtual bool) ([]safety.Gate, error) {
	guards := []safety.Gate{estop}
	if virtual {
		return guards, nil
	}
	timeout, _ := f.GetDuration("watchdog")
	if timeout < 0 {
		return nil, fmt.Errorf("--watchdog %v: want a positive duration (0: the default)", timeout)
	}
	if timeout == 0 {
		steps := sc.WithDefaults().ReplanSteps
		timeout = safety.DefaultWatchdog(time.Duration(float64(steps) * float64(time.Second) / stepHz))
	}
	w, err := safety.NewWatchdog(timeout)
	if err != nil {
		return nil, err
	}
	return append(guards, w), nil
}
