package server

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// connLimiter bounds the open TCP connections, in all and per client
// address. It wraps the listener: a connection past a bound is answered
// with a 503 (a websocket client's handshake fails with it, a REST client
// reads it) and closed before the HTTP server sees it, so a flood of
// connections costs a counter, not a goroutine each.
type connLimiter struct {
	max, perClient int
	metrics        *metrics
	log            *slog.Logger

	mu     sync.Mutex
	open   int
	byAddr map[string]int
}

func newConnLimiter(max, perClient int, m *metrics, log *slog.Logger) *connLimiter {
	return &connLimiter{max: max, perClient: perClient, metrics: m, log: log, byAddr: map[string]int{}}
}

func (l *connLimiter) wrap(ln net.Listener) net.Listener { return &limitedListener{Listener: ln, l: l} }

// admit counts a new connection from addr, or says which bound it is past.
func (l *connLimiter) admit(addr string) (ok bool, why string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.open >= l.max:
		return false, fmt.Sprintf("too many connections (%d open, server.max_connections)", l.open)
	case l.byAddr[addr] >= l.perClient:
		return false, fmt.Sprintf("too many connections from %s (%d open, server.max_connections_per_client)", addr, l.byAddr[addr])
	}
	l.open++
	l.byAddr[addr]++
	return true, ""
}

func (l *connLimiter) leave(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if l.byAddr[addr]--; l.byAddr[addr] <= 0 {
		delete(l.byAddr, addr)
	}
}

type limitedListener struct {
	net.Listener
	l *connLimiter
}

// Accept returns the next connection within the bounds; those past them
// are refused here and never returned.
func (ln *limitedListener) Accept() (net.Conn, error) {
	for {
		c, err := ln.Listener.Accept()
		if err != nil {
			return nil, err
		}
		addr := clientKey(c.RemoteAddr().String())
		ok, why := ln.l.admit(addr)
		if ok {
			return &limitedConn{Conn: c, l: ln.l, addr: addr}, nil
		}
		ln.l.metrics.connRefused.Inc()
		ln.l.log.Debug("connection refused", "remote", c.RemoteAddr().String(), "why", why)
		go refuseConn(c, why)
	}
}

// refuseConn answers 503 with why and closes c within a second. The
// request is not parsed: the answer goes first, then at most 64 KiB of what
// the client sent is read and dropped before the close.
func refuseConn(c net.Conn, why string) {
	body := fmt.Sprintf(`{"error":"busy: %s; retry later"}`+"\n", why)
	_ = c.SetDeadline(time.Now().Add(time.Second))
	_, _ = fmt.Fprintf(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	if tc, ok := c.(*net.TCPConn); ok && tc.CloseWrite() == nil {
		// Read a little of what the client sent, so that the kernel does
		// not answer it with a reset that destroys the 503 in flight.
		_, _ = io.Copy(io.Discard, io.LimitReader(tc, 64<<10))
	}
	_ = c.Close()
}

// limitedConn gives its place back when closed (once, however often
// Close is called: by the HTTP server, or by a websocket after hijacking).
type limitedConn struct {
	net.Conn
	l    *connLimiter
	addr string
	once sync.Once
}

func (c *limitedConn) Close() error {
	c.once.Do(func() { c.l.leave(c.addr) })
	return c.Conn.Close()
}

// CloseWrite half-closes the connection when the underlying one can (the
// server's lingering close after refusing a request needs it).
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
