package ort

import (
	"context"
	"errors"
	"fmt"
	"slices"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/policy"
)

// Bare is a model's graphs run the plainest way ONNX Runtime allows, as a
// short script would: each graph's Run with outputs that ONNX Runtime
// allocates, one step's outputs fed back as the next one's inputs, new
// tensors every step, a greedy token or an Euler update in between. It
// uses the policy's own sessions (the same graphs, provider and options)
// and the inputs its last Infer prepared, so `efferent bench infer`
// compares efferent's whole Infer against the runtime alone, on the same
// machine in one run.
type Bare struct {
	run   func() error
	close func()
	// last is what the last Run produced: the tokens (autoregressive) or
	// the final x of the flow, in model units (tests compare it with
	// Infer's).
	tokens []int64
	x      []float32
}

// ErrBare is returned by NewBare for what the bare loop does not run:
// float16 logits or flow tensors (it would have to convert them, which is
// efferent's work, not the runtime's).
var ErrBare = errors.New("bare ONNX Runtime loop unavailable")

// NewBare makes the bare loop of p, a policy Open or OpenContinuous
// returned, after one Infer of obs (which prepares the inputs it reuses).
func NewBare(p policy.Policy, obs *efferent.Observation) (*Bare, error) {
	var ch efferent.Chunk
	if err := p.Infer(context.Background(), obs, &ch); err != nil {
		return nil, err
	}
	switch v := p.(type) {
	case *VLA:
		return v.bare()
	case *Continuous:
		return v.bare(obs.Seq)
	}
	return nil, fmt.Errorf("%w: %T is not an ONNX Runtime policy", ErrBare, p)
}

// Run runs the model once: one chunk.
func (b *Bare) Run() error { return b.run() }

// Close frees the loop's input tensors.
func (b *Bare) Close() { b.close() }

// copyOf is a new tensor holding a copy of row 0 of v.
func copyOf(v onnx.Value) (onnx.Value, error) {
	shape := v.GetShape()
	shape[0] = 1
	n := int(shape.FlattenedSize())
	switch t := v.(type) {
	case *onnx.Tensor[float32]:
		return onnx.NewTensor(shape, slices.Clone(t.GetData()[:n]))
	case *onnx.Tensor[int64]:
		return onnx.NewTensor(shape, slices.Clone(t.GetData()[:n]))
	case *onnx.Tensor[uint8]:
		return onnx.NewTensor(shape, slices.Clone(t.GetData()[:n]))
	}
	return nil, fmt.Errorf("%w: a %v input", ErrBare, v.GetShape())
}

func destroyAll(vals []onnx.Value) {
	for _, v := range vals {
		if v != nil {
			v.Destroy()
		}
	}
}

// bare is the autoregressive layout's loop: the encoder, then one decoder
// Run per action token with the previous step's present key/values as its
// past.
func (v *VLA) bare() (*Bare, error) {
	if v.dt.logits != onnx.TensorElementDataTypeFloat {
		return nil, fmt.Errorf("%w: %s logits", ErrBare, v.dt.logits)
	}
	r := v.runs[0]
	var ins []onnx.Value
	for _, x := range append(append([]onnx.Value{}, toValues(r.images)...), r.state, r.textIDs, r.textMask) {
		c, err := copyOf(x)
		if err != nil {
			destroyAll(ins)
			return nil, err
		}
		ins = append(ins, c)
	}
	encOut := make([]onnx.Value, 1+2*v.m.Decoder.Layers)
	decOut := make([]onnx.Value, 1+2*v.m.Decoder.Layers)
	P, steps, V := v.m.Encoder.PrefixLen, v.geometry().steps, v.m.Decoder.VocabSize
	d := v.m.Decoder
	b := &Bare{close: func() { destroyAll(ins) }, tokens: make([]int64, steps)}
	run := func() error {
		defer func() {
			destroyAll(encOut)
			clear(encOut)
		}()
		if err := v.enc.sess.Run(ins, encOut); err != nil {
			return fmt.Errorf("%w: bare encoder: %v", ErrGraph, err)
		}
		pm := encOut[0].(*onnx.Tensor[int64]).GetData()
		past := encOut[1:]
		tok := d.StartToken
		for s := range steps {
			id, err := onnx.NewTensor(onnx.NewShape(1, 1), []int64{tok})
			if err != nil {
				return err
			}
			mask := make([]int64, P+s+1)
			copy(mask, pm)
			for i := P; i < len(mask); i++ {
				mask[i] = 1
			}
			am, err := onnx.NewTensor(onnx.NewShape(1, int64(len(mask))), mask)
			if err != nil {
				id.Destroy()
				return err
			}
			stepIns := []onnx.Value{id, am}
			if d.PositionIDs != "" {
				pos := []int64{0}
				v.positions(pos, pm, 1, s)
				pt, err := onnx.NewTensor(onnx.NewShape(1, 1), pos)
				if err != nil {
					destroyAll(stepIns)
					return err
				}
				stepIns = append(stepIns, pt)
			}
			stepIns = append(stepIns, past...)
			err = v.dec.sess.Run(stepIns, decOut)
			destroyAll(stepIns[:len(stepIns)-len(past)])
			if s > 0 {
				destroyAll(past) // the previous step's outputs; the encoder's are freed at the end
			}
			if err != nil {
				return fmt.Errorf("%w: bare decoder step %d: %v", ErrGraph, s, err)
			}
			lo, hi := v.detok.Allowed(s)
			if tok, err = policy.ArgmaxBand(decOut[0].(*onnx.Tensor[float32]).GetData()[:V], lo, hi); err != nil {
				tok = lo
			}
			b.tokens[s] = tok
			decOut[0].Destroy()
			past = slices.Clone(decOut[1:])
			clear(decOut)
		}
		if steps > 0 {
			destroyAll(past)
		}
		return nil
	}
	b.run = run
	return b, nil
}

func toValues[T onnx.TensorData](ts []*onnx.Tensor[T]) []onnx.Value {
	out := make([]onnx.Value, len(ts))
	for i, t := range ts {
		out[i] = t
	}
	return out
}

// bare is the flow and regression layouts' loop: the first graph, then,
// for a prefix and step pair, one step Run per Euler step with the
// prefix's outputs and the current x.
func (c *Continuous) bare(seq uint64) (*Bare, error) {
	for _, s := range c.slots {
		if s.raw != nil {
			return nil, fmt.Errorf("%w: %s tensor %q", ErrBare, s.dtype, s.name)
		}
	}
	var ins []onnx.Value
	for _, spec := range c.mainIns {
		v, err := c.slots[spec.name].value(1)
		if err != nil {
			destroyAll(ins)
			return nil, err
		}
		cp, err := copyOf(v)
		v.Destroy()
		if err != nil {
			destroyAll(ins)
			return nil, err
		}
		ins = append(ins, cp)
	}
	b := &Bare{close: func() { destroyAll(ins) }}
	mainOut := make([]onnx.Value, len(c.mainOuts))
	var stepOut []onnx.Value
	if c.step != nil {
		stepOut = make([]onnx.Value, len(c.stepOuts))
	}
	run := func() error {
		defer func() {
			destroyAll(mainOut)
			clear(mainOut)
		}()
		if err := c.main.sess.Run(ins, mainOut); err != nil {
			return fmt.Errorf("%w: bare %s: %v", ErrGraph, c.main.file, err)
		}
		if c.step == nil {
			return nil
		}
		f := c.m.Flow
		from, to := f.Times()
		dt := (to - from) / float64(f.Steps)
		x := make([]float32, c.sample.elems)
		policy.FlowNoise(f.Seed+seq, x)
		b.x = x
		byName := map[string]onnx.Value{}
		for i, s := range c.mainOuts {
			byName[s.name] = mainOut[i]
		}
		for k := range f.Steps {
			xt, err := onnx.NewTensor(append(onnx.Shape{1}, c.sample.shape...), x)
			if err != nil {
				return err
			}
			tt, err := onnx.NewTensor(append(onnx.Shape{1}, c.tflow.shape...), []float32{float32(from + float64(k)*dt)})
			if err != nil {
				xt.Destroy()
				return err
			}
			byName[f.Step.X], byName[f.Step.Time] = xt, tt
			stepIns := make([]onnx.Value, len(c.stepIns))
			for i, s := range c.stepIns {
				stepIns[i] = byName[s.name]
			}
			err = c.step.sess.Run(stepIns, stepOut)
			xt.Destroy()
			tt.Destroy()
			if err != nil {
				return fmt.Errorf("%w: bare %s step %d: %v", ErrGraph, c.step.file, k, err)
			}
			vel := stepOut[slices.IndexFunc(c.stepOuts, func(s tensorSpec) bool { return s.name == f.Step.Velocity })].(*onnx.Tensor[float32]).GetData()
			for i := range x {
				x[i] += float32(dt) * vel[i]
			}
			destroyAll(stepOut)
			clear(stepOut)
		}
		return nil
	}
	b.run = run
	return b, nil
}
