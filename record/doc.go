// Package record writes what a run sees and does to an MCAP file and reads
// it back: camera frames, observations, chunks, every setpoint with its
// safety verdict, teleop commands and episode events. A recording is the
// input of `efferent replay` (regression tests of the control path and of
// new models against recorded episodes) and opens in Foxglove Studio.
//
// # Schema
//
// Every message is JSON (MCAP message encoding "json") with a JSON Schema
// (schema encoding "jsonschema"); times are nanoseconds since the Unix
// epoch unless noted. Topics:
//
//	/camera/<key>   foxglove.CompressedImage: {timestamp{sec,nsec}, frame_id,
//	                data (base64), format "jpeg" or "png"} — the frame the
//	                policy saw, Foxglove's own schema so Studio displays it
//	/observation    efferent.Observation: {seq, time, prompt, state, images}
//	/chunk          efferent.Chunk: {seq, obs_time, model, h, d,
//	                step_period_ns, actions (row-major h×d), tokens}
//	/setpoint       efferent.Setpoint: {time, seq, hold, values, verdict,
//	                reason, dim} — after the gate, one per controller tick
//	/teleop         efferent.Teleop: {time, mode, values, source}
//	/event          efferent.Event: {time, kind, task, instruction,
//	                success, detail} — run (the configuration), episode_start,
//	                premise (the instruction's verdict), comparison (policy
//	                against teleoperator), episode_end
//
// The log time of each message is its own time field.
//
// # Real time
//
// The producers (the tick goroutine for setpoints, the inference goroutine
// for observations and chunks) never block and allocate nothing: each
// record is copied into a bounded queue (setpoints by value, images into
// one of a fixed set of buffers) that one writer goroutine drains. When the
// queue or the buffers are exhausted the record is dropped and counted
// (Stats), never waited for.
package record
