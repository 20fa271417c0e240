package ort

import (
	"fmt"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/efferent/efferent/policy"
)

// maxBatchLimit bounds the rows of one model run (and so the memory held
// for them); InferBatch runs larger batches in groups.
const maxBatchLimit = 64

// arena is the memory every batch size's tensors are views of. Tensors are
// row-major with the batch first, so row j sits at the same offset whatever
// the batch size; and one batch runs at a time, so the sizes can share it.
// A model that answers batches of 1 to 16 holds the memory of 16 rows once,
// not of 1+2+...+16.
//
// The state, the logits and the key/values are of the element type the
// graphs declare (float32, float16 or bfloat16): state and logits have a
// float32 view converted at the graph's edge; the key/values go from one
// graph to the next untouched, and have none.
type arena struct {
	rows                          int
	images                        [][]uint8
	state                         *slot
	textIDs, textMask, prefixMask []int64
	inputID, position             []int64
	attn                          [][]int64 // attn[s]: decoder step s's attention mask
	logits                        *slot     // one step's logits
	kv                            [][]*slot // kv[0]: encoder presents; kv[s+1]: step s presents
}

// dtypes are the element types of the autoregressive layout's float
// tensors, as the graphs declare them.
type dtypes struct {
	state, kv, logits onnx.TensorElementDataType
}

// geometry is the per-row size of every tensor.
type geometry struct {
	image, state, text, prefix, vocab int
	heads, headDim, layers, steps     int
}

func (g geometry) kvRow(past int) int { return g.heads * past * g.headDim }

// batchRun is the tensors and IO bindings of one batch size n, views of
// the VLA's arena.
type batchRun struct {
	n          int
	images     []*onnx.Tensor[uint8]
	state      onnx.Value
	textIDs    *onnx.Tensor[int64]
	textMask   *onnx.Tensor[int64]
	prefixMask *onnx.Tensor[int64]
	enc        *binding

	// Decoder: one binding per action token. The present key/values written
	// by step s are bound as the past of step s+1.
	inputID, position *onnx.Tensor[int64]
	attn              []*onnx.Tensor[int64]
	logits            onnx.Value
	kv                [][]onnx.Value
	steps             []*binding
}

// encoderSpecs are the encoder's inputs and outputs for batch b (-1: any).
func (v *VLA) encoderSpecs(b int64) (ins, outs []tensorSpec) {
	m := v.m
	h, w := int64(m.Obs.ImageHeight), int64(m.Obs.ImageWidth)
	T, P := int64(m.Text.MaxTokens), int64(m.Encoder.PrefixLen)
	d := m.Decoder
	for _, im := range m.Obs.Images {
		ins = append(ins, tensorSpec{im.Input, onnx.TensorElementDataTypeUint8, []int64{b, h, w, 3}})
	}
	ins = append(ins,
		tensorSpec{m.Obs.State.Input, v.dt.state, []int64{b, int64(m.Obs.State.Dim)}},
		tensorSpec{m.Text.InputIDs, onnx.TensorElementDataTypeInt64, []int64{b, T}},
		tensorSpec{m.Text.Mask, onnx.TensorElementDataTypeInt64, []int64{b, T}})
	outs = append(outs, tensorSpec{m.Encoder.PrefixMask, onnx.TensorElementDataTypeInt64, []int64{b, P}})
	kvShape := []int64{b, int64(d.Heads), P, int64(d.HeadDim)}
	for l := 0; l < d.Layers; l++ {
		outs = append(outs,
			tensorSpec{policy.LayerName(m.Encoder.PresentKey, l), v.dt.kv, kvShape},
			tensorSpec{policy.LayerName(m.Encoder.PresentValue, l), v.dt.kv, kvShape})
	}
	return ins, outs
}

// decoderSpecs are one decoder step's inputs and outputs for batch b and
// past length past (-1: any; check treats negative dimensions as "varies").
func (v *VLA) decoderSpecs(b, past int64) (ins, outs []tensorSpec) {
	d := v.m.Decoder
	total := past + 1
	if past < 0 {
		total = past
	}
	ins = []tensorSpec{
		{d.InputIDs, onnx.TensorElementDataTypeInt64, []int64{b, 1}},
		{d.AttentionMask, onnx.TensorElementDataTypeInt64, []int64{b, total}},
	}
	if d.PositionIDs != "" {
		ins = append(ins, tensorSpec{d.PositionIDs, onnx.TensorElementDataTypeInt64, []int64{b, 1}})
	}
	outs = []tensorSpec{{d.Logits, v.dt.logits, []int64{b, 1, int64(d.VocabSize)}}}
	pastShape := []int64{b, int64(d.Heads), past, int64(d.HeadDim)}
	presShape := []int64{b, int64(d.Heads), total, int64(d.HeadDim)}
	for l := 0; l < d.Layers; l++ {
		ins = append(ins,
			tensorSpec{policy.LayerName(d.PastKey, l), v.dt.kv, pastShape},
			tensorSpec{policy.LayerName(d.PastValue, l), v.dt.kv, pastShape})
		outs = append(outs,
			tensorSpec{policy.LayerName(d.PresentKey, l), v.dt.kv, presShape},
			tensorSpec{policy.LayerName(d.PresentValue, l), v.dt.kv, presShape})
	}
	return ins, outs
}

// batchAxis reports whether every named tensor of g has a symbolic first
// dimension (the graph takes any batch). A graph with a fixed batch of 1
// runs one row at a time; any other fixed batch cannot be fed.
func batchAxis(g *graph, ins, outs []tensorSpec) (dynamic bool, err error) {
	fixed, symbolic := 0, 0
	for _, side := range []struct {
		have  map[string]onnx.InputOutputInfo
		specs []tensorSpec
	}{{g.inputs, ins}, {g.outputs, outs}} {
		for _, s := range side.specs {
			switch d := side.have[s.name].Dimensions[0]; {
			case d <= 0:
				symbolic++
			case d == 1:
				fixed++
			default:
				return false, fmt.Errorf("%w: %s: %q has a fixed batch of %d; efferent feeds a batch of 1 or, with a symbolic first axis, any batch",
					ErrGraph, g.file, s.name, d)
			}
		}
	}
	return fixed == 0 && symbolic > 0, nil
}

// geometry derives the per-row tensor sizes from the manifest.
func (v *VLA) geometry() geometry {
	m := v.m
	return geometry{
		image: m.Obs.ImageHeight * m.Obs.ImageWidth * 3, state: m.Obs.State.Dim,
		text: m.Text.MaxTokens, prefix: m.Encoder.PrefixLen, vocab: m.Decoder.VocabSize,
		heads: m.Decoder.Heads, headDim: m.Decoder.HeadDim, layers: m.Decoder.Layers,
		steps: v.detok.TokensPerChunk(),
	}
}

// allocArena makes an arena of rows rows, its key/values on dev (nil:
// the host).
func allocArena(g geometry, dt dtypes, cams, rows int, dev *device) (_ *arena, err error) {
	a := &arena{rows: rows}
	defer func() {
		if err != nil {
			a.free()
		}
	}()
	for range cams {
		a.images = append(a.images, make([]uint8, rows*g.image))
	}
	if a.state, err = newSlot("state", dt.state, []int64{int64(g.state)}, rows); err != nil {
		return nil, err
	}
	if a.logits, err = newSlot("logits", dt.logits, []int64{1, int64(g.vocab)}, rows); err != nil {
		return nil, err
	}
	a.textIDs, a.textMask = make([]int64, rows*g.text), make([]int64, rows*g.text)
	a.prefixMask = make([]int64, rows*g.prefix)
	a.inputID, a.position = make([]int64, rows), make([]int64, rows)
	kvs := func(past int) ([]*slot, error) {
		kv := make([]*slot, 2*g.layers)
		for i := range kv {
			// Never read in Go: no float32 view.
			s, err := newSlot("kv", dt.kv, []int64{int64(g.heads), int64(past), int64(g.headDim)}, rows)
			if err != nil {
				return nil, err
			}
			s.dropView()
			kv[i] = s
			if err := s.toDevice(dev, rows); err != nil {
				return kv, err
			}
		}
		return kv, nil
	}
	kv, err := kvs(g.prefix)
	a.kv = append(a.kv, kv)
	if err != nil {
		return nil, err
	}
	for s := range g.steps {
		total := g.prefix + s + 1
		mask := make([]int64, rows*total)
		for i := range mask {
			mask[i] = 1 // the prefix part of each row is overwritten from the encoder's prefix mask per call
		}
		a.attn = append(a.attn, mask)
		kv, err := kvs(total)
		a.kv = append(a.kv, kv)
		if err != nil {
			return nil, err
		}
	}
	return a, nil
}

// free releases the arena's device memory (its Go memory is the
// collector's).
func (a *arena) free() {
	if a == nil {
		return
	}
	for _, kv := range a.kv {
		for _, s := range kv {
			s.release()
		}
	}
}

// newRun makes batch size n's tensors over the arena and binds them.
func (v *VLA) newRun(n int) (_ *batchRun, err error) {
	g, a := v.geometry(), v.arena
	r := &batchRun{n: n}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	b := int64(n)
	view := func(data []int64, shape ...int64) (*onnx.Tensor[int64], error) {
		return onnx.NewTensor(onnx.NewShape(shape...), data[:int(onnx.NewShape(shape...).FlattenedSize())])
	}
	m := v.m
	h, w, T, P := int64(m.Obs.ImageHeight), int64(m.Obs.ImageWidth), int64(g.text), int64(g.prefix)

	// Encoder.
	var inVals, outVals []onnx.Value
	for _, pix := range a.images {
		t, err := onnx.NewTensor(onnx.NewShape(b, h, w, 3), pix[:n*g.image])
		if err != nil {
			return nil, err
		}
		r.images = append(r.images, t)
		inVals = append(inVals, t)
	}
	if r.state, err = a.state.value(n); err != nil {
		return nil, err
	}
	if r.textIDs, err = view(a.textIDs, b, T); err != nil {
		return nil, err
	}
	if r.textMask, err = view(a.textMask, b, T); err != nil {
		return nil, err
	}
	if r.prefixMask, err = view(a.prefixMask, b, P); err != nil {
		return nil, err
	}
	inVals = append(inVals, r.state, r.textIDs, r.textMask)
	outVals = append(outVals, r.prefixMask)
	kvViews := func(slots []*slot) ([]onnx.Value, error) {
		ts := make([]onnx.Value, 0, len(slots))
		for _, s := range slots {
			t, err := s.value(n)
			if err != nil {
				return ts, err
			}
			ts = append(ts, t)
		}
		return ts, nil
	}
	kv, err := kvViews(a.kv[0])
	r.kv = append(r.kv, kv)
	if err != nil {
		return nil, err
	}
	outVals = append(outVals, kv...)
	ins, outs := v.encoderSpecs(b)
	if r.enc, err = bind(v.enc, ins, outs, inVals, outVals); err != nil {
		return nil, err
	}

	// Decoder steps.
	if r.inputID, err = view(a.inputID, b, 1); err != nil {
		return nil, err
	}
	if r.position, err = view(a.position, b, 1); err != nil {
		return nil, err
	}
	if r.logits, err = a.logits.value(n); err != nil {
		return nil, err
	}
	for s := range g.steps {
		past := P + int64(s)
		mask, err := view(a.attn[s], b, past+1)
		if err != nil {
			return nil, err
		}
		r.attn = append(r.attn, mask)
		kv, err := kvViews(a.kv[s+1])
		r.kv = append(r.kv, kv)
		if err != nil {
			return nil, err
		}
		inVals := []onnx.Value{r.inputID, mask}
		if m.Decoder.PositionIDs != "" {
			inVals = append(inVals, r.position)
		}
		inVals = append(inVals, r.kv[s]...)
		outVals := append([]onnx.Value{r.logits}, kv...)
		ins, outs := v.decoderSpecs(b, past)
		step, err := bind(v.dec, ins, outs, inVals, outVals)
		if err != nil {
			return nil, err
		}
		r.steps = append(r.steps, step)
	}
	return r, nil
}

// run returns the tensors of batch size n, growing the arena (which drops
// every size's tensors) when it has fewer rows. Growth doubles up to the
// model's MaxBatch, so sizes seen in warm-up never allocate again.
func (v *VLA) run(n int) (*batchRun, error) {
	if v.arena == nil || v.arena.rows < n {
		rows := n
		if v.arena != nil {
			rows = max(n, min(2*v.arena.rows, v.maxBatch))
		}
		v.closeRuns()
		v.arena.free()
		v.arena = nil
		a, err := allocArena(v.geometry(), v.dt, len(v.m.Obs.Images), rows, v.dev)
		if err != nil {
			return nil, err
		}
		v.arena = a
		v.runs = make([]*batchRun, rows)
	}
	if r := v.runs[n-1]; r != nil {
		return r, nil
	}
	r, err := v.newRun(n)
	if err != nil {
		return nil, err
	}
	v.runs[n-1] = r
	return r, nil
}

func (v *VLA) closeRuns() {
	for i, r := range v.runs {
		r.close()
		v.runs[i] = nil
	}
}

func (r *batchRun) close() {
	if r == nil {
		return
	}
	r.enc.close()
	for _, b := range r.steps {
		b.close()
	}
	destroy := func(ts ...*onnx.Tensor[int64]) {
		for _, t := range ts {
			if t != nil {
				t.Destroy()
			}
		}
	}
	destroy(r.textIDs, r.textMask, r.prefixMask, r.inputID, r.position)
	destroy(r.attn...)
	for _, t := range r.images {
		t.Destroy()
	}
	if r.state != nil {
		r.state.Destroy()
	}
	if r.logits != nil {
		r.logits.Destroy()
	}
	for _, kv := range r.kv {
		for _, t := range kv {
			t.Destroy()
		}
	}
	*r = batchRun{}
}
