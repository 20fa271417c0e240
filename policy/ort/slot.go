package ort

import (
	"fmt"

	onnx "github.com/yalue/onnxruntime_go"
)

// slot is one tensor's memory for up to rows batch rows. Tensors are
// row-major with the batch first, so the tensor of batch n is a view of
// the first n rows: every batch size shares the memory (as the
// autoregressive layout's arena does). Float tensors have a float32 view:
// the tensor's own data for float32, a staging copy for float16 and
// bfloat16, converted by put and get.
type slot struct {
	name  string
	dtype onnx.TensorElementDataType
	shape []int64 // after the batch axis
	elems int     // per row
	f32   []float32
	raw   []byte // float16/bfloat16 data
	u8    []uint8
	i64   []int64
	// mem, when set, holds the tensor in device memory instead (tensors
	// only graphs read: see device.go); the Go views are then nil.
	mem *devMem
}

func isFloat(t onnx.TensorElementDataType) bool {
	switch t {
	case onnx.TensorElementDataTypeFloat, onnx.TensorElementDataTypeFloat16, onnx.TensorElementDataTypeBFloat16:
		return true
	}
	return false
}

// newSlot allocates a slot for rows rows of shape (after the batch axis).
func newSlot(name string, dtype onnx.TensorElementDataType, shape []int64, rows int) (*slot, error) {
	s := &slot{name: name, dtype: dtype, shape: shape, elems: 1}
	for _, d := range shape {
		if d <= 0 {
			return nil, fmt.Errorf("%w: tensor %q: shape [batch %v]: efferent needs fixed sizes after the batch axis", ErrGraph, name, shape)
		}
		s.elems *= int(d)
	}
	n := rows * s.elems
	switch dtype {
	case onnx.TensorElementDataTypeFloat:
		s.f32 = make([]float32, n)
	case onnx.TensorElementDataTypeFloat16, onnx.TensorElementDataTypeBFloat16:
		s.f32, s.raw = make([]float32, n), make([]byte, 2*n)
	case onnx.TensorElementDataTypeUint8:
		s.u8 = make([]uint8, n)
	case onnx.TensorElementDataTypeInt64:
		s.i64 = make([]int64, n)
	default:
		return nil, fmt.Errorf("%w: tensor %q: element type %v: efferent feeds float32, float16, bfloat16, uint8 or int64", ErrGraph, name, dtype)
	}
	return s, nil
}

// elemBytes is the size of one element of type t.
func elemBytes(t onnx.TensorElementDataType) int {
	switch t {
	case onnx.TensorElementDataTypeFloat16, onnx.TensorElementDataTypeBFloat16:
		return 2
	case onnx.TensorElementDataTypeUint8:
		return 1
	case onnx.TensorElementDataTypeInt64:
		return 8
	}
	return 4
}

// toDevice moves the slot's memory (rows rows) to d, dropping its Go
// memory: for tensors that only graphs read and write. A nil d keeps it
// on the host.
func (s *slot) toDevice(d *device, rows int) error {
	if d == nil {
		return nil
	}
	m, err := d.allocate(rows * s.elems * elemBytes(s.dtype))
	if err != nil {
		return fmt.Errorf("tensor %q: %w", s.name, err)
	}
	s.mem, s.f32, s.raw, s.u8, s.i64 = m, nil, nil, nil, nil
	return nil
}

// release frees the slot's device memory, if it has any.
func (s *slot) release() {
	if s != nil {
		s.mem.free()
		s.mem = nil
	}
}

// value is the tensor of the first n rows.
func (s *slot) value(n int) (onnx.Value, error) {
	shape := append(onnx.Shape{int64(n)}, s.shape...)
	m := n * s.elems
	if s.mem != nil {
		return s.mem.tensor(shape, s.dtype, m*elemBytes(s.dtype))
	}
	switch s.dtype {
	case onnx.TensorElementDataTypeFloat:
		return onnx.NewTensor(shape, s.f32[:m])
	case onnx.TensorElementDataTypeUint8:
		return onnx.NewTensor(shape, s.u8[:m])
	case onnx.TensorElementDataTypeInt64:
		return onnx.NewTensor(shape, s.i64[:m])
	}
	return onnx.NewCustomDataTensor(shape, s.raw[:2*m], s.dtype)
}

// put converts the float32 view of the first n rows into a half tensor.
func (s *slot) put(n int) {
	if s.raw != nil {
		putHalf(s.raw[:2*n*s.elems], s.f32[:n*s.elems], s.dtype == onnx.TensorElementDataTypeBFloat16)
	}
}

// get converts a half tensor's first n rows into the float32 view.
func (s *slot) get(n int) {
	if s.raw != nil {
		getHalf(s.f32[:n*s.elems], s.raw[:2*n*s.elems], s.dtype == onnx.TensorElementDataTypeBFloat16)
	}
}

// dropView frees a half tensor's float32 view, for tensors only graphs
// read (key/values passed from one graph to the next).
func (s *slot) dropView() {
	if s.raw != nil {
		s.f32 = nil
	}
}
