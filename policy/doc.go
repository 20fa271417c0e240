// Package policy turns an observation into a chunk of actions.
//
// It owns the Policy interface (and Batcher, for policies that answer
// several observations in one model run), the model manifest (manifest.yaml, the only
// place where anything about a model is written down: graphs, tensor names
// and shapes, image keys and size, action geometry, token band,
// normalisation statistics, text tokenizer and provenance), and the pure-Go
// parts of decoding (constrained arg-max over the action-token band).
//
// This package is pure Go. Two packages talk to ONNX Runtime, through cgo
// (github.com/yalue/onnxruntime_go):
//
//   - policy/ort runs the VLA models described here (encoder, decoder and
//     latent-decoder graphs) as a Policy and a Batcher. It also owns
//     loading the shared library (ort.Init) and the session options
//     (ort.NewSessionOptions: threads, execution provider).
//   - safety/premise/onnxdet runs an open-vocabulary object detector (an
//     OWL-ViT/OWLv2 export) for the false-premise checker. It is not a
//     policy, so it is not in policy/ort; it reuses policy/ort's library
//     loading and session options, and creates and runs its own sessions.
//
// Both are cgo leaves: no other library package imports them (onnxdet
// imports policy/ort, for the library and the options, and nothing
// imports onnxdet). Everything above them sees Go types only: this
// package, the server and the remote client have no cgo in them, and only
// a program that runs a model (the efferent command) or a learned
// detector links ONNX Runtime's bindings.
package policy
