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
type arena struct {
	rows                          int
	images                        [][]uint8
	state                         []float32
	textIDs, textMask, prefixMask []int64
	inputID, position             []int64
	attn                          [][]int64     // attn[s]: decoder step s's attention mask
	logits                        []float32     // one step's logits
	kv                            [][][]float32 // kv[0]: encoder presents; kv[s+1]: step s presents
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
	state      *onnx.Tensor[float32]
	textIDs    *onnx.Tensor[int64]
	textMask   *onnx.Tensor[int64]
	prefixMask *onnx.Tensor[int64]
	enc        *binding

	// Decoder: one binding per action token. The present key/values written
	// by step s are bound as the past of step s+1.
	inputID, position *onnx.Tensor[int64]
	attn              []*onnx.Tensor[int64]
	logits            *onnx.Tensor[float32]
	kv                [][]*onnx.Tensor[float32]
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
		tensorSpec{m.Obs.State.Input, onnx.TensorElementDataTypeFloat, []int64{b, int64(m.Obs.State.Dim)}},
		tensorSpec{m.Text.InputIDs, onnx.TensorElementDataTypeInt64, []int64{b, T}},
		tensorSpec{m.Text.Mask, onnx.TensorElementDataTypeInt64, []int64{b, T}})
	outs = append(outs, tensorSpec{m.Encoder.PrefixMask, onnx.TensorElementDataTypeInt64, []int64{b, P}})
	kvShape := []int64{b, int64(d.Heads), P, int64(d.HeadDim)}
	for l := 0; l < d.Layers; l++ {
		outs = append(outs,
			tensorSpec{policy.LayerName(m.Encoder.PresentKey, l), onnx.TensorElementDataTypeFloat, kvShape},
			tensorSpec{policy.LayerName(m.Encoder.PresentValue, l), onnx.TensorElementDataTypeFloat, kvShape})
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
	outs = []tensorSpec{{d.Logits, onnx.TensorElementDataTypeFloat, []int64{b, 1, int64(d.VocabSize)}}}
	pastShape := []int64{b, int64(d.Heads), past, int64(d.HeadDim)}
	presShape := []int64{b, int64(d.Heads), total, int64(d.HeadDim)}
	for l := 0; l < d.Layers; l++ {
		ins = append(ins,
			tensorSpec{policy.LayerName(d.PastKey, l), onnx.TensorElementDataTypeFloat, pastShape},
			tensorSpec{policy.LayerName(d.PastValue, l), onnx.TensorElementDataTypeFloat, pastShape})
		outs = append(outs,
			tensorSpec{policy.LayerName(d.PresentKey, l), onnx.TensorElementDataTypeFloat, presShape},
			tensorSpec{policy.LayerName(d.PresentValue, l), onnx.TensorElementDataTypeFloat, presShape})
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

// allocArena makes an arena of rows rows.
func allocArena(g geometry, cams, rows int) *arena {
	a := &arena{rows: rows}
	for range cams {
		a.images = append(a.images, make([]uint8, rows*g.image))
	}
	a.state = make([]float32, rows*g.state)
	a.textIDs, a.textMask = make([]int64, rows*g.text), make([]int64, rows*g.text)
	a.prefixMask = make([]int64, rows*g.prefix)
	a.inputID, a.position = make([]int64, rows), make([]int64, rows)
	a.logits = make([]float32, rows*g.vocab)
	kvs := func(past int) [][]float32 {
		kv := make([][]float32, 2*g.layers)
		for i := range kv {
			kv[i] = make([]float32, rows*g.kvRow(past))
		}
		return kv
	}
	a.kv = append(a.kv, kvs(g.prefix))
	for s := range g.steps {
		total := g.prefix + s + 1
		mask := make([]int64, rows*total)
		for i := range mask {
			mask[i] = 1 // the prefix part of each row is overwritten from the encoder's prefix mask per call
		}
		a.attn = append(a.attn, mask)
		a.kv = append(a.kv, kvs(total))
	}
	return a
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
	viewF := func(data []float32, shape ...int64) (*onnx.Tensor[float32], error) {
		return onnx.NewTensor(onnx.NewShape(shape...), data[:int(onnx.NewShape(shape...).FlattenedSize())])
	}
	m := v.m
	h, w, T, P := int64(m.Obs.ImageHeight), int64(m.Obs.ImageWidth), int64(g.text), int64(g.prefix)
	H, hd := int64(g.heads), int64(g.headDim)

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
	if r.state, err = viewF(a.state, b, int64(g.state)); err != nil {
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
	kvViews := func(bufs [][]float32, past int64) ([]*onnx.Tensor[float32], error) {
		ts := make([]*onnx.Tensor[float32], 0, len(bufs))
		for _, buf := range bufs {
			t, err := viewF(buf, b, H, past, hd)
			if err != nil {
				return ts, err
			}
			ts = append(ts, t)
		}
		return ts, nil
	}
	kv, err := kvViews(a.kv[0], P)
	r.kv = append(r.kv, kv)
	if err != nil {
		return nil, err
	}
	for _, t := range kv {
		outVals = append(outVals, t)
	}
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
	if r.logits, err = viewF(a.logits, b, 1, int64(g.vocab)); err != nil {
		return nil, err
	}
	for s := range g.steps {
		past := P + int64(s)
		mask, err := view(a.attn[s], b, past+1)
		if err != nil {
			return nil, err
		}
		r.attn = append(r.attn, mask)
		kv, err := kvViews(a.kv[s+1], past+1)
		r.kv = append(r.kv, kv)
		if err != nil {
			return nil, err
		}
		inVals := []onnx.Value{r.inputID, mask}
		if m.Decoder.PositionIDs != "" {
			inVals = append(inVals, r.position)
		}
		for _, t := range r.kv[s] {
			inVals = append(inVals, t)
		}
		outVals := []onnx.Value{r.logits}
		for _, t := range kv {
			outVals = append(outVals, t)
		}
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
		v.arena = allocArena(v.geometry(), len(v.m.Obs.Images), rows)
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
