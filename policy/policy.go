package policy

import (
	"context"
	"time"

	"github.com/efferent/efferent"
)

// Action spaces a manifest may declare (action.space).
const (
	SpaceLIBERO           = "libero"
	SpaceQuadrupedCommand = "quadruped_command"
)

// Policy maps one observation to one chunk of actions.
//
// Implementations are not safe for concurrent use: one goroutine owns a
// Policy (the server's model worker, or the control loop) and serialises
// calls, which is also what lets them reuse every buffer between calls.
type Policy interface {
	// Infer fills out with the chunk answering obs. out's slices are reused
	// when their capacity suffices, so a caller that keeps a chunk across
	// calls must copy it. On error out is left unspecified and must not be
	// executed.
	Infer(ctx context.Context, obs *efferent.Observation, out *efferent.Chunk) error
	// Metadata describes what the policy expects and produces.
	Metadata() Metadata
	// Close releases the native resources. The Policy is unusable after.
	Close() error
}

// Metadata is what a caller needs to know to feed a policy and use its
// chunks. It is derived from the model manifest.
type Metadata struct {
	Name    string
	Version string
	// Weights is "trained" or "random" (a fixture whose actions mean nothing).
	Weights string
	// ImageKeys are the observation keys of the cameras, in model order.
	ImageKeys []string
	// ImageHeight and ImageWidth are the size each image must have.
	ImageHeight, ImageWidth int
	// CameraSizes are the cameras whose size is their own (height, width),
	// when the model's cameras differ in size; nil otherwise. ImageSize
	// reads both.
	CameraSizes map[string][2]int
	// Resize says how a caller should bring other sizes to the model's:
	// "resize_with_pad", "stretch" or "none".
	Resize string
	// StateKey and StateDim describe the proprioceptive state vector.
	StateKey string
	StateDim int
	// RobotBase is the manifest's observation.state.robot_base: where a
	// ROS robot's base frame lies in the training states' frame (added to
	// the first three state values on ROS runs); nil when not declared.
	RobotBase []float64
	// PromptKey names the instruction; PromptRequired says whether an empty
	// one is an error; MaxPromptBytes bounds its size on the wire.
	PromptKey      string
	PromptRequired bool
	MaxPromptBytes int
	// Horizon and Dim are the chunk geometry (H actions of D dims).
	Horizon, Dim int
	// StepPeriod is the time between actions the model was trained at.
	StepPeriod time.Duration
	// MaxLagSteps is how many steps of its chunks the policy tolerates
	// executing from an old frame (manifest action.max_lag_steps): async
	// and rtc slow chunks down beyond it (control.SchedulerConf). 0: not
	// declared.
	MaxLagSteps float64
	// ActionSpace is the manifest's action.space: what the actions mean
	// (SpaceLIBERO, SpaceQuadrupedCommand; "" when not declared).
	ActionSpace string
	// Guides says the policy reads Observation.Guide: it can do
	// real-time chunking (control.ModeRTC). Only the flow layout's prefix
	// + step graphs can (policy/ort: guide.go).
	Guides bool
	// TokenizerKind is the autoregressive layout's action tokenizer ("vq",
	// "bins" or "fast"); "" for the flow and regression layouts.
	TokenizerKind string
}

// ImageSize is the size camera key's images must have.
func (md Metadata) ImageSize(key string) (h, w int) {
	if s, ok := md.CameraSizes[key]; ok {
		return s[0], s[1]
	}
	return md.ImageHeight, md.ImageWidth
}
