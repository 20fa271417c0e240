package main

import (
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/efferent/efferent/rig"
)

func runCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Drive a robot closed loop with a policy: the built-in simulator, or a ROS robot",
		Long: `run drives the built-in simulator (--robot sim) with a policy through the
control loop and safety gate, in real time at the policy rate (or as fast as
possible with --fast), printing a progress line. With --serve it also serves
the configured model over the openpi protocol on --addr; with --viewer, a
web page at http://ADDR/viewer/ shows the cameras, the policy's chunks and
the executed actions, the safety verdicts, and lets a teleoperator drive
beside the policy or take over (keyboard, gamepad), press the e-stop and
change the instruction. ` + "`make run`" + ` starts both.

--robot franka or quadruped (or a profile YAML: see robot/profiles) drives a
ROS 1 robot instead: state and cameras from its topics (--camera
ros:/topic), commands published at the profile's rate (1 kHz for the Franka,
50 Hz for the quadruped) until interrupted; --task is the instruction.

Every flag has a key in the config file's run: (and ros:) section.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd.Flags())
			if err != nil {
				return err
			}
			rc := cfg.runConf()
			if rc.Robot == "" || rc.Robot == "sim" {
				// Before the model loads: the simulator draws its
				// cameras with OpenCV.
				if err := needOpenCV("run --robot sim (the simulator's renderer)"); err != nil {
					return err
				}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			p := cfg.parts(ctx)
			p.Progress = os.Stderr
			return rig.Run(ctx, rc, p)
		},
	}
	f := cmd.Flags()
	f.String("robot", "sim", "robot to drive: sim (the built-in simulator), franka or quadruped (over ROS 1), or a profile YAML file (run.robot)")
	addROSFlags(f)
	// No default shown: a ROS robot needs its own instruction (the
	// simulator's default task would be a wrong one), and the backquoted
	// word is the placeholder pflag prints.
	f.String("task", "", "the `instruction`: for --robot sim a simulator task's, or its name (list them: efferent sim tasks; default \""+rig.DefaultTask+"\"); for a ROS robot what it should do (required)")
	f.String("policy", "auto", rig.PolicyHelp)
	f.Int("episodes", 1, "episodes to run, each from the next fixed initial state; 0 runs until interrupted")
	f.Int("init", 0, "initial state of the first episode (0..49)")
	f.Bool("fast", false, "run in virtual time, as fast as the CPU allows (deterministic)")
	addSchedulerFlags(f)
	addRecordFlags(f)
	// Default false so that --help does not claim it is on for ROS robots:
	// the simulator turns it on unless --premise=false is given.
	f.Bool("premise", false, "check the instruction against the camera frames before moving (the simulator's false-premise checker, or --premise-detector's); a refused instruction never moves the robot (default: on for --robot sim, and for ROS robots with --premise-detector; off for ROS robots without, whose objects the shipped checker does not know)")
	addPremiseDetectorFlag(f)
	f.Duration("watchdog", 0, "hold the robot when no new chunk arrives for this long (default: two replanning periods, at least 150 ms)")
	f.Bool("serve", false, "also serve the model over the openpi protocol on --addr")
	addViewerFlags(f)
	f.String("out", "", "with --viewer: directory for the comparison of the policy with the teleoperator, per episode (comparison-epN.png/.html/.json; default next to --record's file, else none)")
	f.String("addr", "127.0.0.1:8000", "listen address for --serve, --viewer and --metrics (host:port)")
	f.Bool("metrics", false, "ROS robots: serve Prometheus series at http://ADDR/metrics (the loop's counters, holds by reason, the e-stop, each input's age, the ROS link); also served with --viewer. The simulator with --serve has them on the server's /metrics")
	addAuthFlags(f)
	addModelFlags(f)
	return cmd
}

func addROSFlags(f *pflag.FlagSet) {
	f.String("ros-master", "", "ROS master host:port (default: $ROS_MASTER_URI, else 127.0.0.1:11311)")
	f.StringArray("camera", nil, "camera for a ROS robot, the model's cameras in order or KEY=SOURCE: ros:/topic (a topic ending in "+
		"/compressed carries sensor_msgs/CompressedImage), a V4L2 device (0, /dev/video0), a video file, rtsp:// or http:// stream, dir:PATH")
	f.Duration("ready-timeout", 10*time.Second, "how long to wait for the robot's state and cameras before giving up")
}

// addSchedulerFlags adds the chunk-scheduling flags of run and eval.
func addSchedulerFlags(f *pflag.FlagSet) {
	f.String("mode", "replan", "chunk scheduling: replan, ensemble, async or rtc (real-time chunking: flow models)")
	f.Int("replan-steps", 5, "actions executed from each chunk before asking again (replan mode)")
}

func addRecordFlags(f *pflag.FlagSet) {
	f.String("record", "", "record camera frames, observations, chunks, setpoints with verdicts and episode events to this MCAP file")
	f.String("record-images", "jpeg", "image format in the recording: jpeg (small) or png (lossless: replaying the same model reproduces its chunks)")
}

// defaultTask is what `make run` shows.
const defaultTask = rig.DefaultTask
