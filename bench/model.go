package bench

import (
	"math"
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/policy"
	"github.com/efferent/efferent/tokenizer"
)

// Model is a model under measurement: policy/ort's VLA, adapted by the
// caller (this package does not import ONNX Runtime).
type Model interface {
	policy.Policy
	// Detokenizer is the model's action detokenizer.
	Detokenizer() tokenizer.Detokenizer
	// Timing fills t with the split of the last Infer, reusing t.Steps.
	Timing(t *Timing)
}

// Timing is how long the stages of one Infer took.
type Timing struct {
	// Encoder is the prefix: images, state, instruction and their
	// key/values.
	Encoder time.Duration
	// Steps are the decoder steps, one per action token.
	Steps []time.Duration
	// Total is the whole call.
	Total time.Duration
}

// Opener opens the model m describes; noKVCache re-encodes the whole
// sequence for every action token (ort.Conf.NoKVCache).
type Opener func(m *policy.Manifest, noKVCache bool) (Model, error)

// modelObservation is an observation for m: its cameras at the model's
// size with a pattern, its state, an instruction.
func modelObservation(m *policy.Manifest) efferent.Observation {
	obs := efferent.Observation{Images: map[string]efferent.Image{}, State: make([]float64, m.Obs.State.Dim),
		Prompt: "put the red block in the blue bowl", Time: time.Unix(0, 0), Seq: 1}
	for k, im := range m.Obs.Images {
		h, w := m.CameraSize(k)
		pix := make([]byte, h*w*3)
		for i := range pix {
			pix[i] = byte(i*(k+3) + i/(w*3))
		}
		obs.Images[im.Key] = efferent.Image{H: h, W: w, C: 3, Pix: pix}
	}
	for i := range obs.State {
		obs.State[i] = math.Sin(float64(i))
	}
	return obs
}
