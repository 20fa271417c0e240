// Package server serves a policy over the openpi websocket protocol, so
// that openpi's LIBERO client (and anything else written against openpi's
// websocket_policy_server) can drive efferent unmodified.
//
// Wire: right after the handshake the server sends one binary msgpack frame
// with the metadata map; then each binary request frame (a msgpack
// observation with numpy arrays) gets one binary reply frame with
// "actions" (H×D float64) and timing maps. An error is reported as a text
// frame naming what was wrong, followed by a close frame: 1011 (as openpi)
// for a bad request or a failed inference, 1013 (try again later) when the
// model's queue is full, 1009 when a frame exceeds the size limit.
// Each reply also carries "session" (the connection's id) and "seq" (the
// request's own seq key, or its number on the connection), keys openpi
// clients ignore; a request not answered within Conf.RequestTimeout gets a
// "timeout" error.
// GET /healthz answers "OK\n" (liveness); GET /readyz answers 200 once
// the model's warm-up inference has run, 503 before (readiness); GET
// /metrics serves Prometheus metrics; any other path is upgraded to a
// websocket, as openpi does. With Conf.AuthToken set, every path but
// /healthz and /readyz needs the token (bearer header or ?token=).
//
// Concurrency: one goroutine per connection reads, decodes and encodes; a
// single worker goroutine owns the policy and runs one inference at a time
// from a bounded queue. A full queue is a prompt "busy" error, never a
// hang, and a slow model never blocks other connections' readers.
package server
