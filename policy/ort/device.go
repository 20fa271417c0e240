package ort

import (
	"fmt"
	"unsafe"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/efferent/efferent/policy"
)

var (
	_ policy.Copier          = (*VLA)(nil)
	_ policy.Copier          = (*Continuous)(nil)
	_ policy.PromptTruncator = (*VLA)(nil)
	_ policy.PromptTruncator = (*Continuous)(nil)
)

// On a GPU, the tensors one graph writes and the next reads (the
// autoregressive decoder's key/value cache, step after step; a flow
// model's prefix key/values, read by every denoising step) stay in the
// provider's memory: they are allocated there once, by the provider's
// shared allocator, and bound to both graphs like the host tensors are,
// so they never cross PCIe. What efferent writes or reads (images, state,
// prompt ids, masks, a flow step's x and time, logits, actions) is bound
// in host memory, and ONNX Runtime copies it at each run: those copies
// are what policy.Copies counts.

// device is where graph-to-graph tensors live. nil: host memory, as Go
// slices (the CPU provider).
type device struct {
	mem   unsafe.Pointer // OrtMemoryInfo of the device's memory
	alloc unsafe.Pointer // OrtAllocator for it
	name  string         // ONNX Runtime's name of the memory ("Cuda", "Cpu")
}

// newDevice is the device of the provider conf selects: nil for the CPU
// (unless conf.residentOnHost, which puts the same tensors in ONNX
// Runtime's CPU allocator, to test this path without a GPU), and for a
// provider compiled into the library without an EP device entry (its
// tensors stay on the host and every one is copied).
func newDevice(conf Conf, lib string) (*device, error) {
	sel, err := selectProvider(conf, lib)
	if err != nil || !sel.onDevice() && !conf.residentOnHost {
		return nil, err
	}
	env, err := loadCAPI(lib)
	if err != nil {
		return nil, err
	}
	d := &device{}
	switch {
	case sel.onDevice():
		d.mem = sel.dev.mem
	case conf.residentOnHost:
		mem, err := cpuMemoryInfo()
		if err != nil {
			return nil, fmt.Errorf("%w: cpu memory info: %v", ErrProvider, err)
		}
		alloc, err := sharedAllocator(env, nil)
		if err != nil {
			return nil, fmt.Errorf("%w: cpu allocator: %v", ErrProvider, err)
		}
		d.mem, d.alloc, d.name = mem, alloc, "Cpu"
		return d, nil
	default:
		return nil, nil
	}
	if d.alloc, err = sharedAllocator(env, d.mem); err != nil {
		return nil, fmt.Errorf("%w: %s: allocator for %s memory: %v", ErrProvider, conf.Provider, memoryName(d.mem), err)
	}
	d.name = memoryName(d.mem)
	return d, nil
}

// devTensor is an OrtValue over device memory, bound like onnxruntime_go's
// tensors. onnx.Value's DataType method returns a type of
// onnxruntime_go's own cgo, which no other package can name, so the
// interface is satisfied by embedding a nil Value and overriding every
// other method; efferent never calls DataType on a devTensor.
type devTensor struct {
	onnx.Value
	internals onnx.ValueInternalData
	shape     onnx.Shape
	p         unsafe.Pointer // OrtValue*
}

func (t *devTensor) GetInternals() *onnx.ValueInternalData { return &t.internals }
func (t *devTensor) GetShape() onnx.Shape                  { return t.shape.Clone() }
func (t *devTensor) GetONNXType() onnx.ONNXType            { return onnx.ONNXTypeTensor }
func (t *devTensor) ZeroContents() {
	panic("ort: a device tensor cannot be zeroed from the host")
}

// Destroy releases the OrtValue (not the memory it views: its slot owns that).
func (t *devTensor) Destroy() error {
	if t.p != nil {
		releaseValue(t.p)
		t.p = nil
	}
	return nil
}

// devMem is one allocation of device memory.
type devMem struct {
	d     *device
	p     unsafe.Pointer
	bytes int
}

func (d *device) allocate(bytes int) (*devMem, error) {
	p, err := allocBytes(d.alloc, bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: allocating %d bytes of %s memory: %v", ErrProvider, bytes, d.name, err)
	}
	return &devMem{d: d, p: p, bytes: bytes}, nil
}

// tensor is a view of the first bytes of m as a tensor of shape.
func (m *devMem) tensor(shape onnx.Shape, dtype onnx.TensorElementDataType, bytes int) (*devTensor, error) {
	if bytes > m.bytes {
		return nil, fmt.Errorf("%w: a %v tensor of %d bytes over %d bytes of %s memory", ErrGraph, shape, bytes, m.bytes, m.d.name)
	}
	p, err := newTensorValue(m.d.mem, m.p, bytes, shape, dtype)
	if err != nil {
		return nil, fmt.Errorf("%w: tensor over %s memory: %v", ErrGraph, m.d.name, err)
	}
	t := &devTensor{shape: shape.Clone(), p: p}
	if err := setValuePointer(&t.internals, p); err != nil {
		releaseValue(p)
		return nil, err
	}
	return t, nil
}

func (m *devMem) free() {
	if m != nil && m.p != nil {
		freeBytes(m.d.alloc, m.p)
		m.p = nil
	}
}

// counted reports whether copies are counted: on a GPU provider, and in
// the tests' host-resident mode, which binds as a GPU does.
func counted(provider string, d *device) bool {
	return (provider != "" && provider != "cpu") || d != nil
}

// Copies implements policy.Copier: the autoregressive layout's copies per chunk of one
// observation, with the KV cache: the encoder's inputs and prefix mask,
// and each action token's id, mask, position and logits (plus the
// key/values each way when they cannot stay on the device), and a VQ
// latent decoder's latent and chunk.
func (v *VLA) Copies() policy.Copies {
	if !counted(v.provider, v.dev) {
		return policy.Copies{}
	}
	encIns, encOuts := v.encoderSpecs(1)
	decIns, decOuts := v.decoderSpecs(1, 0)
	kv, steps := 2*v.m.Decoder.Layers, v.geometry().steps
	kvHost := kv
	c := policy.Copies{}
	if v.dev != nil {
		kvHost, c.Resident, c.Memory = 0, kv*(steps+1), v.dev.name
	}
	c.HostToDevice = len(encIns) + steps*(len(decIns)-kv+kvHost)
	c.DeviceToHost = len(encOuts) - kv + kvHost + steps*(len(decOuts)-kv+kvHost)
	if v.latent != nil {
		c.HostToDevice++
		c.DeviceToHost++
	}
	return c
}

// Copies implements policy.Copier: the flow and regression layouts' copies per chunk of one
// observation: the first graph's inputs and outputs, and each Euler
// step's x, time and velocity (plus the prefix's key/values each step
// when they cannot stay on the device).
func (c *Continuous) Copies() policy.Copies {
	if !counted(c.provider, c.dev) {
		return policy.Copies{}
	}
	res := len(c.resident())
	out := policy.Copies{HostToDevice: len(c.mainIns), DeviceToHost: len(c.mainOuts) - res}
	if c.step != nil {
		out.HostToDevice += c.m.Flow.Steps * (len(c.stepIns) - res)
		out.DeviceToHost += c.m.Flow.Steps * len(c.stepOuts)
	}
	if c.dev != nil {
		out.Resident, out.Memory = res, c.dev.name
	}
	return out
}
