// Package viewer is the web page that ships inside the binary: what the
// robot sees (the cameras, as JPEG), what the policy intends (the current
// chunk) and does (the executed setpoints, per action dim), the safety
// verdicts, the controller rate and inference latency, the instruction and
// its false-premise verdict — and, in a run, the teleoperator's side:
// keyboard, gamepad or space-mouse commands, takeover, e-stop, and the
// live comparison of the policy with the teleoperator.
//
// # Real time
//
// The control loop feeds the viewer (Tick from its OnTick; Observation and
// Chunk through Policy on the inference goroutine; Event for episodes) and
// never waits for it: each call copies into a slot sized at New — ticks
// into a single-producer ring, frames and the chunk into latest-value
// slots taken with TryLock — and returns; nothing allocates once a camera
// has been seen. A full ring, or a slot the hub is reading, drops the
// value and counts it (Stats).
//
// One hub goroutine does the rest at Conf.SendHz: drains the ticks into
// one message, encodes new frames as JPEG (at most Conf.CameraFPS per
// camera), sends the new chunk, and at Conf.StatusHz the status. While no
// browser is connected it only drains the ticks: nothing is encoded. Each
// message is encoded once and offered to every browser's bounded queue
// without blocking: a slow browser loses frames first (they are only
// queued while its queue is less than half full), then anything, counted
// per browser; one that takes nothing for Conf.WriteTimeout is dropped.
//
// # Routes
//
//	GET  /viewer/        the page (needs the token when there is one)
//	GET  /viewer/ws      its websocket (idem)
//	GET  /viewer/app.js, /viewer/style.css   the page's script and style
//	POST /viewer/estop   engage the e-stop: open to anyone, stopping is never refused
//
// # Authentication
//
// With Conf.Token, the page and its websocket need it ("Authorization:
// Bearer <token>", or "?token=<token>" on the page's URL, which the page
// passes to its websocket) and answer 401 without it; the 401 page still
// has the e-stop button. Every command on an accepted websocket is then
// authenticated: takeover, e-stop release, instruction changes and teleop
// commands. Without a Token the viewer must be on a loopback address
// (Conf.Loopback) unless Conf.AllowNoAuth. The websocket only accepts
// pages of its own origin (api.CheckWebsocketOrigin: Origin, when
// present, must be the request's own scheme and Host, and Sec-Fetch-Site
// not cross-site or same-site), token or not, so another site open in the
// same browser cannot drive the robot through a loopback viewer; a
// non-GET request from another site is refused too.
//
// Without a Token every route but POST /viewer/estop also refuses (403,
// Stats.Forbidden) a Host header that is not this machine's —
// localhost, *.localhost, 127.0.0.0/8, [::1], 0.0.0.0 or [::], with the
// port the request arrived on — nor in Conf.AllowedHosts, nor, when not
// Loopback, an IP literal: with DNS rebinding a page of attacker.example,
// its name made to resolve to 127.0.0.1, is same-origin with the viewer,
// and only its Host tells. Open the page at http://127.0.0.1:PORT/viewer/
// or http://localhost:PORT/viewer/, list another name in AllowedHosts
// (server.allowed_hosts), or use a Token (then any Host is answered).
//
// At most Conf.MaxClients browsers are connected; past it the page and
// the websocket answer 503 (Stats.Full) — a page that still offers the
// e-stop, which needs no slot. Without a Token all local processes are
// one address, so no per-address cap could keep one from taking every
// slot: a Token makes slots need it. Refusals are logged at most a few
// lines per kind per interval (internal/ratelog).
//
// # Protocol
//
// Browser → viewer: JSON text messages, at most Conf.MaxMessageBytes,
// decoded strictly by DecodeInbound (Op* constants). Teleop commands go to
// the run's teleop.Mux with the controller's clock (Conf.Now) and then
// through the whole safety chain.
//
// Viewer → browser: JSON text messages with a "type" — hello (client id,
// dims, instructions, what can be commanded, auth), ticks (times in ms,
// hold flags, verdict kinds, values, and every verdict change), chunk
// (H×D actions, observation time, step, inference ms), status (rates,
// latencies, counts, drops, per-browser queues, mode, e-stop, live
// comparison), event (episode_start, episode_end, premise, instruction,
// comparison), reply (to a command) — and binary frames: a 4-byte
// big-endian length, a JSON header (camera, seq, w, h, t), the JPEG.
package viewer
