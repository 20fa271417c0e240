// Package ort runs efferent models under ONNX Runtime, through cgo and
// github.com/yalue/onnxruntime_go, and exposes Go types only. It owns the
// library's loading and the session options; the one other package that
// calls ONNX Runtime, safety/premise/onnxdet (a detector, not a policy),
// reuses them (Init, NewSessionOptions).
//
// The shared library is not linked at build time: it is loaded at run time
// from the first of Conf.Library, $EFFERENT_ORT_LIBRARY, the path baked in
// at build time (-ldflags -X .../policy/ort.defaultLibrary=...), and the
// cache where `make setup` puts it
// ($EFFERENT_CACHE or ${XDG_CACHE_HOME:-~/.cache}/efferent, then
// onnxruntime/1.24.1/libonnxruntime.so.1). So a user never has to set
// LD_LIBRARY_PATH.
//
// A VLA model runs as three graphs named by the manifest: an encoder
// (images, state and prompt ids → the decoder's key/value cache for the
// prefix), a one-token decoder in the Hugging Face/Optimum KV-cache layout
// run once per action token with decoding constrained to each position's
// token band, and optionally a VQ latent decoder. Sessions are created once;
// every input and output tensor is allocated once per VLA and batch size
// and reused, and the present key/values of one decoding step are bound
// directly as the past of the next, so the cache is never copied.
//
// Execution providers (Conf.Provider): the CPU; CUDA and TensorRT compiled
// into the library, or from a plugin library beside it, registered through
// ONNX Runtime's plugin execution-provider API (capi.go calls the parts of
// the C API onnxruntime_go does not wrap). A provider that cannot start is
// an error naming why (ErrProvider, ErrProviderLibrary), never a fall-back
// to the CPU. On a GPU, the tensors one graph writes and the next reads
// (the key/value cache, a flow prefix's keys and values) live in device
// memory and are bound like the rest (device.go); policy.Copier counts
// what still crosses PCIe. Bare runs the same graphs the plainest way, for
// benchmarks.
//
// When both graphs have a symbolic batch axis, VLA is a policy.Batcher:
// several observations run as one batch. The tensors of every batch size
// are views of one arena sized for the largest batch seen (row j of any
// batch sits at the same offset), so serving batches of 1 to 8 holds the
// memory of 8 rows, and a repeated batch size allocates nothing.
package ort
