package ort

import (
	"fmt"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/efferent/efferent/policy"
)

// latentDecoder runs a VQ latent decoder graph (float32 [1, latent] →
// float32 [1, H, D]); it implements vq.LatentDecoder.
type latentDecoder struct {
	g       *graph
	b       *binding
	in, out *onnx.Tensor[float32]
}

func openLatentDecoder(m *policy.Manifest, ld *policy.LatentDecoderSpec, latentDim int, conf Conf, lib string) (*latentDecoder, error) {
	H, D := int64(m.Action.Horizon), int64(m.Action.Dim)
	ins := []tensorSpec{{ld.Input, onnx.TensorElementDataTypeFloat, []int64{1, int64(latentDim)}}}
	outs := []tensorSpec{{ld.Output, onnx.TensorElementDataTypeFloat, []int64{1, H, D}}}
	g, err := openGraph(m, ld.File, conf, lib, ins, outs)
	if err != nil {
		return nil, err
	}
	l := &latentDecoder{g: g}
	if l.in, err = onnx.NewEmptyTensor[float32](onnx.NewShape(1, int64(latentDim))); err != nil {
		l.close()
		return nil, err
	}
	if l.out, err = onnx.NewEmptyTensor[float32](onnx.NewShape(1, H, D)); err != nil {
		l.close()
		return nil, err
	}
	if l.b, err = bind(g, ins, outs, []onnx.Value{l.in}, []onnx.Value{l.out}); err != nil {
		l.close()
		return nil, err
	}
	return l, nil
}

// DecodeLatent implements vq.LatentDecoder.
func (l *latentDecoder) DecodeLatent(z []float32, out []float32) error {
	in := l.in.GetData()
	if len(z) != len(in) {
		return fmt.Errorf("latent decoder: latent has %d values, graph takes %d", len(z), len(in))
	}
	if len(out) != len(l.out.GetData()) {
		return fmt.Errorf("latent decoder: output buffer has %d values, graph gives %d", len(out), len(l.out.GetData()))
	}
	copy(in, z)
	if err := l.b.run(); err != nil {
		return err
	}
	copy(out, l.out.GetData())
	return nil
}

func (l *latentDecoder) close() {
	l.b.close()
	l.g.close()
	if l.in != nil {
		l.in.Destroy()
	}
	if l.out != nil {
		l.out.Destroy()
	}
}
