package server

import (
	"fmt"
	"net"
	"time"
)

// Conf configures a Server. Zero values mean the documented default.
type Conf struct {
	// Addr is the TCP address to listen on. Default "127.0.0.1:8000"
	// (openpi's port, loopback only: nothing is exposed unless asked).
	Addr string `yaml:"addr"`
	// MaxFrameBytes bounds one incoming websocket message. Default 16 MiB
	// (a LIBERO observation is about 301 kB).
	MaxFrameBytes int64 `yaml:"max_frame_bytes"`
	// QueueSize is how many requests may wait for the model; one more is
	// answered "busy". Default 8.
	QueueSize int `yaml:"queue_size"`
	// PingInterval is how often the server pings an idle client; a client
	// that does not answer within two intervals is dropped. Default 20s
	// (the websockets library's default, which openpi clients expect).
	PingInterval time.Duration `yaml:"ping_interval"`
	// Metadata is sent to each client as the first frame. Default: an empty
	// map, as openpi sends for LIBERO.
	Metadata map[string]any `yaml:"metadata"`
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Conf) WithDefaults() Conf {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:8000"
	}
	if c.MaxFrameBytes == 0 {
		c.MaxFrameBytes = 16 << 20
	}
	if c.QueueSize == 0 {
		c.QueueSize = 8
	}
	if c.PingInterval == 0 {
		c.PingInterval = 20 * time.Second
	}
	return c
}

// Validate checks c (after defaults); errors name the key.
func (c Conf) Validate() error {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("server.addr: %q: %v", c.Addr, err)
	}
	if c.MaxFrameBytes < 1024 || c.MaxFrameBytes > 1<<30 {
		return fmt.Errorf("server.max_frame_bytes: %d, want 1024 .. 1073741824", c.MaxFrameBytes)
	}
	if c.QueueSize < 1 || c.QueueSize > 4096 {
		return fmt.Errorf("server.queue_size: %d, want 1 .. 4096", c.QueueSize)
	}
	if c.PingInterval < time.Second {
		return fmt.Errorf("server.ping_interval: %v, want at least 1s", c.PingInterval)
	}
	return nil
}

// IsLoopback reports whether addr only listens on the loopback interface.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
