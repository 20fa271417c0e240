package server

import (
	"fmt"
	"net"
	"net/http"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/api"
	"github.com/efferent/efferent/policy"
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
	// MaxFramePixels bounds the pixels of one request's images together
	// (compressed ones are checked from their headers, before any pixel
	// is decompressed: a small PNG must not expand into gigabytes).
	// Default 4194304 (4 Mpx: three 1280×1024 cameras; a LIBERO request
	// has 100 352).
	MaxFramePixels int `yaml:"max_frame_pixels"`
	// MaxPixelRate bounds the image pixels per second one websocket
	// connection (REST: one client address) may send, on average, with a
	// burst of one second's worth or MaxFramePixels, whichever is more;
	// past it a websocket client gets "rate limited" and close 1013, a
	// REST client 429. Default 64e6 (three 1280×720 cameras at 20 Hz
	// need 55e6). Negative: no limit.
	MaxPixelRate float64 `yaml:"max_pixel_rate"`
	// MaxInflightBytes bounds the memory that large requests (a frame
	// over 512 KiB, or a compressed image over 512×512) hold at once.
	// Each holds a share of max_frame_bytes + 3·max_frame_pixels while it
	// is read, decoded and resized to the model's size, so
	// max_inflight_bytes / that many are in progress at once (4 with the
	// defaults); the others wait, their TCP streams stalled, at most
	// request_timeout, then get "busy" and close 1013. Small requests
	// never wait for it. Default 134217728 (128 MiB).
	MaxInflightBytes int64 `yaml:"max_inflight_bytes"`
	// MaxDecodes is how many large images (over 512×512 pixels) are
	// decoded or resized at once, leaving the other cores to the model
	// and to small requests. Default max(1, GOMAXPROCS/2).
	MaxDecodes int `yaml:"max_decodes"`
	// MaxConnections bounds the open TCP connections (websocket and
	// HTTP); MaxConnectionsPerClient those from one address. A connection
	// past either is answered 503 and closed. Defaults 256 and 64 (an
	// evaluation with many workers on one host needs one each).
	MaxConnections          int `yaml:"max_connections"`
	MaxConnectionsPerClient int `yaml:"max_connections_per_client"`
	// IdleTimeout closes a websocket connection that sends no request for
	// this long (answering pings does not count), with close 1000 and the
	// reason; HTTP keep-alive connections are closed after min(this, 2m)
	// idle. Default 1h: a real robot's operator may take minutes to reset
	// a scene between episodes, and openpi's client does not reconnect.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// BodyTimeout bounds reading one request once it has begun: a
	// websocket message from its first frame (close 1008 past it) or a
	// REST body (the connection is closed). Default 30s (16 MiB at
	// 5 Mbit/s).
	BodyTimeout time.Duration `yaml:"body_timeout"`
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
	// "Authorization: Bearer <token>" or "Authorization: Api-Key <token>"
	// (openpi's WebsocketClientPolicy(api_key=…)), or as "?token=<token>"
	// for browser and websocket clients that cannot set headers. At least
	// 16 characters (e.g. `openssl rand -hex 16`). Default "": no auth,
	// which is allowed only on a loopback Addr unless AllowNoAuth; without
	// a token every route but POST /estop refuses (403) a Host header
	// that is not this machine's (localhost, *.localhost, 127.0.0.0/8,
	// [::1], 0.0.0.0, [::], with the port the request arrived on) or in
	// AllowedHosts: a defence against DNS rebinding.
	AuthToken string `yaml:"auth_token"`
	// AllowNoAuth lets a non-loopback Addr run without AuthToken (anyone who
	// reaches it can query the policy; a warning is logged); any
	// IP-literal Host is then accepted too. Default false.
	AllowNoAuth bool `yaml:"allow_no_auth"`
	// AllowedHosts are further host names (any port) that a server
	// without AuthToken answers, e.g. [robot.lab.example] to open
	// http://robot.lab.example:8000/viewer/ on a server started with
	// allow_no_auth. Names only: no scheme, port or wildcard. With a
	// token any Host is answered. Default: none.
	AllowedHosts []string `yaml:"allowed_hosts"`
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
	// NewResizer, when set, makes resizers that bring an image to the
	// model's size exactly as the policy would (efferent serve sets the
	// manifest's camera preprocessing, the one policy.Resizing uses). The
	// server then resizes each request's images on the client's goroutine
	// as soon as they are decoded, and lets go of the frame: what waits
	// for the model is model-sized, and the model's worker does no
	// per-pixel work for a client that sends large images. Nil: images
	// reach the policy as sent. Not configurable from YAML.
	NewResizer func() (policy.Resizer, error) `yaml:"-"`
	// TrimNative, when set, returns freed native memory to the operating
	// system (efferent serve: camera/cv.TrimMemory, glibc's malloc_trim),
	// called with Go's debug.FreeOSMemory once no large request has been
	// in progress for a second. Not configurable from YAML.
	TrimNative func() `yaml:"-"`
	// EStop, when set (efferent run --serve), is driven over HTTP: POST
	// /estop engages it — open to anyone who can reach the server, since
	// stopping must never be refused — and POST /estop/reset releases it,
	// which needs the token like everything that can move a robot; GET
	// /estop reports it. Not configurable from YAML.
	EStop EStop `yaml:"-"`
	// CheckPremise (YAML premise, efferent serve --premise) asks for
	// false-premise checks: whoever builds the server builds Premise from
	// it (efferent serve: the simulator's checker), and New refuses
	// CheckPremise with a nil Premise rather than serve unchecked.
	// Validate does not look at it, since the checker is built after the
	// configuration is read. Premise is used whenever it is set, with or
	// without CheckPremise. Default false: a checker only knows the
	// objects it was built for, and would refuse other scenes.
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
	// Collectors are more Prometheus series served at /metrics beside the
	// server's: efferent run --serve adds the robot's control loop and
	// e-stop (a *metrics.Collector). Register collectors, not registries:
	// the server's registry has Go's runtime and process series already.
	// Not configurable from YAML.
	Collectors []prometheus.Collector `yaml:"-"`
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
	if c.MaxFramePixels == 0 {
		c.MaxFramePixels = 4 << 20
	}
	if c.MaxPixelRate == 0 {
		c.MaxPixelRate = 64e6
	}
	if c.MaxInflightBytes == 0 {
		c.MaxInflightBytes = 128 << 20
	}
	if c.MaxDecodes == 0 {
		c.MaxDecodes = max(1, runtime.GOMAXPROCS(0)/2)
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = 256
	}
	if c.MaxConnectionsPerClient == 0 {
		c.MaxConnectionsPerClient = 64
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = time.Hour
	}
	if c.BodyTimeout == 0 {
		c.BodyTimeout = 30 * time.Second
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
	if c.MaxFramePixels < 1 || c.MaxFramePixels > 1<<28 {
		return fmt.Errorf("server.max_frame_pixels: %d, want 1 .. 268435456", c.MaxFramePixels)
	}
	if c.MaxPixelRate != c.MaxPixelRate || c.MaxPixelRate > 1e12 {
		return fmt.Errorf("server.max_pixel_rate: %v, want a number ≤ 1e12 pixels/s (negative: no limit)", c.MaxPixelRate)
	}
	if slot := c.MaxFrameBytes + 3*int64(c.MaxFramePixels); c.MaxInflightBytes < slot || c.MaxInflightBytes > 1<<40 {
		return fmt.Errorf("server.max_inflight_bytes: %d, want at least max_frame_bytes + 3·max_frame_pixels (%d): one large request's share", c.MaxInflightBytes, slot)
	}
	if c.MaxDecodes < 1 || c.MaxDecodes > 1024 {
		return fmt.Errorf("server.max_decodes: %d, want 1 .. 1024", c.MaxDecodes)
	}
	if c.MaxConnections < 1 || c.MaxConnectionsPerClient < 1 || c.MaxConnectionsPerClient > c.MaxConnections {
		return fmt.Errorf("server.max_connections %d / max_connections_per_client %d: want 1 ≤ per client ≤ total", c.MaxConnections, c.MaxConnectionsPerClient)
	}
	if c.IdleTimeout < time.Second || c.BodyTimeout < 100*time.Millisecond {
		return fmt.Errorf("server.idle_timeout %v / body_timeout %v: want ≥ 1s / ≥ 100ms", c.IdleTimeout, c.BodyTimeout)
	}
	if c.AuthToken != "" && len(c.AuthToken) < MinTokenLen {
		return fmt.Errorf("server.auth_token: %d characters, want at least %d (e.g. `openssl rand -hex 16`)", len(c.AuthToken), MinTokenLen)
	}
	if err := api.CheckAllowedHosts(c.AllowedHosts); err != nil {
		return fmt.Errorf("server.allowed_hosts%w", err)
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
