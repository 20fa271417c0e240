package rig

import (
	"strings"
	"testing"
)

// Cameras map onto the model's keys in order, or by name; every key needs
// one; ROS topics go to the bridge, other sources by key.
func TestParseCameras(t *testing.T) {
	keys := []string{"observation/image", "observation/wrist_image"}
	cams, others, err := ParseCameras([]string{"observation/wrist_image=ros:/wrist/compressed", "/dev/video0"}, keys)
	if err != nil || len(cams) != 1 || cams[0].Key != keys[1] || !cams[0].Compressed || others[keys[0]] != "/dev/video0" {
		t.Fatalf("%+v %v %v", cams, others, err)
	}
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{[]string{"ros:/a"}, "needs cameras [observation/wrist_image]"},
		{[]string{"ros:/a", "ros:/b", "ros:/c"}, "only 2 cameras"},
		{[]string{"observation/image=ros:/a", "observation/image=ros:/b"}, "given twice"},
		{[]string{"observation/image=", "ros:/b"}, "no source"},
	} {
		if _, _, err := ParseCameras(tc.in, keys); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err %v, want %q", tc.in, err, tc.want)
		}
	}
}
