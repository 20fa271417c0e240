package efferent

import (
	"fmt"
	"time"
)

// Image is one camera image in height × width × channels order, 8 bits per
// channel, RGB when C is 3. Pix has exactly H*W*C bytes, row-major.
type Image struct {
	H, W, C int
	Pix     []byte
}

// CopyFrom makes im a copy of src, reusing im.Pix when it is large enough
// (the per-frame copy of cameras and buffers, without allocating once
// warm).
func (im *Image) CopyFrom(src Image) {
	n := len(src.Pix)
	if cap(im.Pix) < n {
		im.Pix = make([]byte, n)
	}
	im.Pix = im.Pix[:n]
	copy(im.Pix, src.Pix)
	im.H, im.W, im.C = src.H, src.W, src.C
}

// Validate reports whether the dimensions are positive and Pix has the size
// they imply.
func (im Image) Validate() error {
	if im.H <= 0 || im.W <= 0 || im.C <= 0 {
		return fmt.Errorf("image shape %dx%dx%d: every dimension must be positive", im.H, im.W, im.C)
	}
	if want := im.H * im.W * im.C; len(im.Pix) != want {
		return fmt.Errorf("image shape %dx%dx%d needs %d bytes, have %d", im.H, im.W, im.C, want, len(im.Pix))
	}
	return nil
}

// Observation is what a policy sees at one instant: named camera images
// (keys as the model manifest names them, e.g. "observation/image"),
// proprioceptive state, and the language instruction.
type Observation struct {
	Images map[string]Image
	State  []float64
	Prompt string
	// Time is when the observation was captured (zero if unknown). A chunk
	// answers exactly one observation time, so a late reply can be
	// recognised and never executed after a newer one.
	Time time.Time
	// Seq numbers observations from one source, starting at 1.
	Seq uint64
	// Guide, when Guide.Steps > 0, asks for real-time chunking: the
	// chunk answering this observation should continue the one executing
	// (see ActionGuide). Only a policy whose Metadata says it can guide
	// reads it; the others answer as if it were empty.
	Guide ActionGuide
}

// ActionGuide is what real-time chunking (Black et al. 2025) knows when an
// observation is taken while a chunk executes: the actions the robot will
// carry out from the observation on, for as long as the executing chunk
// lasts. The new chunk's first Delay steps will have run from the old
// chunk before it arrives (the inference delay): the policy freezes them
// to these actions, guides the next ones towards them with decaying
// weights, and leaves the rest free (policy.GuideWeight).
type ActionGuide struct {
	// Actions holds Steps rows of D values, in the robot's units (as a
	// Chunk's): row k is the action the executing plan gives the step
	// that starts k step periods after the observation's Time.
	Actions []float64
	Steps   int
	D       int
	// Delay is how many of the new chunk's steps will be over when it
	// arrives: the expected inference latency in steps, rounded up
	// (≤ Steps).
	Delay int
}

// Row returns guide row k, aliasing Actions.
func (g *ActionGuide) Row(k int) []float64 { return g.Actions[k*g.D : (k+1)*g.D] }

// Chunk is H future actions of D dimensions each, in the robot's units
// (already un-normalised), row-major: Actions[t*D+d].
type Chunk struct {
	Actions []float64
	H, D    int
	// Tokens are the raw action tokens the policy produced (nil for
	// policies that emit actions directly).
	Tokens []int64
	// ObsTime and Seq identify the observation this chunk answers.
	ObsTime time.Time
	Seq     uint64
	// Model names the model that produced the chunk.
	Model string
	// StepPeriod is the time between consecutive actions the model was
	// trained at (e.g. 50 ms for a 20 Hz LIBERO policy).
	StepPeriod time.Duration
}

// At returns action t, dimension d.
func (c *Chunk) At(t, d int) float64 { return c.Actions[t*c.D+d] }

// Row returns action t as a slice aliasing c.Actions.
func (c *Chunk) Row(t int) []float64 { return c.Actions[t*c.D : (t+1)*c.D] }
