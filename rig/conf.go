package rig

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/camera"
	"github.com/efferent/efferent/compare"
	"github.com/efferent/efferent/control"
	"github.com/efferent/efferent/server"
	"github.com/efferent/efferent/sim"
	"github.com/efferent/efferent/sim/legged"
)

// DefaultTask is the simulator task a run drives when none is given.
const DefaultTask = sim.DefaultTask

// Conf configures a run (efferent run): the config file's run section and
// the flags over it. Zero values mean the documented defaults, except
// where DefaultConf sets one that zero cannot mean.
type Conf struct {
	// Robot is sim (the built-in simulator; default), franka or
	// quadruped (over ROS 1), or a robot profile YAML file.
	Robot string `yaml:"robot"`
	// Task is the instruction: for the simulator a task's instruction or
	// name (default DefaultTask); for a ROS robot what it should do
	// (required).
	Task string `yaml:"task"`
	// Policy is what drives the robot (PolicyHelp). Default "auto".
	Policy string `yaml:"policy"`
	// Episodes (simulator) to run, each from the next fixed initial
	// state; 0 runs until interrupted. DefaultConf: 1.
	Episodes int `yaml:"episodes"`
	// Init is the initial state of the first episode (0..49).
	Init int `yaml:"init"`
	// Fast runs the simulator in virtual time, as fast as the CPU allows
	// (deterministic).
	Fast bool `yaml:"fast"`
	// Scheduler schedules the chunks: mode (replan, ensemble, async, rtc) and
	// its parameters. The kinds, chunk length and periods come from the
	// robot and the policy and may not be set.
	Scheduler control.SchedulerConf `yaml:"scheduler"`
	// Watchdog holds the robot when no new chunk arrives for this long.
	// Default: two replanning periods, at least 150 ms.
	Watchdog time.Duration `yaml:"watchdog"`
	// Premise checks the instruction against the camera frames before
	// moving. Default (nil): on for the simulator, off for ROS robots,
	// whose objects the shipped checker does not know (efferent turns it
	// on when premise_detector names a detector that may know them).
	Premise *bool `yaml:"premise"`
	// Record records the run to an MCAP file.
	Record RecordConf `yaml:"record"`
	// Serve also serves the model over the openpi protocol (simulator).
	Serve bool `yaml:"serve"`
	// Metrics serves Prometheus series at /metrics (ROS robots; also with
	// the viewer).
	Metrics bool `yaml:"metrics"`
	// Out is where the viewer's comparisons of the policy with the
	// teleoperator go (default next to the recording, else none).
	Out string `yaml:"out"`
	// ROS connects to a ROS robot.
	ROS ROSConf `yaml:"ros"`

	// Server is the listener's address and authentication (the config
	// file's server section), for Serve, the viewer and Metrics.
	Server server.Conf `yaml:"-"`
	// Model is the configured model ("auto"'s, and the one served).
	Model string `yaml:"-"`
	// Viewer serves the viewer page; ViewerClients browsers at once (0:
	// the viewer's default).
	Viewer        bool `yaml:"-"`
	ViewerClients int  `yaml:"-"`
}

// ROSConf connects to a ROS 1 robot.
type ROSConf struct {
	// Master is the ROS master's host:port. Default $ROS_MASTER_URI,
	// else 127.0.0.1:11311.
	Master string `yaml:"master"`
	// Cameras are the model's cameras in order, or KEY=SOURCE: ros:/topic
	// (a topic ending in /compressed carries sensor_msgs/CompressedImage),
	// a V4L2 device, a video file, an rtsp:// or http:// stream, dir:PATH.
	// Default: the profile's topics.
	Cameras []string `yaml:"cameras"`
	// ReadyTimeout is how long to wait for the robot's state and cameras.
	// Default 10 s.
	ReadyTimeout time.Duration `yaml:"ready_timeout"`
}

// DefaultConf is Conf with the defaults that zero cannot mean.
func DefaultConf() Conf {
	return Conf{Robot: "sim", Policy: "auto", Episodes: 1, ROS: ROSConf{ReadyTimeout: 10 * time.Second}}
}

// SetMode sets the scheduler's mode (replan, ensemble, async or rtc); the
// scheduler validates it.
func (c *Conf) SetMode(mode string) { c.Scheduler.Mode = control.Mode(mode) }

// Validate checks what can be checked before the robot is known; the
// error names the key.
func (c Conf) Validate() error {
	s := c.Scheduler
	switch {
	case c.Episodes < 0:
		return fmt.Errorf("run.episodes %d: want ≥ 0 (0: until interrupted)", c.Episodes)
	case c.Init < 0 || c.Init >= sim.NumInitStates:
		return fmt.Errorf("run.init %d: want 0..%d", c.Init, sim.NumInitStates-1)
	case c.Watchdog < 0:
		return fmt.Errorf("run.watchdog %v: want a positive duration (0: the default)", c.Watchdog)
	case c.ROS.ReadyTimeout < 0:
		return fmt.Errorf("ros.ready_timeout %v: want a positive duration", c.ROS.ReadyTimeout)
	case s.Kinds != nil || s.MaxH != 0 || s.StepPeriod != 0 || s.ControlPeriod != 0:
		return errors.New("run.scheduler: kinds, max_h, step_period and control_period come from the robot and the policy; set mode, replan_steps, ensemble_m, async_threshold or blend_steps")
	case c.Record.Images != "" && c.Record.Images != "jpeg" && c.Record.Images != "png":
		return fmt.Errorf("run.record.images %q: want jpeg or png", c.Record.Images)
	}
	return nil
}

// Parts are what the caller injects into a run: the cgo parts (ONNX
// Runtime, OpenCV, the renderer), the server, and where output goes.
type Parts struct {
	// Open loads a model as a policy (required for model policies).
	Open OpenModel
	// DecodeImage decodes a ROS CompressedImage (PNG/JPEG) (ROS robots).
	DecodeImage func(data []byte, maxSide int) (efferent.Image, error)
	// OpenCamera opens a camera that is not a ROS topic (a V4L2 device, a
	// file, a stream).
	OpenCamera func(uri string) (camera.Source, error)
	// NewRenderer draws the simulator's cameras (required for the
	// simulator).
	NewRenderer func() (sim.Renderer, error)
	// NewLeggedRenderer draws the legged simulator's cameras (required
	// for its tasks).
	NewLeggedRenderer func() (legged.Renderer, error)
	// Detector is the premise checker's object detector (required for
	// the premise check): the OpenCV one for the simulator's objects, or
	// an open-vocabulary one from a detector directory, which may bring
	// its own vocabulary (ObjectNamer).
	Detector NewDetector
	// WriteComparison writes the viewer's comparison of the policy with
	// the teleoperator (eval.WriteComparison); nil: not written.
	WriteComparison func(base string, c compare.Comparison) error
	// NewServer loads model (the run's Conf.Model: the one "auto" drives
	// with, efferent-quadruped on the legged base) and binds the server
	// with the conf the run completes (its e-stop, its series, the
	// viewer's routes), for Conf.Serve.
	NewServer func(conf server.Conf, model string) (*server.Server, error)
	// Progress receives the simulator's progress line (nil: none).
	Progress io.Writer
	// Log is the run's log. Default slog.Default().
	Log *slog.Logger
}
