package main

import (
	"github.com/spf13/pflag"

	"github.com/efferent/efferent/rig"
)

// applyRunFlags sets the run and ros sections from the flags the user set
// (a flag's default never overrides the file).
func applyRunFlags(f *pflag.FlagSet, cfg *Config) {
	r := &cfg.Run
	changed := func(name string) bool { fl := f.Lookup(name); return fl != nil && fl.Changed }
	for name, dst := range map[string]*string{"robot": &r.Robot, "task": &r.Task, "policy": &r.Policy, "record": &r.Record.Path,
		"record-images": &r.Record.Images, "out": &r.Out, "ros-master": &cfg.ROS.Master} {
		if changed(name) {
			*dst, _ = f.GetString(name)
		}
	}
	for name, dst := range map[string]*int{"episodes": &r.Episodes, "init": &r.Init, "replan-steps": &r.Scheduler.ReplanSteps} {
		if changed(name) {
			*dst, _ = f.GetInt(name)
		}
	}
	for name, dst := range map[string]*bool{"fast": &r.Fast, "serve": &r.Serve, "metrics": &r.Metrics} {
		if changed(name) {
			*dst, _ = f.GetBool(name)
		}
	}
	if changed("mode") {
		mode, _ := f.GetString("mode")
		r.SetMode(mode)
	}
	if changed("watchdog") {
		r.Watchdog, _ = f.GetDuration("watchdog")
	}
	if changed("ready-timeout") {
		cfg.ROS.ReadyTimeout, _ = f.GetDuration("ready-timeout")
	}
	if changed("camera") {
		cfg.ROS.Cameras, _ = f.GetStringArray("camera")
	}
	if changed("premise") {
		on, _ := f.GetBool("premise")
		r.Premise = &on
	}
}

// runConf is the run's configuration with the sections it shares.
func (c Config) runConf() rig.Conf {
	r := c.Run
	r.ROS, r.Server, r.Model, r.Viewer, r.ViewerClients = c.ROS, c.Server, c.Model, c.Viewer, c.ViewerClients
	if r.Premise == nil && c.PremiseDetector != "" {
		// A detector for the lab's scene: the check is on for ROS robots
		// too, unless run.premise (--premise) says otherwise.
		on := true
		r.Premise = &on
	}
	return r
}
