// Package bench measures efferent's parts against its latency targets and
// reports them the one way every `efferent bench` subcommand does: a table
// on the terminal and <out>/<name>.json (Report.Write) with the machine,
// the sample count, p50/p99/max/mean in microseconds, the heap allocations
// per operation and a verdict against the target.
//
// What is measured, and why:
//
//   - Tick: the real-time path at a robot profile's rate (1 kHz for the
//     Franka) in real time, built by package rig exactly as `efferent run`
//     builds it on a ROS robot: the scheduler interpolating chunks from a
//     policy on its own goroutine, the whole gate chain, the hand-off to a
//     publisher goroutine. Jitter, missed deadlines and allocations per
//     tick are what decide whether a host can drive an arm; ProbeStalls
//     tells the machine's own stalls apart from the loop's.
//   - Detok: the action detokenizers (the model's residual VQ and
//     OpenVLA's 256 bins), which run on every chunk.
//   - Preprocess: a camera frame brought to the model's size (and
//     undistorted), on one core as a camera goroutine gets.
//   - Infer: the model itself, split into the prefix (encoder), each
//     action token and the whole chunk, with and without the KV cache.
//   - Serve: the websocket server under 1..n concurrent openpi clients,
//     with and without batching: requests/s, round-trip p50/p99, the mean
//     batch and the server's time per request outside the model.
//
// The native parts (ONNX Runtime, OpenCV, the server with its model) are
// not imported here: the caller injects them (InferConf.Open,
// PreprocessConf.New, ServeConf.Start), so that this package builds and
// tests without cgo.
package bench
