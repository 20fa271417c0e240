// Package server serves a policy over the openpi websocket protocol, so
// that openpi's LIBERO client (and anything else written against openpi's
// websocket_policy_server) can drive efferent unmodified.
//
// Wire: right after the handshake the server sends one binary msgpack frame
// with the metadata map; then each binary request frame (a msgpack
// observation with numpy arrays) gets one binary reply frame with
// "actions" (H×D float64) and timing maps. An error is reported as a text
// frame naming what was wrong, followed by a close frame: 1008 (policy
// violation) for a bad observation (undecodable, unfit for the model, or
// refused by the policy: policy.ErrBadObservation), 1011 (as openpi) for a
// failed inference, 1013 (try again later) when the model's queue is full,
// 1009 when a frame exceeds the size limit.
// Each reply also carries "session" (the connection's id) and "seq" (the
// request's own seq key, or its number on the connection), keys openpi
// clients ignore; a request not answered within Conf.RequestTimeout gets a
// "timeout" error.
// GET /healthz answers "OK\n" (liveness); GET /readyz answers 200 once
// the model's warm-up inference has run, 503 before (readiness); GET
// /metrics serves Prometheus metrics; any other path is upgraded to a
// websocket, as openpi does. With Conf.AuthToken set, every path but
// /healthz and /readyz needs the token ("Authorization: Bearer <token>",
// "Authorization: Api-Key <token>" as openpi's WebsocketClientPolicy
// sends it with api_key, or ?token=).
//
// Browsers (guard.go, api/guard.go): without a token, "whoever is on this
// machine" is trusted, so every route but the open POST /estop refuses
// (403, counted forbidden) a Host header that is not this machine's —
// localhost, *.localhost, 127.0.0.0/8, [::1], 0.0.0.0, [::], with the
// port the request arrived on — nor in Conf.AllowedHosts, nor, on a
// non-loopback Addr (AllowNoAuth), an IP literal: a page whose name an
// attacker makes resolve to 127.0.0.1 (DNS rebinding) is same-origin with
// the server in the browser's eyes, and only its Host tells. To use
// another name, list it in allowed_hosts or set a token (then any Host is
// answered). Token or not, the routes that change state — POST
// /estop/reset, POST /act and the websocket — refuse a request from a
// page of another origin (403; cross-site request forgery), and the POSTs
// a body type a cross-site form can send (415: /estop/reset takes no body
// or application/json, /act application/json). Clients that are not
// browsers send no Origin and are not affected. Refusals are logged at
// most a few lines per kind per interval (internal/ratelog), and counted.
//
// Concurrency: one goroutine per connection reads, decodes and encodes; a
// single worker goroutine owns the policy and runs one inference at a time
// from a bounded queue. A full queue is a prompt "busy" error, never a
// hang, and a slow model never blocks other connections' readers.
package server
