package policy

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/efferent/efferent/camera"
)

// Layouts: how a model's graphs turn an observation into a chunk.
const (
	// LayoutAutoregressive: a prefix encoder whose outputs are the
	// decoder's key/value cache, then a one-token decoder called once per
	// action token, decoded by a vq, bins or fast detokenizer
	// (efferent-tiny, OpenVLA, VQ-VLA, π0-FAST).
	LayoutAutoregressive = "autoregressive"
	// LayoutFlow: flow matching. A prefix graph runs once; a step graph,
	// given the prefix's outputs, the current sample and the flow time,
	// answers a velocity, integrated with Euler from noise to a chunk (π0,
	// π0.5, SmolVLA, GR00T). Or the whole loop in one graph that takes the
	// noise.
	LayoutFlow = "flow"
	// LayoutRegression: one graph maps the observation to a chunk
	// (OpenVLA-OFT, VLA-Adapter).
	LayoutRegression = "regression"
)

// RegressionSpec is the regression layout's one graph: the observation
// inputs in, float [B, horizon, model_dim] out.
type RegressionSpec struct {
	File    string `yaml:"file"`
	Actions string `yaml:"actions"`
}

// FlowSpec is the flow layout: Prefix and Step, or Graph.
type FlowSpec struct {
	// Prefix runs once per chunk on the observation inputs; its outputs
	// feed the step graph's inputs of the same names.
	Prefix *FlowPrefix `yaml:"prefix"`
	// Step is called Steps times: x and time in, velocity out.
	Step *FlowStep `yaml:"step"`
	// Graph holds the whole loop: the observation inputs and the noise in,
	// the chunk out.
	Graph *FlowGraph `yaml:"graph"`
	// Steps is the number of Euler steps (prefix + step). Default 10.
	Steps int `yaml:"steps"`
	// TimeFrom and TimeTo are the flow times of the noise and of the
	// data: dt = (TimeTo − TimeFrom)/Steps. Default 1 → 0 (openpi).
	TimeFrom *float64 `yaml:"time_from"`
	TimeTo   *float64 `yaml:"time_to"`
	// Seed seeds the noise: a request's is Seed + its observation's Seq,
	// so that the same request gives the same chunk.
	Seed uint64 `yaml:"seed"`
	// NoiseScale multiplies the starting noise: the sampling temperature.
	// Default 1 (the flow's own noise); 0 starts every chunk from the
	// origin, a deterministic sample near the conditional mean; values in
	// between trade the samples' diversity for their spread. 0 … 1.
	NoiseScale *float64 `yaml:"noise_scale"`
}

// Noise is the flow's noise scale with its default (1).
func (f *FlowSpec) Noise() float64 {
	if f.NoiseScale == nil {
		return 1
	}
	return *f.NoiseScale
}

// FlowPrefix names the prefix graph.
type FlowPrefix struct {
	File string `yaml:"file"`
}

// FlowStep names the step graph and its three tensors; every other input
// is a prefix output of the same name.
type FlowStep struct {
	File string `yaml:"file"`
	// X is the sample, float [B, horizon, model_dim].
	X string `yaml:"x"`
	// Time is the flow time, float [B].
	Time string `yaml:"time"`
	// Velocity is the output, float [B, horizon, model_dim].
	Velocity string `yaml:"velocity"`
}

// FlowGraph names a graph that integrates the flow itself.
type FlowGraph struct {
	File string `yaml:"file"`
	// Noise is float [B, horizon, model_dim].
	Noise string `yaml:"noise"`
	// Actions is float [B, horizon, model_dim].
	Actions string `yaml:"actions"`
}

// ImageNorm maps a camera's pixels to the float input a graph takes:
// (pixel/255 − Mean[c]) / Std[c], channels first. [-1, 1] is mean 0.5,
// std 0.5.
type ImageNorm struct {
	Mean []float64 `yaml:"mean"`
	Std  []float64 `yaml:"std"`
}

// Layout is the manifest's layout, LayoutAutoregressive when unset.
func (m *Manifest) LayoutName() string {
	if m.Layout == "" {
		return LayoutAutoregressive
	}
	return m.Layout
}

// ModelDim is the graph's action dimension (action.model_dim, default
// action.dim).
func (a ActionSpec) ModelDimOrDim() int {
	if a.ModelDim == 0 {
		return a.Dim
	}
	return a.ModelDim
}

// RobotDimsOrFirst are the model dims that are the robot's, in order
// (action.robot_dims, default the first action.dim).
func (a ActionSpec) RobotDimsOrFirst() []int {
	if a.RobotDims != nil {
		return a.RobotDims
	}
	d := make([]int, a.Dim)
	for i := range d {
		d[i] = i
	}
	return d
}

// CameraSize is camera i's size: its own, else the observation's.
func (m *Manifest) CameraSize(i int) (h, w int) {
	im := m.Obs.Images[i]
	h, w = im.Height, im.Width
	if h == 0 {
		h = m.Obs.ImageHeight
	}
	if w == 0 {
		w = m.Obs.ImageWidth
	}
	return h, w
}

// flowTimes are the flow's start and end times with their defaults.
func (f *FlowSpec) Times() (from, to float64) {
	from, to = 1, 0
	if f.TimeFrom != nil {
		from = *f.TimeFrom
	}
	if f.TimeTo != nil {
		to = *f.TimeTo
	}
	return from, to
}

// validateLayout checks the layout's own section and the keys the layout
// changes (model dims, per-camera sizes, image normalisation).
func (m *Manifest) validateLayout() error {
	switch m.LayoutName() {
	case LayoutAutoregressive:
		if m.Regression != nil || m.Flow != nil {
			return fieldErr("layout", "is autoregressive, but the manifest has a regression or flow section")
		}
	case LayoutRegression:
		r := m.Regression
		if r == nil || r.File == "" || r.Actions == "" {
			return fieldErr("regression", "needs file and actions for layout regression")
		}
		if m.Flow != nil {
			return fieldErr("flow", "belongs to layout flow, not regression")
		}
	case LayoutFlow:
		if err := m.validateFlow(); err != nil {
			return err
		}
	default:
		return fieldErr("layout", "is %q, want autoregressive, flow or regression", m.Layout)
	}
	a := m.Action
	md := a.ModelDimOrDim()
	if md < a.Dim || md > 1024 {
		return fieldErr("action.model_dim", "is %d, want action.dim (%d) .. 1024", md, a.Dim)
	}
	if a.RobotDims != nil {
		if len(a.RobotDims) != a.Dim {
			return fieldErr("action.robot_dims", "has %d entries, want action.dim = %d", len(a.RobotDims), a.Dim)
		}
		for i, d := range a.RobotDims {
			if d < 0 || d >= md || slices.Index(a.RobotDims, d) != i {
				return fieldErr(fmt.Sprintf("action.robot_dims[%d]", i), "is %d, want distinct dims in 0..%d", d, md-1)
			}
		}
	}
	if m.LayoutName() == LayoutAutoregressive && (md != a.Dim || a.RobotDims != nil) {
		return fieldErr("action.model_dim", "the autoregressive layout's detokenizer gives action.dim values: model_dim and robot_dims are for flow and regression")
	}
	if m.LayoutName() == LayoutAutoregressive {
		for i, im := range m.Obs.Images {
			if im.Height != 0 || im.Width != 0 || im.Normalize != nil {
				return fieldErr(fmt.Sprintf("observation.images[%d]", i), "height, width and normalize are for flow and regression; the autoregressive layout's encoder takes uint8 images of observation.image_height × image_width")
			}
		}
	}
	for i, im := range m.Obs.Images {
		if im.Height < 0 || im.Height > 4096 || im.Width < 0 || im.Width > 4096 {
			return fieldErr(fmt.Sprintf("observation.images[%d]", i), "height %d, width %d: want 1..4096 (0: observation.image_height/width)", im.Height, im.Width)
		}
		if n := im.Normalize; n != nil {
			if len(n.Mean) != 3 || len(n.Std) != 3 {
				return fieldErr(fmt.Sprintf("observation.images[%d].normalize", i), "mean and std need 3 values each (RGB)")
			}
			for c := range 3 {
				if !finite(n.Mean[c]) || !finite(n.Std[c]) || n.Std[c] <= 0 {
					return fieldErr(fmt.Sprintf("observation.images[%d].normalize", i), "mean %v, std %v: want finite values and std > 0", n.Mean, n.Std)
				}
			}
		}
	}
	return nil
}

func (m *Manifest) validateFlow() error {
	f := m.Flow
	if f == nil {
		return fieldErr("flow", "is required for layout flow")
	}
	if m.Regression != nil {
		return fieldErr("regression", "belongs to layout regression, not flow")
	}
	switch {
	case f.Graph != nil && (f.Prefix != nil || f.Step != nil):
		return fieldErr("flow", "has graph and prefix/step: give one or the other")
	case f.Graph != nil:
		if f.Graph.File == "" || f.Graph.Noise == "" || f.Graph.Actions == "" {
			return fieldErr("flow.graph", "needs file, noise and actions")
		}
	case f.Prefix == nil || f.Step == nil:
		return fieldErr("flow", "needs prefix and step, or graph")
	case f.Prefix.File == "":
		return fieldErr("flow.prefix.file", "is required")
	case f.Step.File == "" || f.Step.X == "" || f.Step.Time == "" || f.Step.Velocity == "":
		return fieldErr("flow.step", "needs file, x, time and velocity")
	}
	if f.Steps < 0 || f.Steps > 1000 {
		return fieldErr("flow.steps", "is %d, want 1..1000 (0: 10)", f.Steps)
	}
	from, to := f.Times()
	if !finite(from) || !finite(to) || from == to {
		return fieldErr("flow.time_from", "%v → %v: want two different finite times", from, to)
	}
	if s := f.Noise(); !(s >= 0 && s <= 1) {
		return fieldErr("flow.noise_scale", "is %v, want 0 … 1", s)
	}
	return nil
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// GraphFile is one ONNX graph a manifest names, with its manifest key.
type GraphFile struct {
	Field, File string
}

// Graphs are the ONNX graphs of the model's layout (the action
// tokenizer's latent decoder included).
func (m *Manifest) Graphs() []GraphFile {
	var g []GraphFile
	switch m.LayoutName() {
	case LayoutAutoregressive:
		g = append(g, GraphFile{"encoder.file", m.Encoder.File}, GraphFile{"decoder.file", m.Decoder.File})
		if ld := m.Action.Tokenizer.LatentDecoder; ld != nil {
			g = append(g, GraphFile{"action.tokenizer.latent_decoder.file", ld.File})
		}
	case LayoutRegression:
		if m.Regression != nil {
			g = append(g, GraphFile{"regression.file", m.Regression.File})
		}
	case LayoutFlow:
		if f := m.Flow; f != nil && f.Graph != nil {
			g = append(g, GraphFile{"flow.graph.file", f.Graph.File})
		} else if f != nil && f.Prefix != nil && f.Step != nil {
			g = append(g, GraphFile{"flow.prefix.file", f.Prefix.File}, GraphFile{"flow.step.file", f.Step.File})
		}
	}
	return g
}

// PromptText is the text the model's tokenizer is given for an
// instruction: text.template with the instruction in it, or the
// instruction itself.
func (m *Manifest) PromptText(instruction string) string {
	if m.Text.Template == "" {
		return instruction
	}
	return strings.Replace(m.Text.Template, "{instruction}", instruction, 1)
}

// cameraSizes are the cameras with a size of their own, when the cameras
// differ (Metadata.CameraSizes); nil otherwise.
func (m *Manifest) cameraSizes() map[string][2]int {
	var sizes map[string][2]int
	for i, im := range m.Obs.Images {
		if h, w := m.CameraSize(i); h != m.Obs.ImageHeight || w != m.Obs.ImageWidth {
			if sizes == nil {
				sizes = map[string][2]int{}
			}
			sizes[im.Key] = [2]int{h, w}
		}
	}
	return sizes
}

// CameraSpecFor is the preprocessing of camera key: CameraSpec at that
// camera's size.
func (m *Manifest) CameraSpecFor(key string) camera.Spec {
	spec := m.CameraSpec()
	for i, im := range m.Obs.Images {
		if im.Key == key {
			spec.Height, spec.Width = m.CameraSize(i)
		}
	}
	return spec
}
