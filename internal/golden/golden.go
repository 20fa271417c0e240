// Package golden reads a model's golden.json (PyTorch outputs for fixed
// inputs, written by the model's build script) and rebuilds those inputs in
// Go, so that tests can check that ONNX Runtime, the detokenizer and the
// server reproduce PyTorch end to end.
package golden

import (
	"encoding/json"
	"fmt"
	"io/fs"

	"github.com/efferent/efferent"
)

// File is golden.json.
type File struct {
	Patterns  map[string]string `json:"patterns"`
	Tolerance struct {
		ActionsAbs float64 `json:"actions_abs"`
		// ActionsRel (optional): half-precision graphs are compared to the
		// float32 reference relative to each value's size, |Δ| ≤ abs +
		// rel·|want|.
		ActionsRel float64 `json:"actions_rel"`
	} `json:"tolerance"`
	Cases []Case `json:"cases"`
	// Guided (flow models with real-time chunking) are cases sampled with
	// a guide (efferent.ActionGuide).
	Guided []Guided `json:"guided"`
}

// Guided is a case's observation sampled with a guide: what PyTorch made
// of it with efferent's guidance rule (policy/ort/guide.go).
type Guided struct {
	// Case indexes Cases: the observation (and its noise).
	Case int `json:"case"`
	// Guide is the executing chunk's rows (robot units), Delay how many
	// are frozen.
	Guide [][]float64 `json:"guide"`
	Delay int         `json:"delay"`
	// Raw and Actions as in Case.
	Raw     [][]float64 `json:"raw"`
	Actions [][]float64 `json:"actions"`
}

// Case is one fixed input and what PyTorch made of it.
type Case struct {
	Prompt string    `json:"prompt"`
	State  []float64 `json:"state"`
	// Images maps each observation key to a pattern name ("A" or "B").
	Images    map[string]string `json:"images"`
	PromptIDs []int64           `json:"prompt_ids"`
	Tokens    []int64           `json:"tokens"`
	MinMargin float64           `json:"min_margin"`
	// Actions is H rows of D un-normalised actions.
	Actions [][]float64 `json:"actions"`
	// Raw (flow, regression) is the graph's output, H rows of model_dim.
	Raw [][]float64 `json:"raw"`
	// Seq is the observation's sequence number; Seed the flow's noise
	// seed it gives (flow.seed + Seq), and Noise that noise, H rows of
	// model_dim (policy.FlowNoise).
	Seq   uint64      `json:"seq"`
	Seed  uint64      `json:"seed"`
	Noise [][]float64 `json:"noise"`
}

// Load reads name (usually "golden.json") from a model directory.
func Load(fsys fs.FS, name string) (*File, error) {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, err
	}
	var f File
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(f.Cases) == 0 || f.Tolerance.ActionsAbs <= 0 {
		return nil, fmt.Errorf("%s: no cases or no tolerance", name)
	}
	return &f, nil
}

// Pattern renders the named test pattern at h×w×3, exactly as the build
// script does:
//
//	A: pix[y][x][c] = (3x + 5y + 50c) mod 256
//	B: pix[y][x][c] = (7x + 2y + 90c + 17) mod 256
func Pattern(name string, h, w int) (efferent.Image, error) {
	var f func(x, y, c int) int
	switch name {
	case "A":
		f = func(x, y, c int) int { return 3*x + 5*y + 50*c }
	case "B":
		f = func(x, y, c int) int { return 7*x + 2*y + 90*c + 17 }
	default:
		return efferent.Image{}, fmt.Errorf("unknown golden pattern %q", name)
	}
	im := efferent.Image{H: h, W: w, C: 3, Pix: make([]byte, h*w*3)}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			for c := 0; c < 3; c++ {
				im.Pix[(y*w+x)*3+c] = byte(f(x, y, c) % 256)
			}
		}
	}
	return im, nil
}

// Observation rebuilds the case's input at h×w.
func (c *Case) Observation(h, w int) (efferent.Observation, error) {
	obs := efferent.Observation{Images: map[string]efferent.Image{}, State: c.State, Prompt: c.Prompt}
	for key, pat := range c.Images {
		im, err := Pattern(pat, h, w)
		if err != nil {
			return obs, err
		}
		obs.Images[key] = im
	}
	return obs, nil
}

// FlatActions returns the actions row-major.
func (c *Case) FlatActions() []float64 {
	var out []float64
	for _, row := range c.Actions {
		out = append(out, row...)
	}
	return out
}
