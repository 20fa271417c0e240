package robot

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/efferent/efferent/internal/strictyaml"
)

//go:embed profiles/*.yaml
var shipped embed.FS

// Mappings: how a policy's action becomes a command.
const (
	// MappingEEDelta: end-effector deltas (Δxyz, Δrotation axis-angle,
	// gripper), integrated onto the measured pose (geometry_msgs/PoseStamped).
	MappingEEDelta = "ee_delta"
	// MappingJointPosition: absolute joint positions, one per joint
	// (std_msgs/Float64MultiArray or trajectory_msgs/JointTrajectory).
	MappingJointPosition = "joint_position"
	// MappingTwist: body velocity vx, vy, wz (geometry_msgs/Twist).
	MappingTwist = "twist"
	// MappingCommandVector: the action as it is, a high-level command
	// vector (QUART style) on a std_msgs/Float64MultiArray topic.
	MappingCommandVector = "command_vector"
)

// Command message types.
const (
	TypePoseStamped       = "geometry_msgs/PoseStamped"
	TypeFloat64MultiArray = "std_msgs/Float64MultiArray"
	TypeJointTrajectory   = "trajectory_msgs/JointTrajectory"
	TypeTwist             = "geometry_msgs/Twist"
	TypeSim               = "sim" // the built-in simulator, no ROS
)

// Gripper interfaces.
const (
	GripperNone       = "none"
	GripperFrankaMove = "franka_move" // franka_gripper/MoveActionGoal on the move action's goal topic
	GripperFloat64    = "float64"     // std_msgs/Float64: the commanded width
)

// Profile is one robot. Zero values mean the documented defaults.
type Profile struct {
	// Name identifies the profile (franka, quadruped, sim, or a user's).
	Name string `yaml:"name"`
	// Base, in a user's file, names the shipped profile it overrides:
	// only the keys the file sets change. Default: none (a whole profile).
	Base string `yaml:"base"`
	// RateHz is the controller rate: how often a command is published.
	// Required, 1..2000.
	RateHz float64 `yaml:"rate_hz"`
	// Action says how the policy's action maps onto the command.
	Action Action `yaml:"action"`
	// Command is the topic and message type commands go out on.
	Command Command `yaml:"command"`
	// State names the topics the robot's state comes from, and how fresh
	// they must be.
	State State `yaml:"state"`
	// Cameras says how fresh camera frames must be (the cameras themselves
	// are given on the command line: efferent run --camera).
	Cameras Cameras `yaml:"cameras"`
	// Gripper is the gripper's interface (arms). Default type none.
	Gripper Gripper `yaml:"gripper"`
	// Status is where efferent reports its verdict and instruction.
	Status Status `yaml:"status"`
	// Limits bound what is commanded: the lab's envelope.
	Limits Limits `yaml:"limits"`
	// Hardware is the robot maker's published limits, the ceiling the
	// envelope is checked against (each limit set in both must be within
	// the hardware's). Default none: no check.
	Hardware Limits `yaml:"hardware"`
	// Home is the robot's rest pose.
	Home Home `yaml:"home"`
}

// Action is the policy side of the mapping.
type Action struct {
	// Mapping: ee_delta, joint_position, twist or command_vector. Required.
	Mapping string `yaml:"mapping"`
	// Dim is the policy's action dimension. Required.
	Dim int `yaml:"dim"`
	// TranslationScale (ee_delta): metres per unit action per policy step.
	TranslationScale float64 `yaml:"translation_scale"`
	// RotationScale (ee_delta): radians per unit action per policy step.
	RotationScale float64 `yaml:"rotation_scale"`
	// MaxLead (ee_delta): how far, in metres, the commanded pose may run
	// ahead of the measured one before it is held back. Default 0.05.
	MaxLead float64 `yaml:"max_lead"`
	// PolicyDims maps a policy whose actions have other dims onto this
	// profile: entry i is the index of the policy's action dim that drives
	// the profile's dim i (e.g. [0, 1, 5] drives a twist's vx, vy, wz by a
	// 7-d policy's dims 0, 1 and 5); the policy's other dims are dropped.
	// Default none: the policy's action dim must equal Dim.
	PolicyDims []int `yaml:"policy_dims"`
}

// Command is where commands go.
type Command struct {
	// Topic of the command. Required for ROS types.
	Topic string `yaml:"topic"`
	// Type is the message type (see the Type constants). Required.
	Type string `yaml:"type"`
	// FrameID stamps PoseStamped commands. Default "base".
	FrameID string `yaml:"frame_id"`
	// Watchdog: with no fresh setpoint for this long, explicit hold
	// commands (zero Twists, the last pose) are sent every period. Default
	// two controller periods, at least 20 ms.
	Watchdog time.Duration `yaml:"watchdog"`
	// JointNames name the joints of JointTrajectory commands. Default
	// joint1 … jointN.
	JointNames []string `yaml:"joint_names"`
	// Hold (command_vector) is the command vector that holds the robot
	// still, sent on stale inputs, the watchdog and e-stop: for a QUART
	// quadruped, zero velocities at a standing height and gait with the
	// stop flag set. Default all zeros. It must lie within
	// limits.command_min/max.
	Hold []float64 `yaml:"hold"`
}

// State names the state topics ("" = not used).
type State struct {
	// FrankaState: franka_msgs/FrankaState (the measured pose O_T_EE).
	FrankaState string `yaml:"franka_state"`
	// Pose: a geometry_msgs/PoseStamped of the measured end effector, for
	// arms that do not publish FrankaState.
	Pose string `yaml:"pose"`
	// JointStates: sensor_msgs/JointState of the arm or legs.
	JointStates string `yaml:"joint_states"`
	// GripperJointStates: sensor_msgs/JointState of the fingers.
	GripperJointStates string `yaml:"gripper_joint_states"`

	// Freshness (see Input): the robot state topic the observation reads
	// (franka_state or pose for ee_delta, joint_states otherwise) and the
	// gripper's.

	// RateHz is the state topic's nominal rate. Default: the controller's
	// rate_hz.
	RateHz float64 `yaml:"rate_hz"`
	// MaxAge: a state older than this holds the robot. Default
	// DefaultMaxAge(RateHz).
	MaxAge time.Duration `yaml:"max_age"`
	// GripperRateHz is the gripper state topic's nominal rate. Default 10.
	GripperRateHz float64 `yaml:"gripper_rate_hz"`
	// GripperMaxAge: a gripper state older than this holds the robot.
	// Default DefaultMaxAge(GripperRateHz).
	GripperMaxAge time.Duration `yaml:"gripper_max_age"`
}

// Cameras is the freshness of the camera frames the observation carries
// (ROS topics and other sources alike).
type Cameras struct {
	// RateHz is a camera's nominal frame rate. Default 30.
	RateHz float64 `yaml:"rate_hz"`
	// MaxAge: a camera whose newest frame is older than this holds the
	// robot. Default DefaultMaxAge(RateHz).
	MaxAge time.Duration `yaml:"max_age"`
	// Keys overrides RateHz and MaxAge per observation key (e.g. a wrist
	// camera at 15 Hz); a key's unset values follow its own rate, then the
	// defaults above.
	Keys map[string]CameraFreshness `yaml:"keys"`
	// Topics are the default camera topics (sensor_msgs/Image, or
	// CompressedImage for a topic ending in /compressed) by observation
	// key, used when efferent run is given no --camera. The shipped franka
	// profile names efferent sim ros's cameras, so that the simulated
	// robot needs no flag. Default none.
	Topics map[string]string `yaml:"topics"`
}

// CameraFreshness is one camera's nominal rate and maximum age.
type CameraFreshness struct {
	RateHz float64       `yaml:"rate_hz"`
	MaxAge time.Duration `yaml:"max_age"`
}

// DefaultMaxAge is the maximum age derived from an input's nominal rate:
// four periods (three messages may go missing before the robot holds,
// which rides out scheduling and transport jitter), at least 50 ms (a
// 1 kHz state topic would otherwise hold the robot on every hiccup of a
// loaded host).
func DefaultMaxAge(rateHz float64) time.Duration {
	if !(rateHz > 0) {
		return 0
	}
	return max(50*time.Millisecond, time.Duration(4*float64(time.Second)/rateHz))
}

// CameraMaxAge is the maximum age of the camera with observation key key.
func (p *Profile) CameraMaxAge(key string) time.Duration {
	c, ok := p.Cameras.Keys[key]
	switch {
	case ok && c.MaxAge > 0:
		return c.MaxAge
	case ok && c.RateHz > 0:
		return DefaultMaxAge(c.RateHz)
	}
	return p.Cameras.MaxAge
}

// Legged reports whether the profile drives a legged base: body
// velocities (twist) or a QUART-style command vector.
func (p *Profile) Legged() bool {
	return p.Action.Mapping == MappingTwist || p.Action.Mapping == MappingCommandVector
}

// StopTime bounds how long the motion gate's controlled stop takes from
// full speed (ee_delta, translation and rotation: max_speed/max_accel +
// 2·max_accel/max_jerk, the second term for ramping an acceleration under
// way down and the braking one up under the jerk limit), plus two
// controller periods for the tick that notices and the one that sends.
// Zero when the profile bounds no acceleration: a hold is immediate.
func (p *Profile) StopTime() time.Duration {
	l := p.Limits
	stop := func(v, a, j float64) float64 {
		if !(v > 0 && a > 0) {
			return 0
		}
		t := v / a
		if j > 0 {
			t += 2 * a / j
		}
		return t
	}
	var t float64
	switch p.Action.Mapping {
	case MappingEEDelta:
		t = max(stop(l.MaxSpeed, l.MaxAccel, l.MaxJerk), stop(l.MaxRotationSpeed, l.MaxRotationAccel, l.MaxRotationJerk))
	case MappingTwist:
		// The command is a velocity, braked at max_accel under max_jerk
		// (wz at its own, TwistYaw).
		ya, yj := l.TwistYaw()
		t = max(stop(max(l.MaxVx, l.MaxVy), l.MaxAccel, l.MaxJerk), stop(l.MaxWz, ya, yj))
	case MappingJointPosition:
		for i := range l.JointAcceleration {
			j := 0.0
			if i < len(l.JointJerk) {
				j = l.JointJerk[i]
			}
			if i < len(l.JointVelocity) {
				t = max(t, stop(l.JointVelocity[i], l.JointAcceleration[i], j))
			}
		}
	}
	if t == 0 {
		return 0
	}
	return time.Duration(t*float64(time.Second)) + 2*p.Period()
}

// Gripper is the gripper interface of an arm.
type Gripper struct {
	// Type: none, franka_move or float64. Default none.
	Type string `yaml:"type"`
	// Topic the gripper command goes to.
	Topic string `yaml:"topic"`
	// OpenWidth and ClosedWidth are the commanded widths (m).
	OpenWidth   float64 `yaml:"open_width"`
	ClosedWidth float64 `yaml:"closed_width"`
	// Speed of the fingers (m/s, franka_move). Default 0.1.
	Speed float64 `yaml:"speed"`
	// Threshold: the gripper closes when the policy's value rises above
	// +Threshold and opens when it falls below −Threshold; in between it
	// keeps its state (hysteresis). Default 0.5.
	Threshold float64 `yaml:"threshold"`
}

// Status is the status topic (diagnostic_msgs/DiagnosticArray).
type Status struct {
	// Topic; "" turns status publishing off.
	Topic string `yaml:"topic"`
	// Period between status messages (also sent at once on a change of
	// verdict). Default 500ms.
	Period time.Duration `yaml:"period"`
}

// Limits bound commands. Which apply depends on the mapping.
type Limits struct {
	// WorkspaceMin/Max (ee_delta): box of the commanded position (m).
	WorkspaceMin []float64 `yaml:"workspace_min"`
	WorkspaceMax []float64 `yaml:"workspace_max"`
	// MaxSpeed (m/s) and MaxRotationSpeed (rad/s) of the commanded pose.
	MaxSpeed         float64 `yaml:"max_speed"`
	MaxRotationSpeed float64 `yaml:"max_rotation_speed"`
	// JointMin/Max (rad) and JointVelocity (rad/s) per joint.
	JointMin      []float64 `yaml:"joint_min"`
	JointMax      []float64 `yaml:"joint_max"`
	JointVelocity []float64 `yaml:"joint_velocity"`
	// CommandMin/Max (command_vector) bound each dim of the command
	// vector: the high-level controller's envelope. Default: the limit
	// gate's −1 … 1 on every dim, and nothing clamped on the way out.
	CommandMin []float64 `yaml:"command_min"`
	CommandMax []float64 `yaml:"command_max"`
	// MaxVx, MaxVy (m/s) and MaxWz (rad/s) bound a twist.
	MaxVx float64 `yaml:"max_vx"`
	MaxVy float64 `yaml:"max_vy"`
	MaxWz float64 `yaml:"max_wz"`
	// MaxAccel (m/s²) and MaxJerk (m/s³) bound the acceleration and jerk
	// of the commanded end effector's translation (ee_delta) or of the
	// twist (and its wz in rad/s² and rad/s³ unless MaxRotationAccel is
	// set). Required for a twist (MaxAccel); otherwise 0 = not bounded by
	// the motion gate.
	MaxAccel float64 `yaml:"max_accel"`
	MaxJerk  float64 `yaml:"max_jerk"`
	// MaxRotationAccel (rad/s²) and MaxRotationJerk (rad/s³): the same
	// for the end effector's rotation, or a twist's wz (a legged base
	// turns faster than it accelerates: efferent's legged simulator 4
	// rad/s² against 2 m/s²). For a twist, each is MaxAccel's or
	// MaxJerk's value where 0 (TwistYaw).
	MaxRotationAccel float64 `yaml:"max_rotation_accel"`
	MaxRotationJerk  float64 `yaml:"max_rotation_jerk"`
	// JointAcceleration (rad/s²) and JointJerk (rad/s³) per joint
	// (joint_position). Default none: velocity and position limits only.
	JointAcceleration []float64 `yaml:"joint_acceleration"`
	JointJerk         []float64 `yaml:"joint_jerk"`
	// OnViolation says, per kind of limit, whether an input beyond it is
	// clamped (followed smoothly within the limits) or rejected (the robot
	// stops, decelerating within the limits, until the input is acceptable
	// again). Default clamp for all four.
	OnViolation OnViolation `yaml:"on_violation"`
}

// Home is the rest pose.
type Home struct {
	Joints []float64 `yaml:"joints"`
}

// ErrUnknown is wrapped when a profile name is neither shipped nor a file.
var ErrUnknown = errors.New("unknown robot profile")

// Names lists the shipped profiles.
func Names() []string {
	entries, _ := fs.ReadDir(shipped, "profiles")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	return names
}

// Load returns the shipped profile called ref, or reads the file at ref
// (a whole profile, or one with `base:` that overrides a shipped one),
// with defaults applied and validated.
func Load(ref string) (*Profile, error) {
	if data, err := shipped.ReadFile("profiles/" + ref + ".yaml"); err == nil && !strings.ContainsAny(ref, "/.") {
		p, err := Parse(data, nil)
		if err != nil {
			return nil, fmt.Errorf("robot profile %s: %w", ref, err)
		}
		return p, nil
	}
	data, err := os.ReadFile(ref)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w %q: not one of %v and no such file", ErrUnknown, ref, Names())
		}
		return nil, fmt.Errorf("robot profile: %w", err)
	}
	if len(data) > 1<<20 {
		return nil, fmt.Errorf("robot profile %s: %d bytes, want at most 1 MiB", ref, len(data))
	}
	var head struct {
		Base string `yaml:"base"`
	}
	_ = yaml.Unmarshal(data, &head)
	var base *Profile
	if head.Base != "" {
		b, err := shipped.ReadFile("profiles/" + head.Base + ".yaml")
		if err != nil || strings.ContainsAny(head.Base, "/.") {
			return nil, fmt.Errorf("robot profile %s: base %q is not one of %v", ref, head.Base, Names())
		}
		if base, err = decode(b, nil); err != nil {
			return nil, fmt.Errorf("robot profile %s: %w", head.Base, err)
		}
	}
	p, err := Parse(data, base)
	if err != nil {
		return nil, fmt.Errorf("robot profile %s: %w", ref, err)
	}
	return p, nil
}

// Parse decodes a profile over base (nil: none), strictly (unknown keys
// are errors), applies defaults and validates it.
func Parse(data []byte, base *Profile) (*Profile, error) {
	p, err := decode(data, base)
	if err != nil {
		return nil, err
	}
	p.applyDefaults()
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return p, nil
}

func decode(data []byte, base *Profile) (*Profile, error) {
	p := &Profile{}
	if base != nil {
		*p = *base
	}
	if err := strictyaml.Decode(data, p); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Profile) applyDefaults() {
	if p.Action.MaxLead == 0 {
		p.Action.MaxLead = 0.05
	}
	if p.Command.FrameID == "" {
		p.Command.FrameID = "base"
	}
	if p.Command.Watchdog == 0 && p.RateHz > 0 {
		p.Command.Watchdog = max(20*time.Millisecond, time.Duration(2*float64(time.Second)/p.RateHz))
	}
	if p.Gripper.Type == "" {
		p.Gripper.Type = GripperNone
	}
	if p.Gripper.Speed == 0 {
		p.Gripper.Speed = 0.1
	}
	if p.Gripper.Threshold == 0 {
		p.Gripper.Threshold = 0.5
	}
	if p.Status.Period == 0 {
		p.Status.Period = 500 * time.Millisecond
	}
	if p.State.RateHz == 0 {
		p.State.RateHz = p.RateHz
	}
	if p.State.MaxAge == 0 {
		p.State.MaxAge = DefaultMaxAge(p.State.RateHz)
	}
	if p.State.GripperRateHz == 0 {
		p.State.GripperRateHz = 10
	}
	if p.State.GripperMaxAge == 0 {
		p.State.GripperMaxAge = DefaultMaxAge(p.State.GripperRateHz)
	}
	if p.Cameras.RateHz == 0 {
		p.Cameras.RateHz = 30
	}
	if p.Cameras.MaxAge == 0 {
		p.Cameras.MaxAge = DefaultMaxAge(p.Cameras.RateHz)
	}
	if p.Command.Type == TypeJointTrajectory && len(p.Command.JointNames) == 0 {
		for i := range p.Action.Dim {
			p.Command.JointNames = append(p.Command.JointNames, fmt.Sprintf("joint%d", i+1))
		}
	}
}

// Period is the controller period.
func (p *Profile) Period() time.Duration {
	return time.Duration(math.Round(float64(time.Second) / p.RateHz))
}

var topicName = regexp.MustCompile(`^/?[A-Za-z][A-Za-z0-9_]*(/[A-Za-z][A-Za-z0-9_]*)*$`)

// Validate checks the profile; the error names the key.
func (p *Profile) Validate() error {
	if p.Name == "" {
		return errors.New("name: required")
	}
	if !(p.RateHz >= 1 && p.RateHz <= 2000) {
		return fmt.Errorf("rate_hz: %g, want 1 .. 2000", p.RateHz)
	}
	if p.Action.Dim < 1 || p.Action.Dim > 64 {
		return fmt.Errorf("action.dim: %d, want 1 .. 64", p.Action.Dim)
	}
	ros := p.Command.Type != TypeSim
	topic := func(key, t string, required bool) error {
		if t == "" {
			if required {
				return fmt.Errorf("%s: required", key)
			}
			return nil
		}
		if !topicName.MatchString(t) {
			return fmt.Errorf("%s: %q is not a ROS topic name", key, t)
		}
		return nil
	}
	if err := topic("command.topic", p.Command.Topic, ros); err != nil {
		return err
	}
	for _, t := range []struct{ key, name string }{
		{"state.franka_state", p.State.FrankaState}, {"state.pose", p.State.Pose},
		{"state.joint_states", p.State.JointStates}, {"state.gripper_joint_states", p.State.GripperJointStates},
		{"status.topic", p.Status.Topic}, {"gripper.topic", p.Gripper.Topic},
	} {
		if err := topic(t.key, t.name, false); err != nil {
			return err
		}
	}
	if p.Command.Watchdog <= 0 || p.Command.Watchdog > time.Second {
		return fmt.Errorf("command.watchdog: %v, want 0 (default) .. 1s", p.Command.Watchdog)
	}
	want := map[string][]string{
		MappingEEDelta:       {TypePoseStamped, TypeSim},
		MappingJointPosition: {TypeFloat64MultiArray, TypeJointTrajectory},
		MappingTwist:         {TypeTwist},
		MappingCommandVector: {TypeFloat64MultiArray},
	}
	types, ok := want[p.Action.Mapping]
	if !ok {
		return fmt.Errorf("action.mapping: %q, want ee_delta, joint_position, twist or command_vector", p.Action.Mapping)
	}
	if !slices.Contains(types, p.Command.Type) {
		return fmt.Errorf("command.type: %q cannot carry action.mapping %s; want one of %v", p.Command.Type, p.Action.Mapping, types)
	}
	l := p.Limits
	switch p.Action.Mapping {
	case MappingEEDelta:
		if p.Action.Dim < 7 {
			return fmt.Errorf("action.dim: %d, ee_delta needs 7 (Δxyz, Δaxis-angle, gripper)", p.Action.Dim)
		}
		if err := allPositive(keyVal{"action.translation_scale", p.Action.TranslationScale}, keyVal{"action.rotation_scale", p.Action.RotationScale},
			keyVal{"action.max_lead", p.Action.MaxLead}, keyVal{"limits.max_speed", l.MaxSpeed}, keyVal{"limits.max_rotation_speed", l.MaxRotationSpeed}); err != nil {
			return err
		}
		if len(l.WorkspaceMin) != 3 || len(l.WorkspaceMax) != 3 {
			return fmt.Errorf("limits.workspace_min/max: want 3 values each (x, y, z), have %d and %d", len(l.WorkspaceMin), len(l.WorkspaceMax))
		}
		for i := range 3 {
			if !(l.WorkspaceMin[i] < l.WorkspaceMax[i]) {
				return fmt.Errorf("limits.workspace_min[%d] = %g is not below workspace_max[%d] = %g", i, l.WorkspaceMin[i], i, l.WorkspaceMax[i])
			}
		}
		if ros && p.State.FrankaState == "" && p.State.Pose == "" {
			return errors.New("state: ee_delta integrates onto the measured pose: set state.franka_state or state.pose")
		}
	case MappingJointPosition:
		n := p.Action.Dim
		if len(l.JointMin) != n || len(l.JointMax) != n || len(l.JointVelocity) != n {
			return fmt.Errorf("limits.joint_min/joint_max/joint_velocity: want %d values each (action.dim)", n)
		}
		for i := range n {
			if !(l.JointMin[i] < l.JointMax[i]) || !(l.JointVelocity[i] > 0) {
				return fmt.Errorf("limits: joint %d: min %g, max %g, velocity %g: want min < max and velocity > 0", i+1, l.JointMin[i], l.JointMax[i], l.JointVelocity[i])
			}
		}
		if p.Command.Type == TypeJointTrajectory && len(p.Command.JointNames) != n {
			return fmt.Errorf("command.joint_names: %d names, want %d", len(p.Command.JointNames), n)
		}
		if p.State.JointStates == "" {
			return errors.New("state.joint_states: required for joint_position (the hold pose is the measured one)")
		}
	case MappingCommandVector:
		n := p.Action.Dim
		if len(l.CommandMin) != len(l.CommandMax) || (len(l.CommandMin) != 0 && len(l.CommandMin) != n) {
			return fmt.Errorf("limits.command_min/command_max: want %d values each (action.dim), or neither", n)
		}
		if h := p.Command.Hold; len(h) != 0 && len(h) != n {
			return fmt.Errorf("command.hold: %d values, want %d (action.dim) or none", len(h), n)
		}
		for i := range l.CommandMin {
			if !(l.CommandMin[i] <= l.CommandMax[i]) || math.IsInf(l.CommandMin[i], 0) || math.IsInf(l.CommandMax[i], 0) {
				return fmt.Errorf("limits: command dim %d: min %g, max %g: want finite min ≤ max", i, l.CommandMin[i], l.CommandMax[i])
			}
		}
		for i, h := range p.CommandHold() {
			if len(l.CommandMin) == n && !(h >= l.CommandMin[i] && h <= l.CommandMax[i]) {
				return fmt.Errorf("command.hold[%d]: %g, outside limits.command_min/max [%g, %g]", i, h, l.CommandMin[i], l.CommandMax[i])
			}
		}
	case MappingTwist:
		if p.Action.Dim < 3 {
			return fmt.Errorf("action.dim: %d, twist needs 3 (vx, vy, wz)", p.Action.Dim)
		}
		if err := allPositive(keyVal{"limits.max_vx", l.MaxVx}, keyVal{"limits.max_vy", l.MaxVy},
			keyVal{"limits.max_wz", l.MaxWz}, keyVal{"limits.max_accel", l.MaxAccel}); err != nil {
			return err
		}
	}
	switch p.Gripper.Type {
	case GripperNone:
	case GripperFrankaMove, GripperFloat64:
		if p.Action.Mapping != MappingEEDelta {
			return fmt.Errorf("gripper.type: %s needs action.mapping ee_delta (the gripper is its 7th value)", p.Gripper.Type)
		}
		if err := topic("gripper.topic", p.Gripper.Topic, true); err != nil {
			return err
		}
		if p.Gripper.OpenWidth < 0 || p.Gripper.ClosedWidth < 0 || p.Gripper.OpenWidth <= p.Gripper.ClosedWidth {
			return fmt.Errorf("gripper.open_width %g / closed_width %g: want open > closed ≥ 0", p.Gripper.OpenWidth, p.Gripper.ClosedWidth)
		}
		if !(p.Gripper.Threshold > 0 && p.Gripper.Threshold < 1) || !(p.Gripper.Speed > 0) {
			return fmt.Errorf("gripper.threshold %g / speed %g: want 0 < threshold < 1 and speed > 0", p.Gripper.Threshold, p.Gripper.Speed)
		}
	default:
		return fmt.Errorf("gripper.type: %q, want none, franka_move or float64", p.Gripper.Type)
	}
	if p.Status.Period < 10*time.Millisecond || p.Status.Period > time.Minute {
		return fmt.Errorf("status.period: %v, want 10ms .. 1m", p.Status.Period)
	}
	if err := p.validateFreshness(); err != nil {
		return err
	}
	for i, d := range p.Action.PolicyDims {
		if d < 0 || d >= 256 {
			return fmt.Errorf("action.policy_dims[%d]: %d, want a policy action index 0 .. 255", i, d)
		}
	}
	if n := len(p.Action.PolicyDims); n != 0 && n != p.Action.Dim {
		return fmt.Errorf("action.policy_dims: %d entries, want one per profile dim (action.dim %d)", n, p.Action.Dim)
	}
	return p.validateMotion()
}

// validateFreshness checks the inputs' rates and maximum ages.
func (p *Profile) validateFreshness() error {
	check := func(rateKey string, rate float64, ageKey string, age time.Duration) error {
		if !(rate > 0 && rate <= 10000) {
			return fmt.Errorf("%s: %g, want 0 (default) .. 10000", rateKey, rate)
		}
		if age < time.Millisecond || age > 10*time.Second {
			return fmt.Errorf("%s: %v, want 1ms .. 10s", ageKey, age)
		}
		return nil
	}
	s := p.State
	if err := check("state.rate_hz", s.RateHz, "state.max_age", s.MaxAge); err != nil {
		return err
	}
	if err := check("state.gripper_rate_hz", s.GripperRateHz, "state.gripper_max_age", s.GripperMaxAge); err != nil {
		return err
	}
	if err := check("cameras.rate_hz", p.Cameras.RateHz, "cameras.max_age", p.Cameras.MaxAge); err != nil {
		return err
	}
	for key, topic := range p.Cameras.Topics {
		if key == "" || !ValidTopic(topic) {
			return fmt.Errorf("cameras.topics.%s: %q is not a ROS topic name", key, topic)
		}
	}
	for key, c := range p.Cameras.Keys {
		rate := c.RateHz
		if rate == 0 {
			rate = p.Cameras.RateHz
		}
		if err := check("cameras.keys."+key+".rate_hz", rate, "cameras.keys."+key+".max_age", p.CameraMaxAge(key)); err != nil {
			return err
		}
	}
	return nil
}

// ValidTopic reports whether name is a usable ROS topic name.
func ValidTopic(name string) bool { return topicName.MatchString(name) }

// keyVal is a profile key and its value, for allPositive.
type keyVal struct {
	key string
	v   float64
}

// allPositive reports the first value that is not a finite positive number.
func allPositive(kvs ...keyVal) error {
	for _, kv := range kvs {
		if !(kv.v > 0) || math.IsInf(kv.v, 0) {
			return fmt.Errorf("%s: %g, want a positive number", kv.key, kv.v)
		}
	}
	return nil
}

// CommandHold is the command vector that holds a command_vector robot
// still (command.hold, default zeros).
func (p *Profile) CommandHold() []float64 {
	if len(p.Command.Hold) == p.Action.Dim {
		return p.Command.Hold
	}
	return make([]float64, p.Action.Dim)
}
