package remote

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/policy"
)

// Client is a remote policy that outlives its connection: when the
// connection breaks (the server restarts, the network drops, a call times
// out and is abandoned) the call that saw it fails, and the next Infer
// dials again — at once the first time, then after waits that double from
// Conf.ReconnectMin to Conf.ReconnectMax while the server stays away. Calls
// made while a wait is running fail at once with ErrReconnecting, so a
// control loop holds the robot and keeps its rate instead of blocking on a
// dial. A reply is only ever taken from the connection its request was
// sent on, and, from an efferent server, only when its seq names that
// request, so a reconnect can never deliver an old chunk.
//
// Like every policy.Policy it belongs to one goroutine; only Close may be
// called from another.
type Client struct {
	url  string
	conf Conf

	p        *Policy // the current connection; nil while disconnected
	wait     time.Duration
	nextDial time.Time
	lastErr  error
	dials    int // successful dials after the first
	h, d     int // chunk geometry learnt from replies, kept across connections

	mu     sync.Mutex // guards closed and p against Close
	closed bool
}

var _ policy.Policy = (*Client)(nil)

// Connect dials rawURL (see Dial) and returns a Client. The first dial must
// succeed, so a wrong address or token is reported at once.
func Connect(ctx context.Context, rawURL string, conf Conf) (*Client, error) {
	conf = conf.WithDefaults()
	p, err := Dial(ctx, rawURL, conf)
	if err != nil {
		return nil, err
	}
	return &Client{url: p.URL(), conf: conf, p: p}, nil
}

// Infer implements policy.Policy, dialling first when the connection is
// down and a dial is due.
func (c *Client) Infer(ctx context.Context, obs *efferent.Observation, out *efferent.Chunk) error {
	p, err := c.conn(ctx)
	if err != nil {
		return err
	}
	return p.Infer(ctx, obs, out)
}

// conn returns a usable connection, dialling when the last one broke.
func (c *Client) conn(ctx context.Context) (*Policy, error) {
	c.mu.Lock()
	closed, p := c.closed, c.p
	c.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("remote %s: %w", c.url, ErrClosed)
	}
	if p != nil && p.broken == nil {
		return p, nil
	}
	if p != nil {
		c.lastErr, c.h, c.d = p.broken, p.h, p.d
		p.Close()
		c.setConn(nil)
		c.nextDial = c.conf.Now() // the first attempt after a break is immediate
	}
	now := c.conf.Now()
	if now.Before(c.nextDial) {
		return nil, fmt.Errorf("remote %s: %w: next attempt in %v (last error: %v)",
			c.url, ErrReconnecting, c.nextDial.Sub(now).Round(time.Millisecond), c.lastErr)
	}
	np, err := Dial(ctx, c.url, c.conf)
	if err != nil {
		c.wait = min(max(2*c.wait, c.conf.ReconnectMin), c.conf.ReconnectMax)
		c.nextDial, c.lastErr = c.conf.Now().Add(c.wait), err
		return nil, fmt.Errorf("%w: %w (next attempt in %v)", ErrReconnecting, err, c.wait)
	}
	// The geometry promised to the caller holds on the new connection too:
	// a server that comes back with another model is refused.
	np.h, np.d = c.h, c.d
	if !c.setConn(np) {
		np.Close()
		return nil, fmt.Errorf("remote %s: %w", c.url, ErrClosed)
	}
	c.wait, c.dials = 0, c.dials+1
	return np, nil
}

// setConn installs p unless the Client was closed meanwhile.
func (c *Client) setConn(p *Policy) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.p = p
	return true
}

// Reconnects is how many times the Client has dialled again after a break.
func (c *Client) Reconnects() int { return c.dials }

// URL is the server's address as dialled.
func (c *Client) URL() string { return c.url }

// Metadata implements policy.Policy: that of the current (or last)
// connection; Horizon and Dim are learnt from replies as Policy does.
func (c *Client) Metadata() policy.Metadata {
	c.mu.Lock()
	p := c.p
	c.mu.Unlock()
	if p == nil {
		return (&Policy{url: c.url, conf: c.conf, h: c.h, d: c.d}).Metadata()
	}
	return p.Metadata()
}

// Close implements policy.Policy; it aborts a call in progress and may be
// called from any goroutine, more than once.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	p := c.p
	c.mu.Unlock()
	if p != nil {
		return p.Close()
	}
	return nil
}
