package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/efferent/efferent/ros/simrobot"
	"github.com/efferent/efferent/sim"
	"github.com/efferent/efferent/sim/legged"
)

func simROSCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ros",
		Short: "Run the simulator as a ROS 1 robot (a fake Franka or quadruped) for efferent run --robot",
		Long: `ros plays a robot profile's robot over ROS 1 with the built-in simulator, so
that efferent run --robot franka (or quadruped) closes the loop without a
robot or any ROS driver.

franka: publishes franka_msgs/FrankaState (O_T_EE in panda_link0, which lies
at (-0.50, 0, 0.885) in the simulator's world), the arm's and the gripper's
joint states (panda_finger_joint1/2, each finger's opening), and both
cameras as rgb8 sensor_msgs/Image on ` + simrobot.AgentTopic + ` and
` + simrobot.WristTopic + `; it follows the Cartesian impedance
controller's equilibrium pose with a first-order lag (--lag) at Franka's
speed bounds, and franka_gripper move goals.
quadruped: the legged simulator (efferent sim tasks: the quadruped-*
suites) takes /cmd_vel Twists (velocities at the nominal height and gait;
a command_vector profile's 7-d command vectors instead) at its 50 Hz,
publishes its state as the joints base_x, base_y, base_yaw, base_vx,
base_vy, base_wz, base_height on /joint_states (odometry since the
episode's start, measured body velocities, height) and its egocentric
camera on ` + simrobot.AgentTopic + `. Without a fresh command (0.5 s)
it stands still.

Episodes: each resets the task's next initial state (from --init), holds the
arm for --reset-hold, then runs until the task succeeds or --episode-timeout
(default: the task's step limit at 20 Hz, as eval); results are logged and
published as JSON on ` + simrobot.EpisodeTopic + `. After --episodes it prints
"success k/N" and exits (--idle keeps the last scene up until interrupted).
The first episode starts with the first command, so start it before
efferent run.

Faults: --drop STREAM stops a stream, --freeze STREAM repeats its last
message (old stamps; --freeze-restamp gives them new ones); streams are
camera:agent, camera:wrist, cameras, state, gripper. They start after
--fault-after (0: at once), and SIGUSR1 toggles them (kill -USR1 PID).`,
		Args: cobra.NoArgs,
		RunE: runSimROS,
	}
	f := cmd.Flags()
	f.String("robot", "franka", "robot profile to play: franka or quadruped (or a profile YAML)")
	f.String("ros-master", "", "ROS master host:port (default: $ROS_MASTER_URI, else 127.0.0.1:11311)")
	f.String("task", "", "simulator task: its instruction or name (see `efferent sim tasks`; default "+fmt.Sprintf("%q, the quadruped's %q", sim.DefaultTask, legged.DefaultTask)+")")
	f.String("suite", "", "with --task as an instruction, the suite to look it up in (default: the first suite that has it)")
	f.Int("episodes", 10, "episodes to run; 0 runs until interrupted")
	f.Int("init", 0, "initial state of the first episode (episode e uses init+e, mod 50)")
	f.Duration("episode-timeout", 0, "time limit of an episode (default: the task's max steps at 20 Hz)")
	f.Duration("reset-hold", time.Second, "after each reset, how long the arm ignores commands while the new scene is published")
	f.Duration("lag", 50*time.Millisecond, "time constant of the impedance controller's first-order lag")
	f.Float64("camera-hz", 30, "camera rate")
	f.Float64("state-hz", 100, "state topics' rate (franka_state_controller's default is 30)")
	f.Int("image-size", sim.DefaultImageSize, "side of the square camera images")
	f.StringArray("drop", nil, "stop publishing a stream: camera:agent, camera:wrist, cameras, state or gripper (repeatable)")
	f.StringArray("freeze", nil, "keep publishing a stream's last message, unchanged (repeatable)")
	f.Bool("freeze-restamp", false, "frozen messages carry the current time as their stamp")
	f.Duration("fault-after", 0, "start the --drop/--freeze faults this long after the start (SIGUSR1 toggles them)")
	f.Bool("idle", false, "after the last episode keep the node up until interrupted")
	f.String("log-level", "info", "debug, info, warn or error")
	return cmd
}

func runSimROS(cmd *cobra.Command, _ []string) error {
	// Before the ROS master is contacted: the robot would publish no
	// cameras without the renderer.
	r, err := newRenderer()
	if err != nil {
		return fmt.Errorf("sim ros: %w", err)
	}
	defer closeRenderer(r)
	lr, err := newLeggedRenderer()
	if err != nil {
		return fmt.Errorf("sim ros: %w", err)
	}
	defer closeRenderer(lr)
	f := cmd.Flags()
	level, _ := f.GetString("log-level")
	lc := LogConf{Level: level, Format: "text"}
	if _, err := lc.level(); err != nil {
		return err
	}
	var c simrobot.PlayConf
	c.Robot, _ = f.GetString("robot")
	c.Task, _ = f.GetString("task")
	c.Suite, _ = f.GetString("suite")
	c.Idle, _ = f.GetBool("idle")
	n := &c.Node
	n.Master, _ = f.GetString("ros-master")
	n.Episodes, _ = f.GetInt("episodes")
	n.FirstInit, _ = f.GetInt("init")
	n.EpisodeTimeout, _ = f.GetDuration("episode-timeout")
	if n.ResetHold, _ = f.GetDuration("reset-hold"); n.ResetHold == 0 {
		n.ResetHold = -1 // Conf: negative is none, zero the default
	}
	if n.Lag, _ = f.GetDuration("lag"); n.Lag == 0 {
		n.Lag = time.Nanosecond // no lag: the arm is at the equilibrium within the speed bound
	}
	n.CameraHz, _ = f.GetFloat64("camera-hz")
	n.StateHz, _ = f.GetFloat64("state-hz")
	n.ImageSize, _ = f.GetInt("image-size")
	n.Drop, _ = f.GetStringArray("drop")
	n.Freeze, _ = f.GetStringArray("freeze")
	n.FreezeRestamp, _ = f.GetBool("freeze-restamp")
	n.FaultAfter, _ = f.GetDuration("fault-after")
	n.Log = lc.logger()

	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	usr := make(chan os.Signal, 1)
	signal.Notify(usr, syscall.SIGUSR1)
	defer signal.Stop(usr)
	c.Toggle, c.Out = usr, cmd.OutOrStdout()
	n.Renderer, n.LeggedRenderer = r, lr
	_, err = simrobot.Play(ctx, c)
	return err
}
