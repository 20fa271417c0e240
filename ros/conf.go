package ros

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/camera"
	"github.com/efferent/efferent/robot"
)

// Camera is one image topic feeding one of the policy's cameras.
type Camera struct {
	// Key is the observation key (e.g. "observation/image").
	Key string
	// Topic carries sensor_msgs/Image, or, when Compressed,
	// sensor_msgs/CompressedImage (JPEG or PNG).
	Topic      string
	Compressed bool
	// MaxAge: a newest frame older than this holds the robot (see the
	// package's freshness notes). Default the profile's for Key
	// (robot.Profile.CameraMaxAge: cameras.keys, else cameras.max_age).
	MaxAge time.Duration
}

// Conf configures a Bridge. Zero values mean the documented defaults.
type Conf struct {
	// Profile is the robot (required): topics, types, rate, mapping,
	// limits.
	Profile *robot.Profile
	// Master is the ROS master's host:port. Default: the host and port of
	// $ROS_MASTER_URI, else 127.0.0.1:11311.
	Master string
	// NodeName is this node's name. Default "efferent".
	NodeName string
	// Host is the address other nodes reach this one at. Default
	// 127.0.0.1 when the master is on loopback, else goroslib's choice
	// (the first non-loopback interface).
	Host string
	// Cameras feed the observation's images from topics.
	Cameras []Camera
	// Sources feed other images from camera sources (a USB camera on the
	// robot PC, a stream), by observation key; the bridge does not close
	// them.
	Sources map[string]camera.Source
	// StateDim is the length of the state vector the policy expects.
	// Default 8 (LIBERO: eef position, axis-angle, two finger positions).
	StateDim int
	// Instruction is the prompt every observation carries.
	Instruction string
	// MasterPoll is how often the master is checked (on a goroutine of
	// its own, never delaying commands). Default 200ms: a dead master
	// (connection refused) is noticed, and the robot held, within it; one
	// that stops answering, within a second.
	MasterPoll time.Duration
	// DecodeImage decodes CompressedImage frames. Default Go's decoders;
	// efferent run sets OpenCV's.
	DecodeImage func(data []byte, maxSide int) (efferent.Image, error)
	// Log receives connection events. Default slog.Default().
	Log *slog.Logger
	// EStop, when set, is called with "ros" when std_msgs/Bool true
	// arrives on EStopTopic (releasing it is not offered over ROS, which
	// has no authentication).
	EStop func(source string)
	// EStopTopic. Default /efferent/estop.
	EStopTopic string
}

// MasterFromEnv is the host:port of $ROS_MASTER_URI, or "" when unset.
func MasterFromEnv() (string, error) {
	v := os.Getenv("ROS_MASTER_URI")
	if v == "" {
		return "", nil
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("ROS_MASTER_URI %q: want http://host:port", v)
	}
	return u.Host, nil
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Conf) WithDefaults() (Conf, error) {
	if c.Master == "" {
		m, err := MasterFromEnv()
		if err != nil {
			return c, err
		}
		c.Master = m
	}
	if c.Master == "" {
		c.Master = "127.0.0.1:11311"
	}
	if c.NodeName == "" {
		c.NodeName = "efferent"
	}
	if c.Host == "" {
		if h, _, err := net.SplitHostPort(c.Master); err == nil {
			if ip := net.ParseIP(h); h == "localhost" || (ip != nil && ip.IsLoopback()) {
				c.Host = "127.0.0.1"
			}
		}
	}
	if c.StateDim == 0 {
		c.StateDim = 8
	}
	if c.MasterPoll == 0 {
		c.MasterPoll = 200 * time.Millisecond
	}
	if c.EStopTopic == "" {
		c.EStopTopic = "/efferent/estop"
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return c, nil
}

// Validate checks c after defaults; the error names the field.
func (c Conf) Validate() error {
	if c.Profile == nil {
		return errors.New("ros: Conf.Profile: required")
	}
	if c.Profile.Command.Type == robot.TypeSim {
		return fmt.Errorf("ros: robot profile %s drives the built-in simulator, not ROS", c.Profile.Name)
	}
	if _, _, err := net.SplitHostPort(c.Master); err != nil {
		return fmt.Errorf("ros: master %q: want host:port: %v", c.Master, err)
	}
	if c.StateDim < 1 || c.StateDim > 256 {
		return fmt.Errorf("ros: Conf.StateDim %d: want 1 .. 256", c.StateDim)
	}
	if c.MasterPoll < 10*time.Millisecond || c.MasterPoll > 10*time.Second {
		return fmt.Errorf("ros: Conf.MasterPoll %v: want 10ms .. 10s", c.MasterPoll)
	}
	seen := map[string]bool{}
	for key, src := range c.Sources {
		if key == "" || src == nil {
			return fmt.Errorf("ros: Conf.Sources: key %q has no source", key)
		}
		seen[key] = true
	}
	for i, cam := range c.Cameras {
		if cam.Key == "" || seen[cam.Key] {
			return fmt.Errorf("ros: Conf.Cameras[%d]: key %q is empty or repeated", i, cam.Key)
		}
		seen[cam.Key] = true
		if !robot.ValidTopic(cam.Topic) {
			return fmt.Errorf("ros: Conf.Cameras[%d]: %q is not a ROS topic name", i, cam.Topic)
		}
		if cam.MaxAge < 0 || cam.MaxAge > 10*time.Second {
			return fmt.Errorf("ros: Conf.Cameras[%d].MaxAge %v: want 0 (the profile's) .. 10s", i, cam.MaxAge)
		}
	}
	return nil
}
