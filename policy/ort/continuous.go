package ort

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync/atomic"
	"time"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/policy"
	"github.com/efferent/efferent/tokenizer/text"
)

// Continuous is a model whose graphs output continuous actions, under ONNX
// Runtime: the flow layout (a prefix graph once, then a step graph
// integrated with Euler from seeded noise; or one graph that takes the
// noise) and the regression layout (one graph). Float tensors may be
// float32, float16 or bfloat16, as each graph declares: efferent computes
// in float32 and converts at the graph's edge. It implements
// policy.Batcher when every graph has a symbolic batch axis. Like every
// Policy it is owned by one goroutine.
type Continuous struct {
	m    *policy.Manifest
	meta policy.Metadata
	tok  *text.Tokenizer

	// main is the regression graph, the flow graph, or the flow prefix;
	// step the flow step graph (nil otherwise).
	main, step                           *graph
	mainIns, mainOuts, stepIns, stepOuts []tensorSpec
	slots                                map[string]*slot

	images          []*slot // per camera, in manifest order
	imageLUT        [][3][256]float32
	state, ids, msk *slot
	// sample is the flow's x (step input) or noise (flow graph); out is
	// the actions (regression, flow graph) or the velocity (step).
	sample, out, tflow *slot

	// guide (flow prefix + step only): real-time chunking's target and
	// weights per valid row, in model units (guideY, guideW: rows of
	// horizon × model_dim); guided says whether any row of the run has
	// a guide (see guide.go).
	guideY, guideW []float32
	guideEps       []float32 // the guided rows' starting noise
	guideOK        []bool
	guided         bool

	// dev holds the tensors the prefix passes to every flow step on a
	// GPU (nil: host memory).
	dev         *device
	provider    string // Conf.Provider
	maxBatch    int
	truncations atomic.Uint64 // prompts cut to text.max_tokens (PromptsTruncated)
	runs        []*contRun    // runs[n-1]: batch size n, made on first use
	rows        []promptRow
	valid       []int
	one         policy.One
	timing      Timing
}

// contRun is the tensors and bindings of one batch size.
type contRun struct {
	vals       []onnx.Value
	main, step *binding
}

// promptRow caches a row's prompt ids: the instruction they were
// encoded from (tokenizing allocates).
type promptRow struct {
	prompt    string
	encoded   bool
	ids       []int64
	truncated bool // ids were cut to text.max_tokens (text.truncation)
}

var _ policy.Batcher = (*Continuous)(nil)

// OpenPolicy opens the model m describes, whatever its layout: a VLA for
// the autoregressive layout, a Continuous for flow and regression.
func OpenPolicy(m *policy.Manifest, conf Conf) (policy.Policy, error) {
	if m.LayoutName() == policy.LayoutAutoregressive {
		return Open(m, conf)
	}
	return OpenContinuous(m, conf)
}

// OpenContinuous loads a flow or regression model and creates its sessions.
func OpenContinuous(m *policy.Manifest, conf Conf) (_ *Continuous, err error) {
	conf, lib, err := prepare(conf)
	if err != nil {
		return nil, err
	}
	c := &Continuous{m: m, meta: m.Metadata(), slots: map[string]*slot{}, provider: conf.Provider}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	if c.tok, err = textTokenizer(m); err != nil {
		return nil, err
	}
	if err := c.describe(); err != nil {
		return nil, err
	}
	c.maxBatch = 1
	if batchDynamic(c.main, c.mainIns, c.mainOuts) && (c.step == nil || batchDynamic(c.step, c.stepIns, c.stepOuts)) {
		c.maxBatch = maxBatchLimit
	}
	if c.dev, err = newDevice(conf, lib); err != nil {
		return nil, err
	}
	if err := c.allocate(); err != nil {
		return nil, err
	}
	c.setProfiles(conf)
	if err := c.main.open(conf, lib, c.mainIns, c.mainOuts); err != nil {
		return nil, err
	}
	if c.step != nil {
		if err := c.step.open(conf, lib, c.stepIns, c.stepOuts); err != nil {
			return nil, err
		}
	}
	// Batch 1 now: a broken binding shows at Open, not at the first request.
	if _, err := c.run(1); err != nil {
		return nil, err
	}
	return c, nil
}

// describe reads the graphs' declarations and makes the tensor specs:
// the observation's inputs, and the layout's own tensors, with each float
// tensor's element type as its graph declares it.
func (c *Continuous) describe() (err error) {
	m := c.m
	H, MD := int64(m.Action.Horizon), int64(m.Action.ModelDimOrDim())
	chunk := []int64{-1, H, MD}
	var mainFile string
	switch {
	case m.Regression != nil:
		mainFile = m.Regression.File
	case m.Flow.Graph != nil:
		mainFile = m.Flow.Graph.File
	default:
		mainFile = m.Flow.Prefix.File
	}
	if c.main, err = describeGraph(m, mainFile); err != nil {
		return err
	}
	if c.mainIns, err = c.observationSpecs(c.main); err != nil {
		return err
	}
	switch {
	case m.Regression != nil:
		s, err := floatSpec(c.main, c.main.outputs, "output", m.Regression.Actions, chunk)
		if err != nil {
			return err
		}
		c.mainOuts = []tensorSpec{s}
	case m.Flow.Graph != nil:
		noise, err := floatSpec(c.main, c.main.inputs, "input", m.Flow.Graph.Noise, chunk)
		if err != nil {
			return err
		}
		actions, err := floatSpec(c.main, c.main.outputs, "output", m.Flow.Graph.Actions, chunk)
		if err != nil {
			return err
		}
		c.mainIns, c.mainOuts = append(c.mainIns, noise), []tensorSpec{actions}
	default:
		return c.describeStep(chunk)
	}
	return nil
}

// describeStep makes the step graph's specs: x, time and velocity, and
// every other input as the prefix output of the same name.
func (c *Continuous) describeStep(chunk []int64) (err error) {
	st := c.m.Flow.Step
	if c.step, err = describeGraph(c.m, st.File); err != nil {
		return err
	}
	x, err := floatSpec(c.step, c.step.inputs, "input", st.X, chunk)
	if err != nil {
		return err
	}
	t, err := floatSpec(c.step, c.step.inputs, "input", st.Time, []int64{-1})
	if err != nil {
		return err
	}
	v, err := floatSpec(c.step, c.step.outputs, "output", st.Velocity, chunk)
	if err != nil {
		return err
	}
	c.stepIns, c.stepOuts = []tensorSpec{x, t}, []tensorSpec{v}
	for _, name := range sortedNames(c.step.inputs) {
		if name == st.X || name == st.Time {
			continue
		}
		out, ok := c.main.outputs[name]
		if !ok {
			return fmt.Errorf("%w: %s: step input %q is not an output of the prefix graph %s (it has %v)",
				ErrGraph, st.File, name, c.main.file, sortedNames(c.main.outputs))
		}
		spec := tensorSpec{name: name, dtype: out.DataType, shape: append([]int64{-1}, out.Dimensions[1:]...)}
		c.mainOuts = append(c.mainOuts, spec)
		c.stepIns = append(c.stepIns, spec)
	}
	return nil
}

// observationSpecs are the inputs every layout's first graph takes:
// cameras, state, and the prompt's ids and mask.
func (c *Continuous) observationSpecs(g *graph) ([]tensorSpec, error) {
	m := c.m
	var specs []tensorSpec
	for i, im := range m.Obs.Images {
		h, w := m.CameraSize(i)
		if im.Normalize == nil {
			specs = append(specs, tensorSpec{name: im.Input, dtype: onnx.TensorElementDataTypeUint8, shape: []int64{-1, int64(h), int64(w), 3}})
			continue
		}
		s, err := floatSpec(g, g.inputs, "input", im.Input, []int64{-1, 3, int64(h), int64(w)})
		if err != nil {
			return nil, err
		}
		specs = append(specs, s)
	}
	st, err := floatSpec(g, g.inputs, "input", m.Obs.State.Input, []int64{-1, int64(m.Obs.State.Dim)})
	if err != nil {
		return nil, err
	}
	T := int64(m.Text.MaxTokens)
	return append(specs, st,
		tensorSpec{name: m.Text.InputIDs, dtype: onnx.TensorElementDataTypeInt64, shape: []int64{-1, T}},
		tensorSpec{name: m.Text.Mask, dtype: onnx.TensorElementDataTypeInt64, shape: []int64{-1, T}}), nil
}

// floatSpec is a float tensor with the element type its graph declares
// (float32 when the graph lacks the tensor: check names it then).
func floatSpec(g *graph, have map[string]onnx.InputOutputInfo, kind, name string, shape []int64) (tensorSpec, error) {
	s := tensorSpec{name: name, dtype: onnx.TensorElementDataTypeFloat, shape: shape}
	if info, ok := have[name]; ok {
		if !isFloat(info.DataType) {
			return s, fmt.Errorf("%w: %s: %s %q has element type %v, want float32, float16 or bfloat16", ErrGraph, g.file, kind, name, info.DataType)
		}
		s.dtype = info.DataType
	}
	return s, nil
}

// batchDynamic reports whether every tensor has a symbolic batch axis.
func batchDynamic(g *graph, ins, outs []tensorSpec) bool {
	for _, specs := range [][]tensorSpec{ins, outs} {
		for _, s := range specs {
			info, ok := g.inputs[s.name]
			if !ok {
				info = g.outputs[s.name]
			}
			if len(info.Dimensions) == 0 || info.Dimensions[0] > 0 {
				return false
			}
		}
	}
	return true
}

// allocate makes a slot for every tensor, for maxBatch rows.
func (c *Continuous) allocate() error {
	m := c.m
	for _, specs := range [][]tensorSpec{c.mainIns, c.mainOuts, c.stepIns, c.stepOuts} {
		for _, s := range specs {
			if _, ok := c.slots[s.name]; ok {
				continue
			}
			var shape []int64
			if info, ok := c.graphInfo(s.name); ok && len(info.Dimensions) == len(s.shape) {
				// The graph's fixed sizes (a prefix output's length) where
				// the manifest implies none.
				shape = make([]int64, len(s.shape)-1)
				for i := range shape {
					shape[i] = max(s.shape[i+1], info.Dimensions[i+1])
				}
			} else {
				shape = s.shape[1:]
			}
			sl, err := newSlot(s.name, s.dtype, shape, c.maxBatch)
			if err != nil {
				return err
			}
			c.slots[s.name] = sl
		}
	}
	c.images = make([]*slot, len(m.Obs.Images))
	c.imageLUT = make([][3][256]float32, len(m.Obs.Images))
	for i, im := range m.Obs.Images {
		c.images[i] = c.slots[im.Input]
		if n := im.Normalize; n != nil {
			for ch := range 3 {
				for p := range 256 {
					c.imageLUT[i][ch][p] = float32((float64(p)/255 - n.Mean[ch]) / n.Std[ch])
				}
			}
		}
	}
	c.state, c.ids, c.msk = c.slots[m.Obs.State.Input], c.slots[m.Text.InputIDs], c.slots[m.Text.Mask]
	switch {
	case m.Regression != nil:
		c.out = c.slots[m.Regression.Actions]
	case m.Flow.Graph != nil:
		c.sample, c.out = c.slots[m.Flow.Graph.Noise], c.slots[m.Flow.Graph.Actions]
	default:
		c.sample, c.tflow, c.out = c.slots[m.Flow.Step.X], c.slots[m.Flow.Step.Time], c.slots[m.Flow.Step.Velocity]
		HM := m.Action.Horizon * m.Action.ModelDimOrDim()
		c.guideY, c.guideW = make([]float32, c.maxBatch*HM), make([]float32, c.maxBatch*HM)
		c.guideOK, c.guideEps = make([]bool, m.Action.ModelDimOrDim()), make([]float32, c.maxBatch*HM)
		c.meta.Guides = true
	}
	for _, s := range c.resident() {
		if err := s.toDevice(c.dev, c.maxBatch); err != nil {
			return err
		}
	}
	return nil
}

// resident are the slots a device keeps: what the prefix graph writes and
// the step graph reads, that Go neither writes nor reads.
func (c *Continuous) resident() []*slot {
	if c.dev == nil || c.step == nil {
		return nil
	}
	goSide := []*slot{c.state, c.ids, c.msk, c.sample, c.tflow, c.out}
	goSide = append(goSide, c.images...)
	var out []*slot
	for _, in := range c.stepIns {
		s := c.slots[in.name]
		if slices.ContainsFunc(c.mainOuts, func(o tensorSpec) bool { return o.name == in.name }) && !slices.Contains(goSide, s) {
			out = append(out, s)
		}
	}
	return out
}

// setProfiles gives TensorRT each graph's batch range, the only
// dimension that varies.
func (c *Continuous) setProfiles(conf Conf) {
	if conf.Provider != "tensorrt" {
		return // only TensorRT reads them
	}
	maxB := int64(min(c.maxBatch, conf.TensorRT.MaxBatch))
	prof := func(g *graph, ins []tensorSpec) *shapeProfile {
		at := func(b int64) []tensorSpec {
			var out []tensorSpec
			for _, s := range dynamicInputs(g, ins) {
				out = append(out, tensorSpec{s.name, s.dtype, append([]int64{b}, c.slots[s.name].shape...)})
			}
			return out
		}
		return &shapeProfile{min: at(1), opt: at(1), max: at(maxB)}
	}
	c.main.prof = prof(c.main, c.mainIns)
	if c.step != nil {
		c.step.prof = prof(c.step, c.stepIns)
	}
}

// graphInfo is a tensor's declaration in either graph.
func (c *Continuous) graphInfo(name string) (onnx.InputOutputInfo, bool) {
	for _, g := range []*graph{c.main, c.step} {
		if g == nil {
			continue
		}
		if info, ok := g.inputs[name]; ok {
			return info, true
		}
		if info, ok := g.outputs[name]; ok {
			return info, true
		}
	}
	return onnx.InputOutputInfo{}, false
}

// run returns batch size n's tensors and bindings, made on first use.
func (c *Continuous) run(n int) (_ *contRun, err error) {
	for len(c.runs) < n {
		c.runs = append(c.runs, nil)
	}
	if r := c.runs[n-1]; r != nil {
		return r, nil
	}
	r := &contRun{}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	vals := map[string]onnx.Value{}
	for name, s := range c.slots {
		v, err := s.value(n)
		if err != nil {
			return nil, fmt.Errorf("%w: tensor %q: %v", ErrGraph, name, err)
		}
		vals[name] = v
		r.vals = append(r.vals, v)
	}
	pick := func(specs []tensorSpec) []onnx.Value {
		out := make([]onnx.Value, len(specs))
		for i, s := range specs {
			out[i] = vals[s.name]
		}
		return out
	}
	if r.main, err = bind(c.main, c.mainIns, c.mainOuts, pick(c.mainIns), pick(c.mainOuts)); err != nil {
		return nil, err
	}
	if c.step != nil {
		if r.step, err = bind(c.step, c.stepIns, c.stepOuts, pick(c.stepIns), pick(c.stepOuts)); err != nil {
			return nil, err
		}
	}
	c.runs[n-1] = r
	return r, nil
}

func (r *contRun) close() {
	r.main.close()
	r.step.close()
	for _, v := range r.vals {
		v.Destroy()
	}
}

// Metadata implements policy.Policy.
func (c *Continuous) Metadata() policy.Metadata { return c.meta }

// Manifest returns the model's manifest.
func (c *Continuous) Manifest() *policy.Manifest { return c.m }

// MaxBatch implements policy.Batcher.
func (c *Continuous) MaxBatch() int { return c.maxBatch }

// LastTiming returns the stages of the last Infer or InferBatch group: the
// first graph as Encoder, each flow step as a Step.
func (c *Continuous) LastTiming() Timing { return c.timing }

// Infer implements policy.Policy: a batch of one. Images must already
// have each camera's size (see policy.Resizing).
func (c *Continuous) Infer(ctx context.Context, obs *efferent.Observation, out *efferent.Chunk) error {
	return c.one.Infer(ctx, c, obs, out)
}

// InferBatch implements policy.Batcher.
func (c *Continuous) InferBatch(ctx context.Context, obs []*efferent.Observation, out []*efferent.Chunk, errs []error) {
	inGroups(ctx, c.maxBatch, obs, out, errs, c.inferGroup)
}

// inGroups answers a batch in groups of at most max rows, one group's run
// after another.
func inGroups(ctx context.Context, max int, obs []*efferent.Observation, out []*efferent.Chunk, errs []error,
	group func(context.Context, []*efferent.Observation, []*efferent.Chunk, []error)) {
	if len(out) != len(obs) || len(errs) != len(obs) {
		policy.InferBatch(ctx, nil, obs, out, errs) // reports the mismatch
		return
	}
	for i := 0; i < len(obs); i += max {
		j := min(i+max, len(obs))
		group(ctx, obs[i:j], out[i:j], errs[i:j])
	}
}

func (c *Continuous) inferGroup(ctx context.Context, obs []*efferent.Observation, out []*efferent.Chunk, errs []error) {
	for len(c.rows) < len(obs) {
		c.rows = append(c.rows, promptRow{ids: make([]int64, 0, c.m.Text.MaxTokens+8)})
	}
	c.valid = c.valid[:0]
	for i, o := range obs {
		if errs[i] = checkObservation(c.m, c.tok, o, &c.rows[i], &c.truncations); errs[i] == nil {
			c.valid = append(c.valid, i)
		}
	}
	if len(c.valid) == 0 {
		return
	}
	start := time.Now()
	defer func() { c.timing.Total = time.Since(start) }()
	if err := c.runRows(ctx, obs); err != nil {
		for _, i := range c.valid {
			errs[i] = err
		}
		return
	}
	a := c.m.Action
	H, D, MD := a.Horizon, a.Dim, a.ModelDimOrDim()
	raw := c.out.f32
	if c.step != nil {
		raw = c.sample.f32 // the integrated sample
	}
	for j, i := range c.valid {
		ch := out[i]
		if cap(ch.Actions) < H*D {
			ch.Actions = make([]float64, H*D)
		}
		ch.Actions = ch.Actions[:H*D]
		row := raw[j*H*MD : (j+1)*H*MD]
		bad := false
		for h := range H {
			a.Unnormalize(row[h*MD:(h+1)*MD], ch.Actions[h*D:(h+1)*D])
		}
		for _, x := range ch.Actions {
			bad = bad || math.IsNaN(x) || math.IsInf(x, 0)
		}
		if bad {
			errs[i] = fmt.Errorf("%w: model %s answered non-finite actions", ErrGraph, c.m.Name)
			continue
		}
		ch.H, ch.D = H, D
		ch.Tokens = ch.Tokens[:0]
		ch.ObsTime, ch.Seq = obs[i].Time, obs[i].Seq
		ch.Model = c.m.Name
		ch.StepPeriod = c.meta.StepPeriod
	}
}

// runRows writes the valid rows' observations and runs the graphs: the
// flow's Euler steps, if any, leave the chunk in the sample.
func (c *Continuous) runRows(ctx context.Context, obs []*efferent.Observation) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	n := len(c.valid)
	r, err := c.run(n)
	if err != nil {
		return err
	}
	HM := c.m.Action.Horizon * c.m.Action.ModelDimOrDim()
	c.guided = false
	for j, i := range c.valid {
		c.write(j, obs[i], c.rows[i].ids)
		if c.sample != nil {
			row := c.sample.f32[j*HM : (j+1)*HM]
			policy.FlowNoise(c.m.Flow.Seed+obs[i].Seq, row)
			if k := float32(c.m.Flow.Noise()); k != 1 {
				for x := range row {
					row[x] *= k
				}
			}
		}
		if c.guideW != nil {
			c.guided = c.setGuide(j, &obs[i].Guide) || c.guided
		}
	}
	if c.guided {
		copy(c.guideEps, c.sample.f32[:n*HM])
	}
	for _, s := range c.images {
		s.put(n)
	}
	c.state.put(n)
	if c.sample != nil && c.step == nil {
		c.sample.put(n)
	}
	t0 := time.Now()
	if err := r.main.run(); err != nil {
		return err
	}
	c.timing.Encoder, c.timing.NSteps = time.Since(t0), 0
	if c.step == nil {
		c.out.get(n)
		return nil
	}
	return c.integrate(ctx, r, n)
}

// integrate runs the flow's Euler steps: x ← x + dt·v(x, t).
func (c *Continuous) integrate(ctx context.Context, r *contRun, n int) error {
	f := c.m.Flow
	from, to := f.Times()
	dt := (to - from) / float64(f.Steps)
	x, v := c.sample.f32[:n*c.sample.elems], c.out.f32[:n*c.out.elems]
	for k := range f.Steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		t := from + float64(k)*dt
		for j := range n {
			c.tflow.f32[j] = float32(t)
		}
		c.tflow.put(n)
		c.sample.put(n)
		ts := time.Now()
		if err := r.step.run(); err != nil {
			return err
		}
		if k < maxTimedSteps {
			c.timing.Steps[k] = time.Since(ts)
			c.timing.NSteps = k + 1
		}
		c.out.get(n)
		if c.guided {
			next := from + float64(k+1)*dt
			c.applyGuide(x, v, c.guideEps[:len(x)], dt, (next-to)/(from-to))
			continue
		}
		d := float32(dt)
		for i := range x {
			x[i] += d * v[i]
		}
	}
	return nil
}

// textTokenizer parses the model's text.tokenizer.
func textTokenizer(m *policy.Manifest) (*text.Tokenizer, error) {
	data, err := m.ReadFile(m.Text.Tokenizer, maxTokenizerBytes)
	if err != nil {
		return nil, err
	}
	tok, err := text.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("model %s: text.tokenizer %s: %w", m.Source, m.Text.Tokenizer, err)
	}
	return tok, nil
}

// checkObservation validates obs against the manifest (each camera at its
// size, the state, the prompt) and tokenizes its prompt into row.ids: the
// same for every layout.
func checkObservation(m *policy.Manifest, tok *text.Tokenizer, obs *efferent.Observation, row *promptRow, truncations *atomic.Uint64) error {
	for i, spec := range m.Obs.Images {
		im, ok := obs.Images[spec.Key]
		if !ok {
			return fmt.Errorf("%w: image %q missing", ErrObservation, spec.Key)
		}
		if err := im.Validate(); err != nil {
			return fmt.Errorf("%w: image %q: %v", ErrObservation, spec.Key, err)
		}
		if h, w := m.CameraSize(i); im.H != h || im.W != w || im.C != 3 {
			return fmt.Errorf("%w: image %q is %dx%dx%d, model needs %dx%dx3", ErrObservation, spec.Key, im.H, im.W, im.C, h, w)
		}
	}
	if len(obs.State) != m.Obs.State.Dim {
		return fmt.Errorf("%w: state %q has %d values, model needs %d", ErrObservation, m.Obs.State.Key, len(obs.State), m.Obs.State.Dim)
	}
	for i, x := range obs.State {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%w: state %q[%d] is %v", ErrObservation, m.Obs.State.Key, i, x)
		}
		if math.Abs(x) > policy.MaxStateMagnitude {
			return fmt.Errorf("%w: state %q[%d] is %g, beyond ±%g (policy.MaxStateMagnitude)", ErrObservation, m.Obs.State.Key, i, x, policy.MaxStateMagnitude)
		}
	}
	if obs.Prompt == "" && m.Obs.Prompt.Required {
		return fmt.Errorf("%w: prompt %q is required", ErrObservation, m.Obs.Prompt.Key)
	}
	if !row.encoded || obs.Prompt != row.prompt {
		// A robot sends the same instruction for a whole episode, and
		// re-tokenizing it (BPE allocates) would be the only allocation
		// left per row.
		var err error
		row.encoded = false
		if row.ids, err = tok.AppendEncode(row.ids[:0], m.PromptText(obs.Prompt), m.Text.AddSpecial); err != nil {
			return fmt.Errorf("%w: prompt: %v", ErrObservation, err)
		}
		row.prompt, row.encoded, row.truncated = obs.Prompt, true, false
		if n, limit := len(row.ids), m.Text.MaxTokens; n > limit {
			switch m.Text.TruncationOrDefault() {
			case policy.TruncateRefuse:
				row.encoded = false
				return fmt.Errorf("%w: prompt is %d tokens, model accepts at most %d (text.truncation: refuse)", ErrObservation, n, limit)
			case policy.TruncateLeft:
				row.ids = append(row.ids[:0], row.ids[n-limit:]...)
			default:
				row.ids = row.ids[:limit]
			}
			row.truncated = true
		}
	}
	if row.truncated {
		// Every answer from a cut instruction is counted, not only the
		// first: the count is what a dashboard shows.
		truncations.Add(1)
	}
	return nil
}

// write copies a checked observation into row j of the input slots.
func (c *Continuous) write(j int, obs *efferent.Observation, ids []int64) {
	m := c.m
	for ci, spec := range m.Obs.Images {
		s, pix := c.images[ci], obs.Images[spec.Key].Pix
		if s.u8 != nil {
			copy(s.u8[j*s.elems:(j+1)*s.elems], pix)
			continue
		}
		// HWC bytes → CHW floats through the camera's lookup table.
		dst, lut, hw := s.f32[j*s.elems:(j+1)*s.elems], &c.imageLUT[ci], s.elems/3
		for p := range hw {
			dst[p] = lut[0][pix[3*p]]
			dst[hw+p] = lut[1][pix[3*p+1]]
			dst[2*hw+p] = lut[2][pix[3*p+2]]
		}
	}
	sd := m.Obs.State.Dim
	st := c.state.f32[j*sd : (j+1)*sd]
	for i, x := range obs.State {
		st[i] = float32(x)
	}
	T := m.Text.MaxTokens
	tid, tmask := c.ids.i64[j*T:(j+1)*T], c.msk.i64[j*T:(j+1)*T]
	for i := range tid {
		if i < len(ids) {
			tid[i], tmask[i] = ids[i], 1
		} else {
			tid[i], tmask[i] = m.Text.PadID, 0
		}
	}
}

// PromptsTruncated implements policy.PromptTruncator.
func (c *Continuous) PromptsTruncated() uint64 { return c.truncations.Load() }

// Close implements policy.Policy.
func (c *Continuous) Close() error {
	for _, r := range c.runs {
		if r != nil {
			r.close()
		}
	}
	c.runs = nil
	for _, s := range c.slots {
		s.release()
	}
	c.main.close()
	c.step.close()
	return nil
}
