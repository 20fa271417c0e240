package robot

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestShippedProfilesLoad(t *testing.T) {
	want := map[string]float64{"franka": 1000, "quadruped": 50, "quadruped-command": 50, "sim": 20}
	for _, name := range Names() {
		p, err := Load(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if p.Name != name || p.RateHz != want[name] {
			t.Fatalf("%s: name %q rate %g", name, p.Name, p.RateHz)
		}
	}
	if len(Names()) != len(want) {
		t.Fatalf("shipped %v", Names())
	}
	q, _ := Load("quadruped")
	if q.Command.Watchdog != 40*time.Millisecond || q.Status.Period != 500*time.Millisecond {
		t.Fatalf("quadruped defaults: watchdog %v status %v", q.Command.Watchdog, q.Status.Period)
	}
	c, _ := Load("quadruped-command")
	if h := c.CommandHold(); len(h) != 7 || h[6] != 1 || h[3] != 0.28 {
		t.Fatalf("quadruped-command's hold %v: want standing with the stop flag", h)
	}
}

// A command_vector profile bounds every dim, and its hold command lies
// within the bounds.
func TestCommandVectorLimits(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ yaml, want string }{
		{"limits: {command_min: [0, 0], command_max: [1, 1]}", "want 7 values"},
		{"limits: {command_max: [1, 1, 1, 1, 1, 1]}", "or neither"},
		{"limits: {command_min: [0, 0, 0, 0, 0, 0, 2], command_max: [1, 1, 1, 1, 1, 1, 1]}", "want finite min ≤ max"},
		{"command: {hold: [0, 0, 0, 0, 0, 0, 0]}", "command.hold[3]: 0, outside"},
		{"command: {hold: [1, 2]}", "want 7 (action.dim)"},
	} {
		f := filepath.Join(dir, "p.yaml")
		os.WriteFile(f, []byte("base: quadruped-command\n"+tc.yaml+"\n"), 0o644)
		if _, err := Load(f); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.yaml, err, tc.want)
		}
	}
}

// A user's file overrides only what it sets of the profile it names.
func TestOverride(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "lab.yaml")
	os.WriteFile(f, []byte("base: franka\nname: lab-panda\ncommand:\n  topic: /my_controller/equilibrium_pose\n"), 0o644)
	p, err := Load(f)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "lab-panda" || p.Command.Topic != "/my_controller/equilibrium_pose" || p.Command.Type != TypePoseStamped || p.RateHz != 1000 {
		t.Fatalf("%+v", p.Command)
	}
}

func TestBadProfiles(t *testing.T) {
	cases := []struct{ yaml, want string }{
		{"base: franka\ncommand:\n  topiq: /x\n", "line 3: command.topiq: unknown key; did you mean topic?"},
		{"base: franka\ncameras:\n  keys:\n    wrist: {rate_hz: 30, max_ag: 1s}\n", "line 4: cameras.keys.wrist.max_ag: unknown key"},
		{"base: franka\nstatus:\n  period: often\n", "line 3: status.period: cannot unmarshal !!str `often` into time.Duration"},
		{"base: franka\nrate_hz: 5000\n", "rate_hz: 5000"},
		{"base: franka\ncommand:\n  topic: 'bad topic'\n", "not a ROS topic name"},
		{"base: franka\ncommand:\n  type: geometry_msgs/Twist\n", "cannot carry action.mapping ee_delta"},
		{"base: franka\nlimits:\n  workspace_min: [1, 0, 0]\n", "workspace_min[0] = 1 is not below"},
		{"base: franka\nstate:\n  franka_state: ''\n", "set state.franka_state or state.pose"},
		{"base: quadruped\nlimits:\n  max_vx: 0\n", "limits.max_vx: 0"},
		{"base: franka\ngripper:\n  threshold: 2\n", "gripper.threshold 2"},
		{"base: nosuch\n", `base "nosuch"`},
		{"base: franka\nlimits:\n  max_speed: 2\n", "limits.max_speed: 2 exceeds the hardware's 1.7"},
		{"base: franka\nlimits:\n  joint_jerk: [750, 375, 500, 625, 750, 1000, 20000]\n", "limits.joint_jerk[6]: 20000 is beyond the hardware's 10000"},
		{"base: franka\nlimits:\n  joint_min: [-3, -1.7628, -2.8973, -3.0718, -2.8973, -0.0175, -2.8973]\n", "limits.joint_min[0]: -3 is beyond"},
		{"base: franka\nlimits:\n  on_violation: {jerk: ignore}\n", `limits.on_violation.jerk: "ignore"`},
		{"base: franka\nlimits:\n  max_jerk: -1\n", "limits.max_jerk: -1"},
		{"base: franka\nlimits:\n  joint_acceleration: [1, 2]\n", "limits.joint_acceleration: 2 values, want 7"},
	}
	dir := t.TempDir()
	for i, tc := range cases {
		f := filepath.Join(dir, "p.yaml")
		os.WriteFile(f, []byte(tc.yaml), 0o644)
		_, err := Load(f)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("case %d: err = %v, want %q", i, err, tc.want)
		}
	}
	if _, err := Load("/no/such/profile.yaml"); !errors.Is(err, ErrUnknown) {
		t.Fatalf("missing file: %v", err)
	}
}

// Every input's maximum age has a default derived from its nominal rate,
// and a user's file changes only what it sets.
func TestFreshnessDefaults(t *testing.T) {
	f, err := Load("franka")
	if err != nil {
		t.Fatal(err)
	}
	if f.State.RateHz != 30 || f.State.MaxAge != 4*time.Second/30 || f.State.GripperMaxAge != 4*time.Second/30 || f.Cameras.MaxAge != 4*time.Second/30 {
		t.Fatalf("franka freshness: %+v cameras %+v", f.State, f.Cameras)
	}
	q, _ := Load("quadruped")
	if q.State.MaxAge != 80*time.Millisecond {
		t.Fatalf("quadruped state max_age %v, want 80ms (4 periods of 50 Hz)", q.State.MaxAge)
	}
	if got := DefaultMaxAge(1000); got != 50*time.Millisecond {
		t.Fatalf("DefaultMaxAge(1000) = %v, want the 50ms floor", got)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "lab.yaml")
	os.WriteFile(file, []byte("base: franka\nstate: {rate_hz: 1000}\ncameras:\n  max_age: 250ms\n  keys:\n    wrist: {rate_hz: 10}\n    side: {max_age: 1s}\n"), 0o644)
	p, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if p.State.MaxAge != 50*time.Millisecond || p.State.FrankaState == "" || p.State.GripperMaxAge != 4*time.Second/30 {
		t.Fatalf("override: %+v", p.State)
	}
	for key, want := range map[string]time.Duration{"wrist": 400 * time.Millisecond, "side": time.Second, "front": 250 * time.Millisecond} {
		if got := p.CameraMaxAge(key); got != want {
			t.Fatalf("CameraMaxAge(%s) = %v, want %v", key, got, want)
		}
	}
	// Franka: translation 0.25/2 + 2·2/100 = 0.165 s, rotation 0.8/4 +
	// 2·4/200 = 0.24 s, plus two 1 ms periods.
	if got := f.StopTime(); got != 242*time.Millisecond {
		t.Fatalf("franka StopTime %v, want 242ms", got)
	}
	for i, tc := range []struct{ yaml, want string }{
		{"base: franka\nstate: {max_age: 20s}\n", "state.max_age: 20s"},
		{"base: franka\nstate: {gripper_rate_hz: -1}\n", "state.gripper_rate_hz: -1"},
		{"base: franka\ncameras: {keys: {wrist: {max_age: 11s}}}\n", "cameras.keys.wrist.max_age"},
		{"base: quadruped\naction: {policy_dims: [0, 1]}\n", "action.policy_dims: 2 entries"},
		{"base: quadruped\naction: {policy_dims: [0, 1, -5]}\n", "action.policy_dims[2]: -5"},
	} {
		os.WriteFile(file, []byte(tc.yaml), 0o644)
		if _, err := Load(file); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("case %d: err = %v, want %q", i, err, tc.want)
		}
	}
	os.WriteFile(file, []byte("base: quadruped\naction: {policy_dims: [0, 1, 5]}\n"), 0o644)
	if p, err := Load(file); err != nil || len(p.Action.PolicyDims) != 3 {
		t.Fatalf("policy_dims: %v %v", p, err)
	}
}
