package remote

import (
	"fmt"
	"time"
)

// Conf describes what the remote model expects. Zero values mean the
// documented default, which is what openpi's LIBERO client sends.
type Conf struct {
	// ImageKeys name the cameras in the observation map. Default LIBERO's
	// "observation/image" (third-person) and "observation/wrist_image".
	ImageKeys []string
	// StateKey names the proprioceptive state. Default "observation/state".
	StateKey string
	// StateDim is the state's length, checked before sending. Default 8
	// (LIBERO: eef position 3 + axis-angle 3 + gripper 2).
	StateDim int
	// PromptKey names the instruction. Default "prompt".
	PromptKey string
	// StepPeriod is the time between the actions of a chunk, which the
	// protocol does not carry. Default 50ms (LIBERO's 20 Hz).
	StepPeriod time.Duration
	// ImageHeight and ImageWidth are the size the server's model wants; the
	// client sends what it is given, and reports this size in Metadata so a
	// caller can resize (openpi's LIBERO client resizes to 224×224 with
	// padding before sending). Default 224 each.
	ImageHeight, ImageWidth int
	// MaxFrameBytes bounds one incoming websocket message; a larger reply is
	// refused (api.ErrTooLarge) and the connection closed. Default 16 MiB.
	// The metadata frame is bounded by min(MaxFrameBytes, 1 MiB).
	MaxFrameBytes int64
	// DialTimeout bounds Dial: the TCP connect, the websocket handshake and
	// reading the metadata frame. Default 10s (the websockets library's open
	// timeout that openpi's client uses).
	DialTimeout time.Duration
	// Token, when set, is sent as "Authorization: Bearer <Token>" on the
	// handshake (an efferent server started with --token). Default: none
	// ($EFFERENT_TOKEN is used by the efferent command when set).
	Token string
	// CallTimeout bounds one Infer when the caller's context has no
	// earlier deadline: a server that stops answering then costs one
	// failed call (and, with Client, a reconnect) instead of a control loop
	// waiting forever. Default 30s (openpi's first inference can compile
	// for that long; efferent's server.request_timeout is the same).
	CallTimeout time.Duration
	// ReconnectMin and ReconnectMax bound Client's wait between failed
	// connection attempts: the first attempt after a break is immediate,
	// then the wait doubles from ReconnectMin up to ReconnectMax until a
	// dial succeeds. Defaults 100ms and 5s.
	ReconnectMin, ReconnectMax time.Duration
	// Now is Client's clock for the reconnect waits. Default time.Now;
	// tests inject a fake one.
	Now func() time.Time
}

// maxMetadataBytes bounds the metadata frame: openpi's is an empty map or a
// few numbers, so anything large is a misbehaving server.
const maxMetadataBytes = 1 << 20

// WithDefaults returns c with zero fields set to their defaults.
func (c Conf) WithDefaults() Conf {
	if c.ImageKeys == nil {
		c.ImageKeys = []string{"observation/image", "observation/wrist_image"}
	}
	if c.StateKey == "" {
		c.StateKey = "observation/state"
	}
	if c.StateDim == 0 {
		c.StateDim = 8
	}
	if c.PromptKey == "" {
		c.PromptKey = "prompt"
	}
	if c.StepPeriod == 0 {
		c.StepPeriod = 50 * time.Millisecond
	}
	if c.ImageHeight == 0 {
		c.ImageHeight = 224
	}
	if c.ImageWidth == 0 {
		c.ImageWidth = 224
	}
	if c.MaxFrameBytes == 0 {
		c.MaxFrameBytes = 16 << 20
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = 10 * time.Second
	}
	if c.CallTimeout == 0 {
		c.CallTimeout = 30 * time.Second
	}
	if c.ReconnectMin == 0 {
		c.ReconnectMin = 100 * time.Millisecond
	}
	if c.ReconnectMax == 0 {
		c.ReconnectMax = 5 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate checks c after WithDefaults; an error names the field.
func (c Conf) Validate() error {
	if len(c.ImageKeys) == 0 {
		return fmt.Errorf("remote: Conf.ImageKeys is empty, want at least one camera key")
	}
	seen := map[string]string{}
	key := func(field, k string) error {
		if k == "" {
			return fmt.Errorf("remote: Conf.%s is empty", field)
		}
		if other, dup := seen[k]; dup {
			return fmt.Errorf("remote: Conf.%s %q is also Conf.%s; keys must differ", field, k, other)
		}
		seen[k] = field
		return nil
	}
	for i, k := range c.ImageKeys {
		if err := key(fmt.Sprintf("ImageKeys[%d]", i), k); err != nil {
			return err
		}
	}
	if err := key("StateKey", c.StateKey); err != nil {
		return err
	}
	if err := key("PromptKey", c.PromptKey); err != nil {
		return err
	}
	if c.StateDim < 1 || c.StateDim > 4096 {
		return fmt.Errorf("remote: Conf.StateDim = %d, want 1..4096", c.StateDim)
	}
	if c.StepPeriod <= 0 {
		return fmt.Errorf("remote: Conf.StepPeriod = %v, want > 0", c.StepPeriod)
	}
	if c.ImageHeight < 1 || c.ImageHeight > 4096 {
		return fmt.Errorf("remote: Conf.ImageHeight = %d, want 1..4096", c.ImageHeight)
	}
	if c.ImageWidth < 1 || c.ImageWidth > 4096 {
		return fmt.Errorf("remote: Conf.ImageWidth = %d, want 1..4096", c.ImageWidth)
	}
	if c.MaxFrameBytes < 1024 || c.MaxFrameBytes > 1<<30 {
		return fmt.Errorf("remote: Conf.MaxFrameBytes = %d, want 1024..1073741824", c.MaxFrameBytes)
	}
	if c.DialTimeout <= 0 {
		return fmt.Errorf("remote: Conf.DialTimeout = %v, want > 0", c.DialTimeout)
	}
	if c.CallTimeout <= 0 {
		return fmt.Errorf("remote: Conf.CallTimeout = %v, want > 0", c.CallTimeout)
	}
	if c.ReconnectMin <= 0 || c.ReconnectMax < c.ReconnectMin {
		return fmt.Errorf("remote: Conf.ReconnectMin = %v, ReconnectMax = %v: want 0 < min <= max", c.ReconnectMin, c.ReconnectMax)
	}
	return nil
}
