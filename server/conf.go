package server

import (
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/safety"
	"github.com/efferent/efferent/safety/premise"
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
	// answered "busy". Default 32.
	QueueSize int `yaml:"queue_size"`
	// MaxBatch is the most requests run as one batch: when the model frees
	// up, the requests waiting for it (up to MaxBatch) run together, each
	// still answered on its own connection. 1 turns batching off. Capped
	// by the model (1 when its graphs have a fixed batch of one). Default 8.
	MaxBatch int `yaml:"max_batch"`
	// BatchWait is how long a request may wait, from its arrival, for
	// others to join its batch when fewer than MaxBatch are queued. 0 never
	// waits: a batch is what is queued when the model frees up, which
	// under load is already full and when idle adds no latency. Default 0.
	BatchWait time.Duration `yaml:"batch_wait"`
	// PingInterval is how often the server pings an idle client; a client
	// that does not answer within two intervals is dropped. Default 20s
	// (the websockets library's default, which openpi clients expect).
	PingInterval time.Duration `yaml:"ping_interval"`
	// Metadata is sent to each client as the first frame. Default: an empty
	// map, as openpi sends for LIBERO.
	Metadata map[string]any `yaml:"metadata"`
	// AuthToken, when set, is required of every client, on every path but
	// /healthz and /readyz (which say only "up" and "ready"): as
	// "Authorization: Bearer <token>", or as "?token=<token>" for browser
	// and websocket clients that cannot set headers. At least 16
	// characters (e.g. `openssl rand -hex 16`). Default "": no auth, which
	// is allowed only on a loopback Addr unless AllowNoAuth.
	AuthToken string `yaml:"auth_token"`
	// AllowNoAuth lets a non-loopback Addr run without AuthToken (anyone who
	// reaches it can query the policy; a warning is logged). Default false.
	AllowNoAuth bool `yaml:"allow_no_auth"`
	// RequestTimeout bounds one request from its arrival to its reply. A
	// request still queued at its deadline is skipped, never run late; the
	// client gets a "timeout" error and close 1011. Default 30s.
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// SkipWarmup: by default the model worker first runs one inference on
	// a blank observation (so the first client does not pay for lazy
	// initialisation), and /readyz reports ready only after it. Default
	// false.
	SkipWarmup bool `yaml:"skip_warmup"`
	// RateLimit is how many requests per second one client (IP address)
	// may send, on average; RateBurst how many it may send at once. Past
	// it a websocket client gets "rate limited" and close 1013, a REST
	// client 429. Default 0: no limit (a robot replanning at 4 Hz and an
	// evaluation with many workers on one host look alike). RateBurst
	// defaults to max(1, RateLimit).
	RateLimit float64 `yaml:"rate_limit"`
	RateBurst int     `yaml:"rate_burst"`
	// DecodeImage decodes PNG/JPEG camera frames (after their header has
	// been checked against the size limit). Not configurable from YAML:
	// efferent serve sets OpenCV's (camera/cv.DecodeImage); nil uses Go's
	// standard library (api.DecodeStdImage), which keeps this package free
	// of cgo.
	DecodeImage func(data []byte, maxSide int) (efferent.Image, error) `yaml:"-"`
	// EStop, when set (efferent run --serve), is driven over HTTP: POST
	// /estop engages it — open to anyone who can reach the server, since
	// stopping must never be refused — and POST /estop/reset releases it,
	// which needs the token like everything that can move a robot; GET
	// /estop reports it. Not configurable from YAML.
	EStop EStop `yaml:"-"`
	// CheckPremise asks efferent serve to build Premise (the simulator's
	// checker). Default false: a checker only knows the objects it was
	// built for, and would refuse other scenes.
	CheckPremise bool `yaml:"premise"`
	// Premise, when set (efferent serve --premise), checks each client's
	// instruction against its camera frames before the policy runs: an
	// instruction naming an object that is not in view is refused (the
	// reply carries "premise" and "error" instead of "actions"; REST
	// answers 422), an ambiguous one gets a question, and an accepted one
	// is answered as usual with the verdict under "premise". Decided on
	// each new instruction's first request. Not configurable from YAML.
	Premise *premise.Checker `yaml:"-"`
	// Routes are extra handlers mounted on the server's mux, pattern (as
	// http.ServeMux takes it) → handler: efferent run/serve --viewer mounts
	// the viewer at "/viewer/". They are mounted as given, so each does its
	// own authentication. Not configurable from YAML.
	Routes map[string]http.Handler `yaml:"-"`
}

// EStop is the latch the /estop endpoints drive (a *safety.EStop).
type EStop interface {
	Trigger(source string)
	Reset()
	Status() safety.EStopStatus
}

// MinTokenLen is the shortest AuthToken accepted.
const MinTokenLen = 16

// WithDefaults returns c with zero fields set to their defaults.
func (c Conf) WithDefaults() Conf {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:8000"
	}
	if c.MaxFrameBytes == 0 {
		c.MaxFrameBytes = 16 << 20
	}
	if c.QueueSize == 0 {
		c.QueueSize = 32
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = 8
	}
	if c.PingInterval == 0 {
		c.PingInterval = 20 * time.Second
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 30 * time.Second
	}
	if c.RateBurst == 0 && c.RateLimit > 0 {
		c.RateBurst = max(1, int(c.RateLimit))
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
	if c.MaxBatch < 1 || c.MaxBatch > 256 {
		return fmt.Errorf("server.max_batch: %d, want 1 (no batching) .. 256", c.MaxBatch)
	}
	if c.BatchWait < 0 || c.BatchWait > time.Second {
		return fmt.Errorf("server.batch_wait: %v, want 0 .. 1s", c.BatchWait)
	}
	if c.PingInterval < time.Second {
		return fmt.Errorf("server.ping_interval: %v, want at least 1s", c.PingInterval)
	}
	if c.RequestTimeout < time.Millisecond || c.RequestTimeout > time.Hour {
		return fmt.Errorf("server.request_timeout: %v, want 1ms .. 1h", c.RequestTimeout)
	}
	if c.RateLimit < 0 || c.RateLimit > 1e6 || c.RateLimit != c.RateLimit {
		return fmt.Errorf("server.rate_limit: %v, want 0 (off) .. 1000000 requests/s", c.RateLimit)
	}
	if c.RateBurst < 0 || c.RateBurst > 1e6 {
		return fmt.Errorf("server.rate_burst: %d, want 0 .. 1000000", c.RateBurst)
	}
	if c.AuthToken != "" && len(c.AuthToken) < MinTokenLen {
		return fmt.Errorf("server.auth_token: %d characters, want at least %d (e.g. `openssl rand -hex 16`)", len(c.AuthToken), MinTokenLen)
	}
	if c.AuthToken == "" && !c.AllowNoAuth && !IsLoopback(c.Addr) {
		return fmt.Errorf("server.addr: %s is not a loopback address and server.auth_token is empty: "+
			"set a token (EFFERENT_TOKEN, --token) or, to expose the policy to anyone who can reach it, "+
			"server.allow_no_auth: true (--insecure-no-auth)", c.Addr)
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
