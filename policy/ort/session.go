package ort

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/efferent/efferent/internal/onnxfile"
	"github.com/efferent/efferent/policy"
)

// ErrGraph is wrapped when a graph does not match its manifest (a tensor is
// missing, or has the wrong element type or a fixed dimension that
// disagrees) or fails to run.
var ErrGraph = errors.New("model graph mismatch")

// ErrProvider is wrapped when the requested execution provider is not
// available in the loaded ONNX Runtime library.
var ErrProvider = errors.New("execution provider unavailable")

// maxEmbeddedGraphBytes bounds a graph read into memory: only embedded
// models are (a model directory's graphs load by path, external data and
// all, with no cap).
const maxEmbeddedGraphBytes = 2 << 30

// graph is one ONNX session with its tensor metadata.
type graph struct {
	file    string
	path    string // the graph's path, loaded by path; "" for an embedded model
	data    []byte // an embedded graph's bytes, until its session exists
	sess    *onnx.DynamicAdvancedSession
	inputs  map[string]onnx.InputOutputInfo
	outputs map[string]onnx.InputOutputInfo
	// prof is the inputs' shape range, for TensorRT (set before open;
	// nil: none given).
	prof *shapeProfile
}

// tensorSpec is what the manifest says a tensor is: its element type and
// shape, -1 where the dimension varies.
type tensorSpec struct {
	name  string
	dtype onnx.TensorElementDataType
	shape []int64
}

// openGraph creates a session for file with the named inputs and outputs,
// after checking each against what the graph declares.
func openGraph(m *policy.Manifest, file string, conf Conf, library string, ins, outs []tensorSpec) (*graph, error) {
	g, err := describeGraph(m, file)
	if err != nil {
		return nil, err
	}
	if err := g.open(conf, library, ins, outs); err != nil {
		return nil, err
	}
	return g, nil
}

// describeGraph reads a graph's declared inputs and outputs from its
// file (internal/onnxfile), without a session, so that no weights are
// loaded for it: by path for a model directory, from memory for an
// embedded model. A file onnxfile cannot describe alone (IR before 4
// lists weights among the inputs; a value without a tensor shape) is asked
// of ONNX Runtime instead.
func describeGraph(m *policy.Manifest, file string) (*graph, error) {
	g := &graph{file: file}
	var r io.ReaderAt
	var size int64
	if path, ok := m.Path(file); ok {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrGraph, file, err)
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrGraph, file, err)
		}
		g.path, r, size = path, f, st.Size()
	} else {
		var err error
		if g.data, err = m.ReadFile(file, maxEmbeddedGraphBytes); err != nil {
			return nil, err
		}
		r, size = bytes.NewReader(g.data), int64(len(g.data))
	}
	if model, err := onnxfile.Read(r, size); err == nil && model.IRVersion >= 4 {
		if ins, ok := ortInfos(model.Inputs); ok {
			if outs, ok := ortInfos(model.Outputs); ok {
				g.inputs, g.outputs = index(ins), index(outs)
				return g, nil
			}
		}
	}
	var inInfo, outInfo []onnx.InputOutputInfo
	var err error
	if g.path != "" {
		inInfo, outInfo, err = onnx.GetInputOutputInfo(g.path)
	} else {
		inInfo, outInfo, err = onnx.GetInputOutputInfoWithONNXData(g.data)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: not a loadable ONNX graph: %v", ErrGraph, file, err)
	}
	g.inputs, g.outputs = index(inInfo), index(outInfo)
	return g, nil
}

// ortInfos are onnxfile's values as ONNX Runtime would describe them
// (a symbolic or unknown dimension is -1); false when one is not a tensor
// with a shape.
func ortInfos(vals []onnxfile.Value) ([]onnx.InputOutputInfo, bool) {
	out := make([]onnx.InputOutputInfo, len(vals))
	for i, v := range vals {
		if v.ElemType == 0 || !v.HasShape {
			return nil, false
		}
		dims := make([]int64, len(v.Dims))
		for j, d := range v.Dims {
			dims[j] = -1
			if d.Known {
				dims[j] = d.Value
			}
		}
		out[i] = onnx.InputOutputInfo{Name: v.Name, OrtValueType: onnx.ONNXTypeTensor,
			DataType: onnx.TensorElementDataType(v.ElemType), Dimensions: dims}
	}
	return out, true
}

// matches checks ins and outs against the graph's declarations.
func (g *graph) matches(ins, outs []tensorSpec) error {
	if err := check(g.file, "input", g.inputs, ins); err != nil {
		return err
	}
	if err := check(g.file, "output", g.outputs, outs); err != nil {
		return err
	}
	if len(ins) != len(g.inputs) {
		return fmt.Errorf("%w: %s: graph has inputs %v, manifest feeds only %v", ErrGraph, g.file, slices.Sorted(maps.Keys(g.inputs)), names(ins))
	}
	return nil
}

// open checks ins and outs against the graph's declarations and creates
// its session.
func (g *graph) open(conf Conf, library string, ins, outs []tensorSpec) error {
	if err := g.matches(ins, outs); err != nil {
		return err
	}
	opts, err := sessionOptions(conf, library, g.prof)
	if err != nil {
		return err
	}
	defer opts.Destroy()
	if g.path != "" {
		g.sess, err = onnx.NewDynamicAdvancedSession(g.path, names(ins), names(outs), opts)
	} else {
		g.sess, err = onnx.NewDynamicAdvancedSessionWithONNXData(g.data, names(ins), names(outs), opts)
	}
	g.data = nil // the session has its own copy
	if err != nil {
		return fmt.Errorf("%w: %s: creating session: %v", ErrGraph, g.file, err)
	}
	return nil
}

func (g *graph) close() {
	if g != nil && g.sess != nil {
		g.sess.Destroy()
		g.sess = nil
	}
}

func index(infos []onnx.InputOutputInfo) map[string]onnx.InputOutputInfo {
	m := make(map[string]onnx.InputOutputInfo, len(infos))
	for _, in := range infos {
		m[in.Name] = in
	}
	return m
}

func names(specs []tensorSpec) []string {
	n := make([]string, len(specs))
	for i, s := range specs {
		n[i] = s.name
	}
	return n
}

// check compares the manifest's expectations with the graph's declarations.
// A graph dimension that is symbolic (<= 0) matches anything; a fixed one
// must equal the manifest's, unless the manifest's is -1 (varies per call).
func check(file, kind string, have map[string]onnx.InputOutputInfo, want []tensorSpec) error {
	for _, w := range want {
		h, ok := have[w.name]
		if !ok {
			return fmt.Errorf("%w: %s: no %s named %q (graph has %v)", ErrGraph, file, kind, w.name, slices.Sorted(maps.Keys(have)))
		}
		if h.OrtValueType != onnx.ONNXTypeTensor {
			return fmt.Errorf("%w: %s: %s %q is a %v, want a tensor", ErrGraph, file, kind, w.name, h.OrtValueType)
		}
		if h.DataType != w.dtype {
			return fmt.Errorf("%w: %s: %s %q has element type %v, want %v", ErrGraph, file, kind, w.name, h.DataType, w.dtype)
		}
		if len(h.Dimensions) != len(w.shape) {
			return fmt.Errorf("%w: %s: %s %q has shape %v, want rank %d %s", ErrGraph, file, kind, w.name, h.Dimensions, len(w.shape), shapeString(w.shape))
		}
		for i, d := range h.Dimensions {
			if d > 0 && w.shape[i] > 0 && d != w.shape[i] {
				return fmt.Errorf("%w: %s: %s %q has shape %v, manifest implies %s", ErrGraph, file, kind, w.name, h.Dimensions, shapeString(w.shape))
			}
		}
	}
	return nil
}

func shapeString(s []int64) string {
	b := []byte{'['}
	for i, d := range s {
		if i > 0 {
			b = append(b, ", "...)
		}
		if d < 0 {
			b = append(b, '?')
		} else {
			b = strconv.AppendInt(b, d, 10)
		}
	}
	return string(append(b, ']'))
}

// NewSessionOptions returns ONNX Runtime session options for conf
// (threads, optimisation level and the execution provider, refusing a
// provider that cannot start with the reason) — the same for every graph
// efferent runs, policies or detectors. The caller destroys them.
func NewSessionOptions(conf Conf, library string) (*onnx.SessionOptions, error) {
	return sessionOptions(conf, library, nil)
}

// shapeProfile is the smallest, typical and largest shapes a graph's
// inputs take, for TensorRT's optimisation profile: every shape efferent
// runs lies between min and max, so no run rebuilds an engine.
type shapeProfile struct {
	min, opt, max []tensorSpec
}

func sessionOptions(conf Conf, library string, prof *shapeProfile) (*onnx.SessionOptions, error) {
	opts, err := onnx.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("ort: session options: %w", err)
	}
	fail := func(err error) (*onnx.SessionOptions, error) {
		opts.Destroy()
		return nil, err
	}
	if err := opts.SetIntraOpNumThreads(conf.IntraOpThreads); err != nil {
		return fail(fmt.Errorf("ort: intra_op_threads: %w", err))
	}
	level := onnx.GraphOptimizationLevel(onnx.GraphOptimizationLevelEnableAll)
	switch conf.Optimization {
	case "extended":
		level = onnx.GraphOptimizationLevelEnableExtended
	case "basic":
		level = onnx.GraphOptimizationLevelEnableBasic
	case "disabled":
		level = onnx.GraphOptimizationLevelDisableAll
	}
	if err := opts.SetGraphOptimizationLevel(level); err != nil {
		return fail(fmt.Errorf("ort: optimization: %w", err))
	}
	// One inference at a time per session: inter-op parallelism only adds
	// thread wake-ups on a small graph.
	if err := opts.SetInterOpNumThreads(1); err != nil {
		return fail(fmt.Errorf("ort: inter-op threads: %w", err))
	}
	if conf.Spinning != nil {
		if err := opts.AddSessionConfigEntry("session.intra_op.allow_spinning", boolOption(*conf.Spinning)); err != nil {
			return fail(fmt.Errorf("ort: spinning: %w", err))
		}
	}
	sel, err := selectProvider(conf, library)
	if err != nil {
		return fail(err)
	}
	if sel.name == "cpu" {
		return opts, nil
	}
	po, err := providerOptions(conf, prof)
	if err != nil {
		return fail(err)
	}
	if !sel.compiled {
		if err := appendEPDevice(opts, sel.env, sel.dev, po); err != nil {
			return fail(fmt.Errorf("%w: %s: %s: %v", ErrProvider, conf.Provider, sel.dev, err))
		}
		return opts, nil
	}
	// Compiled into the library (an onnxruntime-gpu build, or a provider
	// bridge whose libraries may be missing).
	po["device_id"] = strconv.Itoa(conf.DeviceID)
	if err := appendCompiled(opts, conf.Provider, po); err != nil {
		return fail(fmt.Errorf("%w: %s: the library at %s lists it but cannot start it: %v; "+
			"`make setup GPU=1` installs ONNX Runtime %s with the CUDA and TensorRT plugins: set ort.library to %s",
			ErrProvider, conf.Provider, library, providerReason(err), GPUVersion, gpuLibraryHint()))
	}
	return opts, nil
}

// appendCompiled adds a provider compiled into the library, through its
// own Append call.
func appendCompiled(opts *onnx.SessionOptions, provider string, po map[string]string) error {
	if provider == "cuda" {
		co, err := onnx.NewCUDAProviderOptions()
		if err != nil {
			return err
		}
		defer co.Destroy()
		if err := co.Update(po); err != nil {
			return err
		}
		return opts.AppendExecutionProviderCUDA(co)
	}
	to, err := onnx.NewTensorRTProviderOptions()
	if err != nil {
		return err
	}
	defer to.Destroy()
	if err := to.Update(po); err != nil {
		return err
	}
	return opts.AppendExecutionProviderTensorRT(to)
}

// providerOptions are the GPU provider's options, as ONNX Runtime names
// them. TensorRT: float16, the engine and timing caches, and the
// optimisation profile of the graph's dynamic inputs.
func providerOptions(conf Conf, prof *shapeProfile) (map[string]string, error) {
	o := map[string]string{}
	if conf.Provider != "tensorrt" {
		return o, nil
	}
	// NewSessionOptions' callers may not have filled the defaults.
	t := Conf{TensorRT: conf.TensorRT}.WithDefaults().TensorRT
	if err := os.MkdirAll(t.EngineCache, 0o755); err != nil {
		return nil, fmt.Errorf("ort.tensorrt.engine_cache: %w", err)
	}
	o["trt_fp16_enable"] = boolOption(*t.FP16)
	o["trt_engine_cache_enable"] = "1"
	o["trt_engine_cache_path"] = t.EngineCache
	o["trt_timing_cache_enable"] = "1"
	o["trt_timing_cache_path"] = t.EngineCache
	if prof != nil && len(prof.min) > 0 {
		o["trt_profile_min_shapes"] = profileShapes(prof.min)
		o["trt_profile_opt_shapes"] = profileShapes(prof.opt)
		o["trt_profile_max_shapes"] = profileShapes(prof.max)
	}
	return o, nil
}

func boolOption(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// profileShapes writes specs as TensorRT's profile option does:
// "name:1x8x56x64,name2:1x1".
func profileShapes(specs []tensorSpec) string {
	var b strings.Builder
	for i, s := range specs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s.name)
		b.WriteByte(':')
		for j, d := range s.shape {
			if j > 0 {
				b.WriteByte('x')
			}
			b.WriteString(strconv.FormatInt(d, 10))
		}
	}
	return b.String()
}

// dynamicInputs keeps the specs of inputs that g declares with a symbolic
// dimension (TensorRT wants a profile for exactly those).
func dynamicInputs(g *graph, specs []tensorSpec) []tensorSpec {
	var out []tensorSpec
	for _, s := range specs {
		if info, ok := g.inputs[s.name]; ok && slices.ContainsFunc(info.Dimensions, func(d int64) bool { return d <= 0 }) {
			out = append(out, s)
		}
	}
	return out
}

// binding is an IoBinding whose inputs and outputs are bound once; a run
// is then a single C call with no Go allocation.
type binding struct {
	g *graph
	b *onnx.IoBinding
}

func bind(g *graph, ins, outs []tensorSpec, inVals, outVals []onnx.Value) (*binding, error) {
	b, err := g.sess.CreateIoBinding()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: io binding: %v", ErrGraph, g.file, err)
	}
	for i, s := range ins {
		if err := b.BindInput(s.name, inVals[i]); err != nil {
			b.Destroy()
			return nil, fmt.Errorf("%w: %s: binding input %q: %v", ErrGraph, g.file, s.name, err)
		}
	}
	for i, s := range outs {
		if err := b.BindOutput(s.name, outVals[i]); err != nil {
			b.Destroy()
			return nil, fmt.Errorf("%w: %s: binding output %q: %v", ErrGraph, g.file, s.name, err)
		}
	}
	return &binding{g: g, b: b}, nil
}

func (b *binding) run() error {
	if err := b.g.sess.RunWithBinding(b.b); err != nil {
		return fmt.Errorf("%w: %s: run: %v", ErrGraph, b.g.file, err)
	}
	return nil
}

func (b *binding) close() {
	if b != nil && b.b != nil {
		b.b.Destroy()
		b.b = nil
	}
}

// sortedNames are a graph's tensor names in order.
func sortedNames(m map[string]onnx.InputOutputInfo) []string { return slices.Sorted(maps.Keys(m)) }
