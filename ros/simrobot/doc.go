// Package simrobot runs efferent's built-in simulators (package sim, and
// sim/legged for the quadruped) as a ROS 1 robot: a goroslib node that
// publishes what a robot profile (robot/profiles/franka.yaml,
// quadruped.yaml, quadruped-command.yaml) subscribes to and moves the
// simulated robot from the commands the profile publishes, so that
// `efferent run --robot franka` can be tried end to end without a robot
// and without any ROS driver (franka_msgs is not packaged by Debian, so
// rostopic cannot play a Franka). `efferent sim ros` is its command, and
// Play that command's body: resolving the profile, master and task as the
// flags name them, running a Node and printing the tally.
//
// # Franka (ee_delta profiles)
//
// Published, at StateHz (default 100 Hz; franka_state_controller's default
// is 30 Hz):
//
//   - franka_msgs/FrankaState on the profile's state.franka_state topic:
//     O_T_EE is the grip point's pose in the base frame (column-major, as
//     libfranka), O_T_EE_d the equilibrium pose being tracked, q and q_d
//     the profile's home joints (the simulator abstracts the arm as its end
//     effector: the joints are not kinematically consistent with O_T_EE),
//     robot_mode MOVE;
//   - sensor_msgs/JointState on state.joint_states: panda_joint1 … 7 at
//     those home joints;
//   - sensor_msgs/JointState on state.gripper_joint_states, as
//     franka_gripper publishes it: panda_finger_joint1 and
//     panda_finger_joint2, each the finger's opening q ≥ 0 (the gripper's
//     width is 2q; LIBERO's state has (+q, −q)).
//
// Consumed: the equilibrium pose (geometry_msgs/PoseStamped on
// command.topic) and franka_gripper/MoveActionGoal on gripper.topic.
//
// The arm moves as franka_ros's Cartesian impedance controller makes it:
// the grip point follows the equilibrium pose with a first-order lag
// (time constant Lag, default 50 ms) and a bounded speed (the profile's
// hardware.max_speed and max_rotation_speed: Franka's 1.7 m/s and 2.5
// rad/s). Each 1 ms physics tick turns that motion into one sim.Env step,
// so the simulator's rules still decide where the arm ends up: its
// workspace box and table clearance, grasping, carrying, releasing and
// pushing. The fingers move toward the move goal's width/2 at the goal's
// speed/2 each (franka_gripper's speed is the width's rate); closing on a
// graspable object grasps it as in the simulator, where the fingers stop.
//
// # Frames
//
// The base frame (panda_link0) has the world's axes (+x across the table,
// +y left, +z up) and its origin at FrankaBase = (−0.50, 0, 0.885) in the
// simulator's world: the grip point's box x ∈ [−0.30, 0.30], y ∈ [−0.35,
// 0.35], z ∈ [0.905, 1.35] is x ∈ [0.20, 0.80], y ∈ [−0.35, 0.35], z ∈
// [0.02, 0.465] in the base frame, inside the franka profile's workspace
// (x [0.25, 0.80], y ±0.45, z [0.02, 0.70]) except the 5 cm nearest the
// robot, where no object lies; the profile's lowest z is the simulator's
// table clearance. Both frames point the gripper down as a rotation of π
// about x, so orientations need no offset. A model trained in the
// simulator's world frame (efferent-tiny) declares the offset in its
// manifest (observation.state.robot_base), which efferent run adds to the
// measured position.
//
// # Quadruped (twist and command_vector profiles)
//
// The legged simulator (sim/legged, Conf.Legged its task) is stepped at
// its 50 Hz with the latest command: a geometry_msgs/Twist (body-frame
// vx, vy, wz, at the nominal height and gait) from command.topic, or with
// a command_vector profile the whole 7-d std_msgs/Float64MultiArray
// command. A command older than TwistTimeout (0.5 s) counts as none, and
// the base stands still (the stop flag), as legged-robot drivers stop
// when commands stop. state.joint_states carries the legged simulator's
// state as seven joints: base_x, base_y (m), base_yaw (rad) in the frame
// of the base's start, base_vx, base_vy (m/s), base_wz (rad/s) measured
// in the body frame, and base_height (m). The egocentric camera is
// published on AgentTopic; there is no wrist camera. Episodes end at the
// task's success predicate or at its step limit at 50 Hz.
//
// # Cameras
//
// sensor_msgs/Image, rgb8, ImageSize square, at CameraHz (default 30 Hz),
// stamped with the time the scene was captured: the agent view on
// AgentTopic and the wrist view on WristTopic (defaults
// /efferent_sim/agent/image_raw and /efferent_sim/wrist/image_raw).
//
// # Episodes
//
// The node owns episodes: episode e resets the task's initial state
// FirstInit+e, holds the arm for ResetHold (1 s: commands are ignored, the
// new scene and state are published, so the driver's next inference sees
// the reset), then tracks commands until the task's success predicate
// holds or EpisodeTimeout passes (default the task's MaxSteps at LIBERO's
// 20 Hz, the in-process evaluation's limit). The first episode's clock
// starts only when the first command arrives, so the node can be started
// before its driver. Each result is logged and published as JSON on
// EpisodeTopic (std_msgs/String, latched); after Episodes episodes Run
// returns the results (the command prints "success k/N").
//
// # Faults
//
// Drop stops publishing a stream; Freeze keeps publishing the last message
// it sent before the fault, unchanged, stamps included (a driver stuck
// re-sending its last buffer: the bridge sees old stamps), or restamped
// with the current time when FreezeRestamp is set (a stuck image with
// fresh stamps, which only the content betrays). Streams: camera:agent,
// camera:wrist, cameras, state (the FrankaState and joint states, or the
// quadruped's joint states), gripper (the finger joint states). Faults
// start at FaultAfter after Run starts (0: at once) and ToggleFaults
// switches them off and on at run time (the command binds it to SIGUSR1).
//
// # ROS master
//
// The node is a ROS node like any other: it can be killed and restarted,
// and it watches the master (XML-RPC getPid every MasterPoll): when the
// master comes back, or a new one answers, it registers again, as the
// bridge does; meanwhile its publishers keep serving connected peers.
package simrobot
