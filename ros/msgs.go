package ros

import (
	"github.com/bluenviron/goroslib/v2/pkg/msg"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/actionlib_msgs"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/std_msgs"
)

// The franka_ros messages efferent reads and writes, defined field for
// field as franka_ros 0.10 defines them (goroslib derives each type's MD5
// from the struct, so a field out of place would be refused by the other
// node; TestMessageMD5 pins the sums computed by ROS's own genmsg).

// FrankaErrors is franka_msgs/Errors.
type FrankaErrors struct {
	msg.Package                                            `ros:"franka_msgs"`
	JointPositionLimitsViolation                           bool
	CartesianPositionLimitsViolation                       bool
	SelfCollisionAvoidanceViolation                        bool
	JointVelocityViolation                                 bool
	CartesianVelocityViolation                             bool
	ForceControlSafetyViolation                            bool
	JointReflex                                            bool
	CartesianReflex                                        bool
	MaxGoalPoseDeviationViolation                          bool
	MaxPathPoseDeviationViolation                          bool
	CartesianVelocityProfileSafetyViolation                bool
	JointPositionMotionGeneratorStartPoseInvalid           bool
	JointMotionGeneratorPositionLimitsViolation            bool
	JointMotionGeneratorVelocityLimitsViolation            bool
	JointMotionGeneratorVelocityDiscontinuity              bool
	JointMotionGeneratorAccelerationDiscontinuity          bool
	CartesianPositionMotionGeneratorStartPoseInvalid       bool
	CartesianMotionGeneratorElbowLimitViolation            bool
	CartesianMotionGeneratorVelocityLimitsViolation        bool
	CartesianMotionGeneratorVelocityDiscontinuity          bool
	CartesianMotionGeneratorAccelerationDiscontinuity      bool
	CartesianMotionGeneratorElbowSignInconsistent          bool
	CartesianMotionGeneratorStartElbowInvalid              bool
	CartesianMotionGeneratorJointPositionLimitsViolation   bool
	CartesianMotionGeneratorJointVelocityLimitsViolation   bool
	CartesianMotionGeneratorJointVelocityDiscontinuity     bool
	CartesianMotionGeneratorJointAccelerationDiscontinuity bool
	CartesianPositionMotionGeneratorInvalidFrame           bool
	ForceControllerDesiredForceToleranceViolation          bool
	ControllerTorqueDiscontinuity                          bool
	StartElbowSignInconsistent                             bool
	CommunicationConstraintsViolation                      bool
	PowerLimitViolation                                    bool
}

// FrankaState is franka_msgs/FrankaState; efferent uses O_T_EE, the
// measured end-effector pose (4×4, column-major).
type FrankaState struct {
	msg.Package               `ros:"franka_msgs"`
	msg.Definitions           `ros:"uint8 ROBOT_MODE_OTHER=0,uint8 ROBOT_MODE_IDLE=1,uint8 ROBOT_MODE_MOVE=2,uint8 ROBOT_MODE_GUIDING=3,uint8 ROBOT_MODE_REFLEX=4,uint8 ROBOT_MODE_USER_STOPPED=5,uint8 ROBOT_MODE_AUTOMATIC_ERROR_RECOVERY=6"`
	Header                    std_msgs.Header
	CartesianCollision        [6]float64
	CartesianContact          [6]float64
	Q                         [7]float64   `rosname:"q"`
	QD                        [7]float64   `rosname:"q_d"`
	Dq                        [7]float64   `rosname:"dq"`
	DqD                       [7]float64   `rosname:"dq_d"`
	Theta                     [7]float64   `rosname:"theta"`
	Dtheta                    [7]float64   `rosname:"dtheta"`
	TauJ                      [7]float64   `rosname:"tau_J"`
	DtauJ                     [7]float64   `rosname:"dtau_J"`
	TauJD                     [7]float64   `rosname:"tau_J_d"`
	KFExtHatK                 [6]float64   `rosname:"K_F_ext_hat_K"`
	Elbow                     [2]float64   `rosname:"elbow"`
	ElbowD                    [2]float64   `rosname:"elbow_d"`
	JointCollision            [7]float64   `rosname:"joint_collision"`
	JointContact              [7]float64   `rosname:"joint_contact"`
	OFExtHatK                 [6]float64   `rosname:"O_F_ext_hat_K"`
	TauExtHatFiltered         [7]float64   `rosname:"tau_ext_hat_filtered"`
	MEe                       float64      `rosname:"m_ee"`
	FXCee                     [3]float64   `rosname:"F_x_Cee"`
	IEe                       [9]float64   `rosname:"I_ee"`
	MLoad                     float64      `rosname:"m_load"`
	FXCload                   [3]float64   `rosname:"F_x_Cload"`
	ILoad                     [9]float64   `rosname:"I_load"`
	MTotal                    float64      `rosname:"m_total"`
	FXCtotal                  [3]float64   `rosname:"F_x_Ctotal"`
	ITotal                    [9]float64   `rosname:"I_total"`
	OTEE                      [16]float64  `rosname:"O_T_EE"`
	OTEED                     [16]float64  `rosname:"O_T_EE_d"`
	FTEE                      [16]float64  `rosname:"F_T_EE"`
	EETK                      [16]float64  `rosname:"EE_T_K"`
	Time                      float64      `rosname:"time"`
	ControlCommandSuccessRate float64      `rosname:"control_command_success_rate"`
	RobotMode                 uint8        `rosname:"robot_mode"`
	CurrentErrors             FrankaErrors `rosname:"current_errors"`
	LastMotionErrors          FrankaErrors `rosname:"last_motion_errors"`
}

// MoveGoal is franka_gripper/MoveGoal.
type MoveGoal struct {
	msg.Package `ros:"franka_gripper"`
	Width       float64
	Speed       float64
}

// MoveActionGoal is franka_gripper/MoveActionGoal, what the move action's
// goal topic carries.
type MoveActionGoal struct {
	msg.Package `ros:"franka_gripper"`
	Header      std_msgs.Header
	GoalId      actionlib_msgs.GoalID
	Goal        MoveGoal
}
