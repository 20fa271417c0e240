// Package policy turns an observation into a chunk of actions.
//
// It owns the Policy interface (and Batcher, for policies that answer
// several observations in one model run), the model manifest (manifest.yaml, the only
// place where anything about a model is written down: graphs, tensor names
// and shapes, image keys and size, action geometry, token band,
// normalisation statistics, text tokenizer and provenance), and the pure-Go
// parts of decoding (constrained arg-max over the action-token band).
//
// The ONNX Runtime implementation lives in the leaf package policy/ort, the
// only package that talks to ONNX Runtime through cgo; everything above it
// sees Go types only.
package policy
