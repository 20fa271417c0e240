// Package remote is a client for an openpi policy server (or efferent's own
// server, which speaks the same protocol) that is itself a policy.Policy.
//
// It lets everything that drives a local model (the control loop, the
// evaluation harness) drive a model served elsewhere instead, e.g. openpi's
// Python server with the published π0.5 LIBERO checkpoint, to compare both
// under the same harness.
//
// On the wire it behaves exactly as openpi's WebsocketClientPolicy with the
// LIBERO example (openpi-protocol.md): a plain websocket without
// compression; the server's first binary frame is its metadata (a msgpack
// map, kept as an api.Value); then one binary msgpack observation per call,
// answered by one binary frame holding "actions" (H, D) and timing maps. A
// text frame from the server is its error report (followed by a close), and
// is returned as a *ServerError carrying the server's text.
//
// A background goroutine owns the reads so that the server's keepalive pings
// are answered between calls too (openpi's websockets server drops a client
// that leaves pings unanswered for 20 s, which an idle evaluation worker
// would otherwise do while its simulator resets). The request/response
// protocol has no request ids, so a call abandoned by its context leaves a
// reply in flight that could not be told from the next one: the connection
// is closed then, and the Policy reports ErrClosed until it is dialled anew.
package remote
