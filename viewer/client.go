package viewer

import (
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/efferent/efferent/api"
)

// client is one browser. The hub offers it messages without ever waiting
// (offer); its writer goroutine sends them; its reader (the handler's
// goroutine) carries out its commands.
type client struct {
	id     int64
	remote string
	conn   *websocket.Conn
	out    chan outMsg
	limit  int // Conf.ClientQueue: out is larger, for the state sent on connecting
	quit   chan struct{}
	once   sync.Once

	sent, dropped, framesDropped atomic.Uint64
}

// offer queues m without blocking. A frame is only queued while the queue
// is less than half full, so that a slow browser loses frames before it
// loses anything else; what does not fit is dropped and counted.
func (c *client) offer(m outMsg) {
	if n := len(c.out); n >= c.limit || m.frame && n >= c.limit/2 {
		c.drop(m)
		return
	}
	c.push(m)
}

// push queues m if there is room at all (the state sent on connecting:
// out has room for all of it).
func (c *client) push(m outMsg) {
	select {
	case c.out <- m:
	default:
		c.drop(m)
	}
}

func (c *client) drop(m outMsg) {
	c.dropped.Add(1)
	if m.frame {
		c.framesDropped.Add(1)
	}
}

func (c *client) stop() { c.once.Do(func() { close(c.quit) }) }

func (c *client) stats() ClientStats {
	return ClientStats{ID: c.id, Remote: c.remote, Sent: c.sent.Load(), Dropped: c.dropped.Load(), FramesDropped: c.framesDropped.Load()}
}

// upgrader keeps gorilla's default origin check behind serveWS's own
// (api.CheckWebsocketOrigin, which is stricter).
var upgrader = websocket.Upgrader{HandshakeTimeout: 10 * time.Second}

// serveWS checks the handshake's origin (a page of another site cannot
// open this websocket: every command goes over it, and a loopback viewer
// has no token to stop such a page), authenticates and upgrades a
// browser's websocket, sends it the hello and the current state, and then
// reads its commands until it goes.
func (v *Viewer) serveWS(w http.ResponseWriter, r *http.Request) {
	if err := api.CheckWebsocketOrigin(r); err != nil {
		v.refuse(w, r, err)
		return
	}
	if ok, presented := v.authorized(r); !ok {
		v.refusePage(w, r, presented)
		return
	}
	if v.closed.Load() {
		http.Error(w, "viewer closed", http.StatusServiceUnavailable)
		return
	}
	if v.tooMany(w, r) {
		return
	}
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader answered the error
	}
	conn.SetReadLimit(v.conf.MaxMessageBytes)
	c := &client{remote: r.RemoteAddr, conn: conn, out: make(chan outMsg, v.conf.ClientQueue+maxSticky), limit: v.conf.ClientQueue,
		quit: make(chan struct{})}

	v.mu.Lock()
	if v.closed.Load() || len(v.clients) >= v.conf.MaxClients {
		v.mu.Unlock()
		if !v.closed.Load() {
			v.full.Add(1)
		}
		_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseTryAgainLater, "too many browsers"), time.Now().Add(time.Second))
		_ = conn.Close()
		return
	}
	v.nextID++
	c.id = v.nextID
	v.conns.Add(1)
	c.push(jsonMsg(helloMsg{Type: "hello", Client: c.id, Title: v.conf.Title, Dims: v.conf.Dims,
		Instructions: v.conf.Instructions, CameraFPS: v.conf.CameraFPS, Auth: v.authMode(),
		Controls: controlsInfo{Teleop: v.conf.Teleop != nil, EStop: v.conf.EStop != nil, Instruction: v.conf.SetInstruction != nil}}))
	for _, m := range v.sticky.all() {
		c.push(m)
	}
	v.clients[c] = struct{}{}
	v.mu.Unlock()
	v.conf.Log.Info("viewer: browser connected", "client", c.id, "remote", c.remote)

	done := make(chan struct{})
	go func() {
		defer close(done)
		v.write(c)
	}()
	v.read(c)
	c.stop()
	<-done
	_ = conn.Close()
	v.mu.Lock()
	delete(v.clients, c)
	v.mu.Unlock()
	st := c.stats()
	v.conf.Log.Info("viewer: browser disconnected", "client", c.id, "remote", c.remote, "sent", st.Sent, "dropped", st.Dropped)
	v.conns.Done()
}

// write sends c's queue until c stops or a write fails (a browser that
// takes nothing for WriteTimeout is dropped), pinging when idle.
func (v *Viewer) write(c *client) {
	ping := time.NewTicker(v.conf.PingInterval)
	defer ping.Stop()
	defer c.conn.Close() // wakes the reader
	for {
		select {
		case <-c.quit:
			_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "viewer closed"),
				time.Now().Add(time.Second))
			return
		case m := <-c.out:
			typ := websocket.TextMessage
			if m.binary {
				typ = websocket.BinaryMessage
			}
			_ = c.conn.SetWriteDeadline(time.Now().Add(v.conf.WriteTimeout))
			if err := c.conn.WriteMessage(typ, m.data); err != nil {
				return
			}
			c.sent.Add(1)
		case <-ping.C:
			if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(v.conf.WriteTimeout)); err != nil {
				return
			}
		}
	}
}

// read carries out c's commands until the connection ends.
func (v *Viewer) read(c *client) {
	alive := func() { _ = c.conn.SetReadDeadline(time.Now().Add(2 * v.conf.PingInterval)) }
	alive()
	c.conn.SetPongHandler(func(string) error { alive(); return nil })
	for {
		typ, data, err := c.conn.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				v.refusals.Warn(v.conf.Log, "oversized", "viewer: message over the size limit; connection closed", "client", c.id, "limit", v.conf.MaxMessageBytes)
			}
			return
		}
		alive()
		if typ != websocket.TextMessage {
			c.offer(jsonMsg(replyMsg{Type: "reply", Op: "?", Error: "binary message: send JSON text"}))
			continue
		}
		m, err := DecodeInbound(data, int(v.conf.MaxMessageBytes))
		if err != nil {
			c.offer(jsonMsg(replyMsg{Type: "reply", Op: "?", Error: err.Error()}))
			continue
		}
		err = v.command(c, m)
		if err != nil || (m.ID != 0 && m.Type != OpTeleop) {
			r := replyMsg{Type: "reply", ID: m.ID, Op: m.Type, OK: err == nil}
			if err != nil {
				r.Error = err.Error()
			}
			c.offer(jsonMsg(r))
		}
	}
}
