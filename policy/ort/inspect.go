package ort

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/internal/onnxfile"
	"github.com/efferent/efferent/policy"
)

// InspectPrompt is the instruction of Inspect's trial inference.
const InspectPrompt = "put the red block in the blue bowl"

// Inspection is what Inspect found in a model directory: the manifest's
// layout, every graph's inputs and outputs and weights as the files
// declare them, the ONNX Runtime library's execution providers, and one
// timed inference on a synthetic observation. Write prints it; it also
// marshals to JSON.
type Inspection struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Source  string `json:"source"`
	Weights string `json:"weights"` // trained or random
	Layout  string `json:"layout"`

	Cameras []InspectCamera `json:"cameras"`
	State   InspectState    `json:"state"`
	Text    InspectText     `json:"text"`
	Action  InspectAction   `json:"action"`

	Runtime InspectRuntime `json:"runtime"`
	Graphs  []GraphInfo    `json:"graphs"`
	// WeightBytes is the size of every graph's weights in memory
	// (elements × element size), wherever they are stored.
	WeightBytes int64 `json:"weight_bytes"`
	// Infer is the trial inference; nil when the model did not open.
	Infer *InspectInfer `json:"infer,omitempty"`
}

// InspectCamera is one camera: its observation key, the graph input it
// feeds and its size; Normalized when the input is float CHW.
type InspectCamera struct {
	Key        string `json:"key"`
	Input      string `json:"input"`
	Height     int    `json:"height"`
	Width      int    `json:"width"`
	Normalized bool   `json:"normalized"`
}

// InspectState is the state input.
type InspectState struct {
	Key   string `json:"key"`
	Input string `json:"input"`
	Dim   int    `json:"dim"`
}

// InspectText is how the prompt becomes graph inputs.
type InspectText struct {
	Tokenizer string `json:"tokenizer"`
	InputIDs  string `json:"input_ids"`
	Mask      string `json:"mask"`
	MaxTokens int    `json:"max_tokens"`
	Template  string `json:"template,omitempty"`
}

// InspectAction is the action space.
type InspectAction struct {
	Dim      int     `json:"dim"`
	ModelDim int     `json:"model_dim"`
	Horizon  int     `json:"horizon"`
	StepHz   float64 `json:"step_hz"`
	// RobotDims are the graph's dims that are the robot's, in order.
	RobotDims []int `json:"robot_dims"`
	// Normalization is the statistics' kind (bounds_q99, mean_std).
	Normalization string `json:"normalization"`
	// Decoding says how the layout makes a chunk ("vq action tokens",
	// "prefix once, then 10 Euler steps of the step graph, t 1 → 0").
	Decoding string `json:"decoding"`
}

// InspectRuntime is the ONNX Runtime library and its execution providers.
type InspectRuntime struct {
	Version string `json:"version"`
	Library string `json:"library"`
	// Provider is the one the trial inference ran on.
	Provider string `json:"provider"`
	// Compiled lists the providers built into the library, by ONNX
	// Runtime's names; Providers says which of efferent's can start.
	Compiled  []string        `json:"compiled"`
	Providers []ProviderCheck `json:"providers"`
}

// ProviderCheck says whether an execution provider (efferent's name: cpu,
// cuda, tensorrt) can be added to a session here, and if not why.
type ProviderCheck struct {
	Name   string `json:"name"`
	Usable bool   `json:"usable"`
	Error  string `json:"error,omitempty"`
}

// GraphInfo is one ONNX graph the manifest names.
type GraphInfo struct {
	// Field is the manifest key that names the graph ("encoder.file").
	Field string `json:"field"`
	File  string `json:"file"`
	// Bytes is the graph file's size on disk.
	Bytes         int64          `json:"bytes"`
	IRVersion     int64          `json:"ir_version"`
	Opset         int64          `json:"opset"`
	Producer      string         `json:"producer"`
	Inputs        []TensorInfo   `json:"inputs"`
	Outputs       []TensorInfo   `json:"outputs"`
	Tensors       int            `json:"weight_tensors"`
	WeightBytes   int64          `json:"weight_bytes"`
	ExternalBytes int64          `json:"external_weight_bytes"`
	External      []ExternalFile `json:"external,omitempty"`
}

// TensorInfo is a graph input or output: its element type (float32,
// float16, bfloat16, int64, uint8, ...) and shape, each dimension a number
// or the symbolic name the graph gives it ("batch"; "?" when unnamed).
type TensorInfo struct {
	Name  string   `json:"name"`
	Type  string   `json:"type"`
	Shape []string `json:"shape"`
}

// ExternalFile is an external data file beside a graph.
type ExternalFile struct {
	File string `json:"file"` // relative to the graph
	// Bytes is its size on disk; Tensors how many weights it holds.
	Bytes   int64 `json:"bytes"`
	Tensors int   `json:"tensors"`
}

// InspectInfer is the trial inference: the chunk's shape, whether every
// value is finite, and the first (warm-up) and second calls' times.
type InspectInfer struct {
	Prompt   string  `json:"prompt"`
	Horizon  int     `json:"horizon"`
	Dim      int     `json:"dim"`
	Finite   bool    `json:"finite"`
	FirstMS  float64 `json:"first_ms"`
	SecondMS float64 `json:"second_ms"`
}

// Inspect reports on the model m describes: its graphs' inputs, outputs
// and weights (external data files included), the execution providers of
// the ONNX Runtime library conf names, and one inference on a synthetic
// observation (pattern images, zero state, InspectPrompt), opening the
// model as the server would. A graph that disagrees with the manifest is
// an error (ErrGraph) naming the tensor and both shapes or types; so is an
// external data file that is missing or too short. On error the
// Inspection holds what was found before it, for printing beside it.
func Inspect(m *policy.Manifest, conf Conf) (*Inspection, error) {
	conf = conf.WithDefaults()
	if err := conf.Validate(); err != nil {
		return nil, err
	}
	in := newInspection(m)
	lib, err := Init(conf.Library)
	if err != nil {
		return in, err
	}
	in.Runtime = InspectRuntime{Version: RuntimeVersion(), Library: lib, Provider: conf.Provider}
	if in.Runtime.Compiled, err = AvailableProviders(conf.Library); err != nil {
		return in, err
	}
	for _, p := range []string{"cpu", "cuda", "tensorrt"} {
		c := ProviderCheck{Name: p, Usable: true}
		opts, err := NewSessionOptions(Conf{Provider: p, DeviceID: conf.DeviceID, IntraOpThreads: 1}, lib)
		if err != nil {
			c.Usable, c.Error = false, providerReason(err)
		} else {
			opts.Destroy()
		}
		in.Runtime.Providers = append(in.Runtime.Providers, c)
	}
	for _, g := range m.Graphs() {
		gi, err := inspectGraph(m, g.Field, g.File)
		if gi != nil {
			in.Graphs = append(in.Graphs, *gi)
			in.WeightBytes += gi.WeightBytes
		}
		if err != nil {
			return in, err
		}
	}
	pol, err := OpenPolicy(m, conf)
	if err != nil {
		return in, err
	}
	defer pol.Close()
	in.Infer, err = trialInfer(m, pol)
	return in, err
}

func newInspection(m *policy.Manifest) *Inspection {
	a := m.Action
	in := &Inspection{
		Name: m.Name, Version: m.Version, Source: m.Source, Weights: m.Weights, Layout: m.LayoutName(),
		State: InspectState{Key: m.Obs.State.Key, Input: m.Obs.State.Input, Dim: m.Obs.State.Dim},
		Text: InspectText{Tokenizer: m.Text.Tokenizer, InputIDs: m.Text.InputIDs, Mask: m.Text.Mask,
			MaxTokens: m.Text.MaxTokens, Template: m.Text.Template},
		Action: InspectAction{Dim: a.Dim, ModelDim: a.ModelDimOrDim(), RobotDims: a.RobotDimsOrFirst(),
			Horizon: a.Horizon, StepHz: a.StepHz, Normalization: a.Normalization.Kind, Decoding: decoding(m)},
	}
	for i, im := range m.Obs.Images {
		h, w := m.CameraSize(i)
		in.Cameras = append(in.Cameras, InspectCamera{Key: im.Key, Input: im.Input, Height: h, Width: w, Normalized: im.Normalize != nil})
	}
	return in
}

// decoding says in words how m's layout makes a chunk.
func decoding(m *policy.Manifest) string {
	switch f := m.Flow; {
	case m.LayoutName() == policy.LayoutAutoregressive:
		return m.Action.Tokenizer.Kind + " action tokens, one decoder step each"
	case m.LayoutName() == policy.LayoutRegression:
		return "one graph: observation → chunk"
	case f != nil && f.Graph != nil:
		return "one graph: observation + noise → chunk, the denoising loop inside"
	case f != nil:
		from, to := f.Times()
		return fmt.Sprintf("prefix graph once, then %d Euler steps of the step graph, t %g → %g", f.Steps, from, to)
	}
	return m.LayoutName()
}

// providerReason shortens a provider error to ONNX Runtime's own reason.
func providerReason(err error) string {
	s := err.Error()
	for _, sep := range []string{"with error: ", "FAIL : "} {
		if i := strings.LastIndex(s, sep); i >= 0 {
			return s[i+len(sep):]
		}
	}
	return s
}

// inspectGraph reads one graph: ONNX Runtime's view of its inputs and
// outputs (by path for a model directory, so external data loads as it
// will), the file's own (symbolic dimension names, weights, external
// data), and checks that each external data file holds what the graph
// says it does.
func inspectGraph(m *policy.Manifest, field, file string) (*GraphInfo, error) {
	gi := &GraphInfo{Field: field, File: file}
	proto, err := readGraphProto(m, file, gi)
	if err != nil {
		return gi, err
	}
	gi.IRVersion, gi.Opset, gi.Tensors = proto.IRVersion, proto.Opsets[""], proto.Tensors
	gi.Producer = strings.TrimSpace(proto.Producer + " " + proto.ProducerVersion)
	gi.WeightBytes = proto.Bytes
	if gi.External, gi.ExternalBytes, err = checkExternal(m, file, proto.External); err != nil {
		return gi, err
	}
	var ins, outs []onnx.InputOutputInfo
	if p, ok := m.Path(file); ok {
		ins, outs, err = inputOutputInfo(p)
	} else {
		var data []byte
		if data, err = m.ReadFile(file, maxEmbeddedGraphBytes); err != nil {
			return gi, err
		}
		ins, outs, err = onnx.GetInputOutputInfoWithONNXData(data)
	}
	if err != nil {
		return gi, fmt.Errorf("%w: %s: not a loadable ONNX graph: %v", ErrGraph, file, err)
	}
	gi.Inputs = tensorInfos(ins, proto.Inputs)
	gi.Outputs = tensorInfos(outs, proto.Outputs)
	return gi, nil
}

// inputOutputInfo asks ONNX Runtime for a graph's inputs and outputs with
// a throwaway session that skips graph optimisation.
func inputOutputInfo(p string) (ins, outs []onnx.InputOutputInfo, err error) {
	opts, err := onnx.NewSessionOptions()
	if err != nil {
		return nil, nil, err
	}
	defer opts.Destroy()
	if err := opts.SetGraphOptimizationLevel(onnx.GraphOptimizationLevelDisableAll); err != nil {
		return nil, nil, err
	}
	if err := opts.SetIntraOpNumThreads(1); err != nil {
		return nil, nil, err
	}
	return onnx.GetInputOutputInfoWithOptions(p, opts)
}

// readGraphProto parses the graph file's protobuf, without reading its
// weights into memory.
func readGraphProto(m *policy.Manifest, file string, gi *GraphInfo) (*onnxfile.Model, error) {
	f, err := m.FS.Open(file)
	if err != nil {
		return nil, fmt.Errorf("model %s: %s: %w", m.Source, file, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("model %s: %s: %w", m.Source, file, err)
	}
	gi.Bytes = st.Size()
	ra, ok := f.(io.ReaderAt)
	if !ok {
		data, err := m.ReadFile(file, maxEmbeddedGraphBytes)
		if err != nil {
			return nil, err
		}
		ra = bytes.NewReader(data)
	}
	proto, err := onnxfile.Read(ra, st.Size())
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrGraph, file, err)
	}
	return proto, nil
}

// checkExternal groups the graph's external tensors by file and checks
// each file: a relative path inside the model directory, present, and
// long enough for every tensor stored in it. It returns the files and the
// bytes of the tensors stored in them.
func checkExternal(m *policy.Manifest, file string, refs []onnxfile.External) ([]ExternalFile, int64, error) {
	var files []ExternalFile
	var total int64
	index := map[string]int{} // location → files[i]
	for _, r := range refs {
		loc := path.Join(path.Dir(file), r.Location)
		if strings.Contains(r.Location, `\`) || path.IsAbs(r.Location) || !fs.ValidPath(loc) {
			return files, total, fmt.Errorf("%w: %s: tensor %q: external data location %q is not a relative path inside the model directory",
				ErrGraph, file, r.Tensor, r.Location)
		}
		i, seen := index[r.Location]
		if !seen {
			st, err := fs.Stat(m.FS, loc)
			if err != nil {
				return files, total, fmt.Errorf("%w: %s: tensor %q: external data file %s: %v", ErrGraph, file, r.Tensor, r.Location, errors.Unwrap(err))
			}
			i = len(files)
			index[r.Location] = i
			files = append(files, ExternalFile{File: r.Location, Bytes: st.Size()})
		}
		files[i].Tensors++
		size, length := files[i].Bytes, r.Length
		if length < 0 {
			length = size - r.Offset
		}
		if length < 0 || r.Offset+length > size {
			return files, total, fmt.Errorf("%w: %s: tensor %q: external data %s[%d:%d] lies beyond the file's %d bytes",
				ErrGraph, file, r.Tensor, r.Location, r.Offset, r.Offset+max(length, 0), size)
		}
		if r.Bytes >= 0 && r.Length >= 0 && r.Length != r.Bytes {
			return files, total, fmt.Errorf("%w: %s: tensor %q: external data length %d, its shape and type need %d bytes",
				ErrGraph, file, r.Tensor, r.Length, r.Bytes)
		}
		total += max(r.Bytes, 0)
	}
	return files, total, nil
}

// tensorInfos describes ONNX Runtime's inputs or outputs, with the
// symbolic dimension names the file declares.
func tensorInfos(infos []onnx.InputOutputInfo, declared []onnxfile.Value) []TensorInfo {
	out := make([]TensorInfo, 0, len(infos))
	for _, io := range infos {
		t := TensorInfo{Name: io.Name}
		if io.OrtValueType != onnx.ONNXTypeTensor {
			t.Type = strings.ToLower(strings.TrimPrefix(io.OrtValueType.String(), "ONNX_TYPE_"))
			out = append(out, t)
			continue
		}
		t.Type = ElementTypeName(io.DataType)
		var dims []onnxfile.Dim
		if i := slices.IndexFunc(declared, func(v onnxfile.Value) bool { return v.Name == io.Name }); i >= 0 {
			dims = declared[i].Dims
		}
		for k, d := range io.Dimensions {
			switch {
			case d >= 0:
				t.Shape = append(t.Shape, strconv.FormatInt(d, 10))
			case len(dims) == len(io.Dimensions) && dims[k].Param != "":
				t.Shape = append(t.Shape, dims[k].Param)
			default:
				t.Shape = append(t.Shape, "?")
			}
		}
		out = append(out, t)
	}
	return out
}

// ElementTypeName names a tensor element type as efferent prints it:
// float32, float16, bfloat16, int64, uint8, ...
func ElementTypeName(t onnx.TensorElementDataType) string {
	return onnxfile.TypeName(int64(t))
}

// trialInfer runs pol twice on a synthetic observation.
func trialInfer(m *policy.Manifest, pol policy.Policy) (*InspectInfer, error) {
	obs := efferent.Observation{Images: map[string]efferent.Image{}, State: make([]float64, m.Obs.State.Dim),
		Prompt: InspectPrompt, Time: time.Now(), Seq: 1}
	for i, im := range m.Obs.Images {
		h, w := m.CameraSize(i)
		obs.Images[im.Key] = patternImage(h, w, i)
	}
	var ch efferent.Chunk
	r := &InspectInfer{Prompt: InspectPrompt}
	for call := range 2 {
		t0 := time.Now()
		if err := pol.Infer(context.Background(), &obs, &ch); err != nil {
			return nil, fmt.Errorf("model %s: trial inference: %w", m.Name, err)
		}
		ms := float64(time.Since(t0)) / float64(time.Millisecond)
		if call == 0 {
			r.FirstMS = ms
		} else {
			r.SecondMS = ms
		}
	}
	r.Horizon, r.Dim, r.Finite = ch.H, ch.D, len(ch.Actions) == ch.H*ch.D
	for _, a := range ch.Actions {
		if math.IsNaN(a) || math.IsInf(a, 0) {
			r.Finite = false
		}
	}
	return r, nil
}

// patternImage is an RGB test card: gradients that differ per camera.
func patternImage(h, w, camera int) efferent.Image {
	im := efferent.Image{H: h, W: w, C: 3, Pix: make([]byte, h*w*3)}
	for y := range h {
		for x := range w {
			p := im.Pix[(y*w+x)*3:]
			p[0] = byte(x * 255 / max(w-1, 1))
			p[1] = byte(y * 255 / max(h-1, 1))
			p[2] = byte((x/16+y/16)%2*160 + camera*40)
		}
	}
	return im
}

// Write prints the inspection as a human reads it.
func (in *Inspection) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	p := func(key, format string, args ...any) { fmt.Fprintf(tw, "%s\t%s\n", key, fmt.Sprintf(format, args...)) }
	p("model", "%s %s, %s weights (%s)", in.Name, in.Version, in.Weights, in.Source)
	p("layout", "%s (%s)", in.Layout, in.Action.Decoding)
	for _, c := range in.Cameras {
		kind := "uint8 HWC"
		if c.Normalized {
			kind = "float CHW, normalised"
		}
		p("camera", "%s → %s: %dx%d, %s", c.Key, c.Input, c.Height, c.Width, kind)
	}
	p("state", "%s → %s: %d values", in.State.Key, in.State.Input, in.State.Dim)
	p("text", "%s → %s, %s: %d tokens", in.Text.Tokenizer, in.Text.InputIDs, in.Text.Mask, in.Text.MaxTokens)
	if in.Text.Template != "" {
		p("", "template %q", in.Text.Template)
	}
	act := fmt.Sprintf("%d steps × %d dims at %g Hz, %s statistics", in.Action.Horizon, in.Action.Dim, in.Action.StepHz, in.Action.Normalization)
	if in.Action.ModelDim != in.Action.Dim {
		act += fmt.Sprintf("; the graph's %d dims, the robot's %v", in.Action.ModelDim, in.Action.RobotDims)
	}
	p("action", "%s", act)
	if rt := in.Runtime; rt.Version != "" {
		p("onnxruntime", "%s (%s)", rt.Version, rt.Library)
		p("providers", "compiled in: %s", strings.Join(rt.Compiled, ", "))
		for _, c := range rt.Providers {
			if c.Usable {
				p("", "%s: usable", c.Name)
			} else {
				p("", "%s: unusable (%s)", c.Name, c.Error)
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, g := range in.Graphs {
		fmt.Fprintf(w, "\n%s: %s (%s; IR %d, opset %d, %s)\n", g.Field, g.File, humanBytes(g.Bytes), g.IRVersion, g.Opset, orUnknown(g.Producer))
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, side := range []struct {
			name string
			ts   []TensorInfo
		}{{"in", g.Inputs}, {"out", g.Outputs}} {
			for _, t := range side.ts {
				fmt.Fprintf(tw, "  %s\t%s\t%s\t[%s]\n", side.name, t.Name, t.Type, strings.Join(t.Shape, ", "))
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(w, "  weights: %d tensors, %s", g.Tensors, humanBytes(g.WeightBytes))
		if len(g.External) == 0 {
			fmt.Fprintf(w, ", all in the graph file\n")
		} else {
			fmt.Fprintf(w, ", %s of it in external data:\n", humanBytes(g.ExternalBytes))
			for _, e := range g.External {
				fmt.Fprintf(w, "    %s  %s, %d tensors\n", e.File, humanBytes(e.Bytes), e.Tensors)
			}
		}
	}
	graphs := "graphs"
	if len(in.Graphs) == 1 {
		graphs = "graph"
	}
	fmt.Fprintf(w, "\nweights: %s in %d %s\n", humanBytes(in.WeightBytes), len(in.Graphs), graphs)
	if r := in.Infer; r != nil {
		finite := "all finite"
		if !r.Finite {
			finite = "NOT ALL FINITE"
		}
		fmt.Fprintf(w, "inference (%s, %q): chunk %dx%d, %s; first call %.1f ms, second %.1f ms\n",
			in.Runtime.Provider, r.Prompt, r.Horizon, r.Dim, finite, r.FirstMS, r.SecondMS)
	}
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "producer unknown"
	}
	return s
}

// humanBytes prints a size in B, KiB, MiB or GiB.
func humanBytes(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	case n < 1<<30:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	default:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	}
}
