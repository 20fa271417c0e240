package ort

import (
	"context"
	"errors"
	"fmt"
	"math"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/policy"
	"github.com/efferent/efferent/tokenizer"
	"github.com/efferent/efferent/tokenizer/bins"
	"github.com/efferent/efferent/tokenizer/text"
	"github.com/efferent/efferent/tokenizer/vq"
)

// ErrObservation is wrapped when an observation does not fit the model
// (missing camera, wrong image size, wrong state length, NaN, empty or too
// long prompt). The message names what was wrong.
var ErrObservation = errors.New("observation does not fit the model")

// size limits for auxiliary files named by a manifest.
const (
	maxTokenizerBytes = 64 << 20
	maxCodebookBytes  = 64 << 20
)

// VLA is a vision-language-action model under ONNX Runtime. It implements
// policy.Policy; like every Policy it is owned by one goroutine.
type VLA struct {
	m     *policy.Manifest
	meta  policy.Metadata
	tok   *text.Tokenizer
	detok tokenizer.Detokenizer

	enc, dec *graph
	latent   *latentDecoder

	// Encoder tensors.
	images     []*onnx.Tensor[uint8]
	state      *onnx.Tensor[float32]
	textIDs    *onnx.Tensor[int64]
	textMask   *onnx.Tensor[int64]
	prefixMask *onnx.Tensor[int64]
	encBind    *binding

	// Decoder tensors: one binding per action token. The present key/values
	// written by step s are bound as the past of step s+1.
	inputID  *onnx.Tensor[int64]
	position *onnx.Tensor[int64]
	attn     []*onnx.Tensor[int64]
	logits   *onnx.Tensor[float32]
	kv       [][]*onnx.Tensor[float32] // kv[0] = encoder presents; kv[s+1] = step s presents
	steps    []*binding

	ids    []int64 // prompt ids scratch
	tokens []int64 // action tokens of the last chunk
	values []onnx.Value
}

var _ policy.Policy = (*VLA)(nil)

// Open loads the model described by m and creates its sessions. The ONNX
// Runtime environment is initialised on first use (see Init).
func Open(m *policy.Manifest, conf Conf) (_ *VLA, err error) {
	conf = conf.WithDefaults()
	if err := conf.Validate(); err != nil {
		return nil, err
	}
	lib, err := Init(conf.Library)
	if err != nil {
		return nil, err
	}
	v := &VLA{m: m, meta: m.Metadata()}
	defer func() {
		if err != nil {
			v.Close()
		}
	}()
	data, err := m.ReadFile(m.Text.Tokenizer, maxTokenizerBytes)
	if err != nil {
		return nil, err
	}
	if v.tok, err = text.Parse(data); err != nil {
		return nil, fmt.Errorf("model %s: text.tokenizer %s: %w", m.Source, m.Text.Tokenizer, err)
	}
	if err := v.openEncoder(conf, lib); err != nil {
		return nil, err
	}
	if err := v.openDetokenizer(conf, lib); err != nil {
		return nil, err
	}
	if err := v.openDecoder(conf, lib); err != nil {
		return nil, err
	}
	v.ids = make([]int64, 0, m.Text.MaxTokens+8)
	v.tokens = make([]int64, v.detok.TokensPerChunk())
	return v, nil
}

func (v *VLA) openEncoder(conf Conf, lib string) error {
	m := v.m
	h, w := int64(m.Obs.ImageHeight), int64(m.Obs.ImageWidth)
	T, P := int64(m.Text.MaxTokens), int64(m.Encoder.PrefixLen)
	d := m.Decoder
	var ins, outs []tensorSpec
	for _, im := range m.Obs.Images {
		ins = append(ins, tensorSpec{im.Input, onnx.TensorElementDataTypeUint8, []int64{1, h, w, 3}})
	}
	ins = append(ins,
		tensorSpec{m.Obs.State.Input, onnx.TensorElementDataTypeFloat, []int64{1, int64(m.Obs.State.Dim)}},
		tensorSpec{m.Text.InputIDs, onnx.TensorElementDataTypeInt64, []int64{1, T}},
		tensorSpec{m.Text.Mask, onnx.TensorElementDataTypeInt64, []int64{1, T}})
	outs = append(outs, tensorSpec{m.Encoder.PrefixMask, onnx.TensorElementDataTypeInt64, []int64{1, P}})
	kvShape := []int64{1, int64(d.Heads), P, int64(d.HeadDim)}
	for l := 0; l < d.Layers; l++ {
		outs = append(outs,
			tensorSpec{policy.LayerName(m.Encoder.PresentKey, l), onnx.TensorElementDataTypeFloat, kvShape},
			tensorSpec{policy.LayerName(m.Encoder.PresentValue, l), onnx.TensorElementDataTypeFloat, kvShape})
	}
	g, err := openGraph(m, m.Encoder.File, conf, lib, ins, outs)
	if err != nil {
		return err
	}
	v.enc = g
	var inVals, outVals []onnx.Value
	for range m.Obs.Images {
		t, err := onnx.NewEmptyTensor[uint8](onnx.NewShape(1, h, w, 3))
		if err != nil {
			return err
		}
		v.images = append(v.images, t)
		inVals = append(inVals, t)
	}
	if v.state, err = onnx.NewEmptyTensor[float32](onnx.NewShape(1, int64(m.Obs.State.Dim))); err != nil {
		return err
	}
	if v.textIDs, err = onnx.NewEmptyTensor[int64](onnx.NewShape(1, T)); err != nil {
		return err
	}
	if v.textMask, err = onnx.NewEmptyTensor[int64](onnx.NewShape(1, T)); err != nil {
		return err
	}
	if v.prefixMask, err = onnx.NewEmptyTensor[int64](onnx.NewShape(1, P)); err != nil {
		return err
	}
	inVals = append(inVals, v.state, v.textIDs, v.textMask)
	outVals = append(outVals, v.prefixMask)
	kv, err := newKV(d.Layers, kvShape)
	v.kv = append(v.kv, kv)
	if err != nil {
		return err
	}
	for _, t := range kv {
		outVals = append(outVals, t)
	}
	v.encBind, err = bind(g, ins, outs, inVals, outVals)
	return err
}

func newKV(layers int, shape []int64) ([]*onnx.Tensor[float32], error) {
	kv := make([]*onnx.Tensor[float32], 0, 2*layers)
	for i := 0; i < 2*layers; i++ {
		t, err := onnx.NewEmptyTensor[float32](onnx.NewShape(shape...))
		if err != nil {
			return kv, err
		}
		kv = append(kv, t)
	}
	return kv, nil
}

func (v *VLA) openDetokenizer(conf Conf, lib string) error {
	m := v.m
	a := m.Action
	norm, err := tokenizer.NewNormalizer(a.Normalization.Q01, a.Normalization.Q99, a.Normalization.Mask)
	if err != nil {
		return fmt.Errorf("model %s: action.normalization: %w", m.Source, err)
	}
	switch a.Tokenizer.Kind {
	case "vq":
		data, err := m.ReadFile(a.Tokenizer.Codebook, maxCodebookBytes)
		if err != nil {
			return err
		}
		cb, err := vq.ParseCodebook(data)
		if err != nil {
			return fmt.Errorf("model %s: action.tokenizer.codebook %s: %w", m.Source, a.Tokenizer.Codebook, err)
		}
		if cb.Horizon != a.Horizon || cb.Dim != a.Dim {
			return fmt.Errorf("model %s: action.tokenizer.codebook %s: chunk is %dx%d, manifest action is %dx%d",
				m.Source, a.Tokenizer.Codebook, cb.Horizon, cb.Dim, a.Horizon, a.Dim)
		}
		vc := vq.Conf{Base: a.Tokenizer.TokenBase, Direction: a.Tokenizer.Direction, Norm: norm}
		if ld := a.Tokenizer.LatentDecoder; ld != nil {
			if v.latent, err = openLatentDecoder(m, ld, cb.LatentDim, conf, lib); err != nil {
				return err
			}
			vc.Decoder = v.latent
		}
		if v.detok, err = vq.New(cb, vc); err != nil {
			return fmt.Errorf("model %s: action.tokenizer: %w", m.Source, err)
		}
	case "bins":
		v.detok, err = bins.New(bins.Conf{VocabSize: int64(m.Decoder.VocabSize), Bins: a.Tokenizer.Bins,
			Dim: a.Dim, Horizon: a.Horizon, Norm: norm})
		if err != nil {
			return fmt.Errorf("model %s: action.tokenizer: %w", m.Source, err)
		}
	}
	if v.detok.Horizon() != a.Horizon || v.detok.Dim() != a.Dim {
		return fmt.Errorf("model %s: action tokenizer decodes %dx%d chunks, manifest action is %dx%d",
			m.Source, v.detok.Horizon(), v.detok.Dim(), a.Horizon, a.Dim)
	}
	for i := 0; i < v.detok.TokensPerChunk(); i++ {
		if lo, hi := v.detok.Allowed(i); lo < 0 || hi >= int64(m.Decoder.VocabSize) {
			return fmt.Errorf("model %s: action token band [%d, %d] at position %d lies outside decoder.vocab_size %d",
				m.Source, lo, hi, i, m.Decoder.VocabSize)
		}
	}
	return nil
}

func (v *VLA) openDecoder(conf Conf, lib string) error {
	m := v.m
	d := m.Decoder
	P := int64(m.Encoder.PrefixLen)
	K := v.detok.TokensPerChunk()
	var err error
	if v.inputID, err = onnx.NewEmptyTensor[int64](onnx.NewShape(1, 1)); err != nil {
		return err
	}
	if v.position, err = onnx.NewEmptyTensor[int64](onnx.NewShape(1, 1)); err != nil {
		return err
	}
	if v.logits, err = onnx.NewEmptyTensor[float32](onnx.NewShape(1, 1, int64(d.VocabSize))); err != nil {
		return err
	}
	specs := func(past int64) (ins, outs []tensorSpec) {
		ins = []tensorSpec{
			{d.InputIDs, onnx.TensorElementDataTypeInt64, []int64{1, 1}},
			{d.AttentionMask, onnx.TensorElementDataTypeInt64, []int64{1, past + 1}},
		}
		if d.PositionIDs != "" {
			ins = append(ins, tensorSpec{d.PositionIDs, onnx.TensorElementDataTypeInt64, []int64{1, 1}})
		}
		outs = []tensorSpec{{d.Logits, onnx.TensorElementDataTypeFloat, []int64{1, 1, int64(d.VocabSize)}}}
		pastShape := []int64{1, int64(d.Heads), past, int64(d.HeadDim)}
		presShape := []int64{1, int64(d.Heads), past + 1, int64(d.HeadDim)}
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
	// The graph is checked with a wildcard for the growing past length
	// (check treats negative dimensions as "varies").
	checkIns, checkOuts := specs(-2)
	g, err := openGraph(m, d.File, conf, lib, checkIns, checkOuts)
	if err != nil {
		return err
	}
	v.dec = g
	for s := 0; s < K; s++ {
		past := P + int64(s)
		ins, outs := specs(past)
		mask, err := onnx.NewEmptyTensor[int64](onnx.NewShape(1, past+1))
		if err != nil {
			return err
		}
		md := mask.GetData()
		for i := range md {
			md[i] = 1 // the prefix part is overwritten from the encoder's prefix mask per call
		}
		v.attn = append(v.attn, mask)
		kv, err := newKV(d.Layers, []int64{1, int64(d.Heads), past + 1, int64(d.HeadDim)})
		v.kv = append(v.kv, kv)
		if err != nil {
			return err
		}
		inVals := []onnx.Value{v.inputID, mask}
		if d.PositionIDs != "" {
			inVals = append(inVals, v.position)
		}
		for _, t := range v.kv[s] {
			inVals = append(inVals, t)
		}
		outVals := []onnx.Value{v.logits}
		for _, t := range kv {
			outVals = append(outVals, t)
		}
		b, err := bind(g, ins, outs, inVals, outVals)
		if err != nil {
			return err
		}
		v.steps = append(v.steps, b)
	}
	return nil
}

// Metadata implements policy.Policy.
func (v *VLA) Metadata() policy.Metadata { return v.meta }

// Manifest returns the manifest the model was opened from.
func (v *VLA) Manifest() *policy.Manifest { return v.m }

// Tokens returns the action tokens of the last successful Infer (aliases an
// internal buffer).
func (v *VLA) Tokens() []int64 { return v.tokens }

// Infer implements policy.Policy: encode the prefix, decode one action
// token per position with greedy decoding constrained to that position's
// band, then detokenize. Images must already have the model's size (see
// policy.Resizing for a wrapper that resizes).
func (v *VLA) Infer(ctx context.Context, obs *efferent.Observation, out *efferent.Chunk) error {
	if err := v.fill(obs); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := v.encBind.run(); err != nil {
		return err
	}
	pm := v.prefixMask.GetData()
	for i, p := range pm {
		if p != 0 && p != 1 {
			return fmt.Errorf("%w: %s: %s[%d] = %d, want 0 or 1", ErrGraph, v.m.Encoder.File, v.m.Encoder.PrefixMask, i, p)
		}
	}
	for _, a := range v.attn {
		copy(a.GetData(), pm)
	}
	P := int64(v.m.Encoder.PrefixLen)
	logits := v.logits.GetData()
	tok := v.m.Decoder.StartToken
	for s, b := range v.steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		v.inputID.GetData()[0] = tok
		v.position.GetData()[0] = P + int64(s)
		if err := b.run(); err != nil {
			return err
		}
		lo, hi := v.detok.Allowed(s)
		t, err := policy.ArgmaxBand(logits, lo, hi)
		if err != nil {
			return fmt.Errorf("model %s: decoding step %d: %w", v.m.Name, s, err)
		}
		v.tokens[s] = t
		tok = t
	}
	n := v.meta.Horizon * v.meta.Dim
	if cap(out.Actions) < n {
		out.Actions = make([]float64, n)
	}
	out.Actions = out.Actions[:n]
	if err := v.detok.Decode(v.tokens, out.Actions); err != nil {
		return fmt.Errorf("model %s: detokenize %v: %w", v.m.Name, v.tokens, err)
	}
	out.H, out.D = v.meta.Horizon, v.meta.Dim
	out.Tokens = append(out.Tokens[:0], v.tokens...)
	out.ObsTime, out.Seq = obs.Time, obs.Seq
	out.Model = v.m.Name
	out.StepPeriod = v.meta.StepPeriod
	return nil
}

// fill copies the observation into the encoder's input tensors, checking it
// against the manifest on the way.
func (v *VLA) fill(obs *efferent.Observation) error {
	m := v.m
	for i, spec := range m.Obs.Images {
		im, ok := obs.Images[spec.Key]
		if !ok {
			return fmt.Errorf("%w: image %q missing", ErrObservation, spec.Key)
		}
		if err := im.Validate(); err != nil {
			return fmt.Errorf("%w: image %q: %v", ErrObservation, spec.Key, err)
		}
		if im.H != m.Obs.ImageHeight || im.W != m.Obs.ImageWidth || im.C != 3 {
			return fmt.Errorf("%w: image %q is %dx%dx%d, model needs %dx%dx3", ErrObservation, spec.Key, im.H, im.W, im.C, m.Obs.ImageHeight, m.Obs.ImageWidth)
		}
		copy(v.images[i].GetData(), im.Pix)
	}
	if len(obs.State) != m.Obs.State.Dim {
		return fmt.Errorf("%w: state %q has %d values, model needs %d", ErrObservation, m.Obs.State.Key, len(obs.State), m.Obs.State.Dim)
	}
	st := v.state.GetData()
	for i, x := range obs.State {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%w: state %q[%d] is %v", ErrObservation, m.Obs.State.Key, i, x)
		}
		st[i] = float32(x)
	}
	if obs.Prompt == "" && m.Obs.Prompt.Required {
		return fmt.Errorf("%w: prompt %q is required", ErrObservation, m.Obs.Prompt.Key)
	}
	var err error
	v.ids, err = v.tok.AppendEncode(v.ids[:0], obs.Prompt, m.Text.AddSpecial)
	if err != nil {
		return fmt.Errorf("%w: prompt: %v", ErrObservation, err)
	}
	if len(v.ids) > m.Text.MaxTokens {
		// Truncating would silently change the instruction; refuse instead.
		return fmt.Errorf("%w: prompt is %d tokens, model accepts at most %d", ErrObservation, len(v.ids), m.Text.MaxTokens)
	}
	ids, mask := v.textIDs.GetData(), v.textMask.GetData()
	for i := range ids {
		if i < len(v.ids) {
			ids[i], mask[i] = v.ids[i], 1
		} else {
			ids[i], mask[i] = m.Text.PadID, 0
		}
	}
	return nil
}

// Close implements policy.Policy.
func (v *VLA) Close() error {
	v.encBind.close()
	for _, b := range v.steps {
		b.close()
	}
	v.steps = nil
	v.enc.close()
	v.dec.close()
	if v.latent != nil {
		v.latent.close()
	}
	destroy := func(ts ...*onnx.Tensor[int64]) {
		for _, t := range ts {
			if t != nil {
				t.Destroy()
			}
		}
	}
	destroy(v.textIDs, v.textMask, v.prefixMask, v.inputID, v.position)
	destroy(v.attn...)
	for _, t := range v.images {
		t.Destroy()
	}
	if v.state != nil {
		v.state.Destroy()
	}
	if v.logits != nil {
		v.logits.Destroy()
	}
	for _, kv := range v.kv {
		for _, t := range kv {
			t.Destroy()
		}
	}
	v.kv, v.images, v.attn = nil, nil, nil
	return nil
}
