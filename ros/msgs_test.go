package ros

import (
	"testing"

	"github.com/bluenviron/goroslib/v2/pkg/msgproc"
	"github.com/bluenviron/goroslib/v2/pkg/msgs/std_msgs"
)

// TestMessageMD5 pins the MD5 sums ROS computes (genmsg's
// compute_md5, run on franka_ros 0.10's .msg files) for the message types
// efferent defines itself; a field out of place would make the robot's
// nodes refuse the connection. std_msgs/Header checks the method.
func TestMessageMD5(t *testing.T) {
	for _, tc := range []struct {
		name string
		msg  any
		md5  string
	}{
		{"std_msgs/Header", std_msgs.Header{}, "2176decaecbce78abc3b96ef049fabed"},
		{"franka_msgs/Errors", FrankaErrors{}, "760659348d030969cb39915c194bed38"},
		{"franka_msgs/FrankaState", FrankaState{}, "331ae486f9e9fe735729b09a5e428b45"},
		{"franka_gripper/MoveGoal", MoveGoal{}, "d16050a0fe85f1c2cb8347c99678362e"},
		{"franka_gripper/MoveActionGoal", MoveActionGoal{}, "f8907a1e7bb902f2e4c7db8e1cf3d24f"},
	} {
		got, err := msgproc.MD5(tc.msg)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got != tc.md5 {
			t.Errorf("%s: MD5 %s, ROS computes %s", tc.name, got, tc.md5)
		}
	}
}
