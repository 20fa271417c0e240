package viewer

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/api"
	"github.com/efferent/efferent/safety"
	"github.com/efferent/efferent/teleop"
)

// Limits of the producer side: buffers are sized once, so the control
// loop's calls never allocate.
const (
	// MaxCameras is how many camera names the viewer shows (more are
	// ignored and counted as dropped frames).
	MaxCameras = 8
	// MaxDim is the most action dimensions a tick carries (more are cut).
	MaxDim = 16
)

// Conf configures a Viewer. Zero values mean the documented default.
type Conf struct {
	// Title names what is being viewed on the page, e.g. "efferent run
	// --robot sim". Default "efferent".
	Title string
	// Loopback says the page is only reachable from this machine (the
	// listen address is a loopback one: server.IsLoopback). Then, without
	// a Token, everything is open to local users, as the openpi server is.
	Loopback bool
	// Token, when set, is required of the page, its websocket and every
	// command (header "Authorization: Bearer <token>" or "?token=<token>"
	// on the page's URL, which the page passes on to its websocket); a
	// missing or wrong one is answered 401. Only the e-stop (POST
	// /viewer/estop, and the button on the 401 page) is open: stopping is
	// never refused. Required when not Loopback, unless AllowNoAuth.
	Token string
	// AllowNoAuth lets a non-loopback viewer run without a Token: anyone
	// who reaches it can take the robot over. Default false.
	AllowNoAuth bool
	// AllowedHosts are further host names (any port) that a viewer
	// without a Token answers (server.allowed_hosts). Without a Token
	// every route but POST /viewer/estop refuses (403) a Host header that
	// is not this machine's — localhost, *.localhost, 127.0.0.0/8, [::1],
	// 0.0.0.0 or [::], with the port the request arrived on — nor in
	// AllowedHosts, nor (when not Loopback) an IP literal: a page of a
	// name that an attacker makes resolve to 127.0.0.1 (DNS rebinding)
	// must not reach the robot. With a Token any Host is answered.
	AllowedHosts []string

	// Teleop is the run's teleop gate: the page's teleop commands go to its
	// Command (stamped with Now), its mode switch to SetMode, and its
	// comparison summary is shown live. Nil: no teleop (efferent serve).
	Teleop *teleop.Mux
	// Now is the controller's clock (the setpoints' time base), used to
	// stamp teleop commands. Default time.Now (a real-time run).
	Now func() time.Time
	// OnTeleop, if set, is told every accepted teleop command (the run
	// records them). It runs on the client's reader goroutine.
	OnTeleop func(t time.Time, mode teleop.Mode, values []float64, source string)
	// EStop is the run's e-stop latch: the page's e-stop triggers it, its
	// reset releases it. Nil: no e-stop here.
	EStop *safety.EStop
	// SetInstruction, if set, changes the instruction (the run validates
	// it and applies it); its error is shown to the operator. Nil:
	// instruction changes are refused.
	SetInstruction func(instruction string) error
	// Instructions are offered as choices for SetInstruction.
	Instructions []string
	// Routes are served beside the page by Handler and Serve (e.g. a
	// run's "GET /metrics"); they do their own authentication.
	Routes map[string]http.Handler
	// Inputs, if set, reports the robot's inputs (cameras, state) with
	// their ages, for the status panel: a stale one is shown as the reason
	// the robot holds. Called on the hub goroutine at StatusHz.
	Inputs func() []Input
	// Dims names the action dimensions in the plots and the comparison.
	// Default: the page names 7-d actions as LIBERO's x, y, z, roll,
	// pitch, yaw, gripper, other sizes d0, d1, ….
	Dims []string

	// CameraFPS is the most frames per second per camera the hub encodes
	// and sends. Observations arriving faster are not even copied.
	// Default 10.
	CameraFPS float64
	// JPEGQuality of the frames, 1..100. Default 75.
	JPEGQuality int
	// EncodeJPEG encodes a frame (C 1 or 3); default Go's image/jpeg. A
	// hook so a caller may plug in OpenCV without this package using cgo.
	EncodeJPEG func(im efferent.Image, quality int) ([]byte, error)
	// SendHz is how often the hub drains the ticks and sends what changed.
	// Default 20.
	SendHz float64
	// StatusHz is how often the status (rates, latency, mode, e-stop,
	// comparison, drops) is sent. Default 4.
	StatusHz float64
	// TickBuffer is the capacity of the tick ring between the control loop
	// and the hub; ticks arriving when it is full are dropped and counted.
	// Default 2048 (2 s at 1 kHz, 40 hub periods).
	TickBuffer int
	// MaxTicksPerMessage bounds the ticks one message carries: beyond it
	// they are thinned evenly for the plots (verdict changes are always
	// sent). Default 256.
	MaxTicksPerMessage int
	// ClientQueue is each browser's send queue, in messages. Frames are
	// only queued while it is less than half full, so a slow browser loses
	// frames first; any message that does not fit is dropped and counted.
	// Default 32.
	ClientQueue int
	// MaxClients is how many browsers may be connected at once (more are
	// answered 503, a page that still offers the e-stop, which needs no
	// slot). Without a Token every local process may take a slot: a
	// Token makes slots need it. Default 8 (efferent: --viewer-clients).
	MaxClients int
	// MaxMessageBytes bounds one message from a browser (a longer one
	// closes the connection, 1009). Default 64 KiB.
	MaxMessageBytes int64
	// WriteTimeout: a browser that does not take a message for this long
	// is disconnected. Default 5 s.
	WriteTimeout time.Duration
	// PingInterval: idle connections are pinged this often, and closed
	// when nothing arrives for two intervals. Default 15 s.
	PingInterval time.Duration
	// Log receives connection and command events. Default slog.Default().
	Log *slog.Logger
}

// withDefaults returns c with zero fields set to their defaults.
func (c Conf) withDefaults() Conf {
	if c.Title == "" {
		c.Title = "efferent"
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.EncodeJPEG == nil {
		c.EncodeJPEG = EncodeJPEG
	}
	if c.CameraFPS == 0 {
		c.CameraFPS = 10
	}
	if c.JPEGQuality == 0 {
		c.JPEGQuality = 75
	}
	if c.SendHz == 0 {
		c.SendHz = 20
	}
	if c.StatusHz == 0 {
		c.StatusHz = 4
	}
	if c.TickBuffer == 0 {
		c.TickBuffer = 2048
	}
	if c.MaxTicksPerMessage == 0 {
		c.MaxTicksPerMessage = 256
	}
	if c.ClientQueue == 0 {
		c.ClientQueue = 32
	}
	if c.MaxClients == 0 {
		c.MaxClients = 8
	}
	if c.MaxMessageBytes == 0 {
		c.MaxMessageBytes = 64 << 10
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 5 * time.Second
	}
	if c.PingInterval == 0 {
		c.PingInterval = 15 * time.Second
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return c
}

// MinTokenLen is the shortest Token accepted (as the server's).
const MinTokenLen = 16

// validate checks c after defaults; errors name the field.
func (c Conf) validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf("viewer: "+format, a...)) }
	if c.Token != "" && len(c.Token) < MinTokenLen {
		bad("Token: %d characters, want at least %d", len(c.Token), MinTokenLen)
	}
	if err := api.CheckAllowedHosts(c.AllowedHosts); err != nil {
		bad("AllowedHosts%v", err)
	}
	if c.Token == "" && !c.Loopback && !c.AllowNoAuth {
		bad("not on a loopback address and no Token: set a token (--token, EFFERENT_TOKEN) or, to let anyone who reaches it take the robot over, AllowNoAuth (--insecure-no-auth)")
	}
	if c.CameraFPS <= 0 || c.CameraFPS > 120 {
		bad("CameraFPS %v: want 0 < fps ≤ 120", c.CameraFPS)
	}
	if c.JPEGQuality < 1 || c.JPEGQuality > 100 {
		bad("JPEGQuality %d: want 1..100", c.JPEGQuality)
	}
	if c.SendHz <= 0 || c.SendHz > 200 {
		bad("SendHz %v: want 0 < Hz ≤ 200", c.SendHz)
	}
	if c.StatusHz <= 0 || c.StatusHz > c.SendHz {
		bad("StatusHz %v: want 0 < Hz ≤ SendHz (%v)", c.StatusHz, c.SendHz)
	}
	if c.TickBuffer < 16 || c.TickBuffer > 1<<20 {
		bad("TickBuffer %d: want 16..1048576", c.TickBuffer)
	}
	if c.MaxTicksPerMessage < 1 {
		bad("MaxTicksPerMessage %d: want ≥ 1", c.MaxTicksPerMessage)
	}
	if c.ClientQueue < 4 {
		bad("ClientQueue %d: want ≥ 4", c.ClientQueue)
	}
	if c.MaxClients < 1 {
		bad("MaxClients %d: want ≥ 1", c.MaxClients)
	}
	if c.MaxMessageBytes < 1024 || c.MaxMessageBytes > 16<<20 {
		bad("MaxMessageBytes %d: want 1 KiB..16 MiB", c.MaxMessageBytes)
	}
	if c.WriteTimeout <= 0 || c.PingInterval < time.Second {
		bad("WriteTimeout %v / PingInterval %v: want > 0 / ≥ 1s", c.WriteTimeout, c.PingInterval)
	}
	if len(c.Dims) > MaxDim {
		bad("Dims: %d names, at most %d dims are shown", len(c.Dims), MaxDim)
	}
	return errors.Join(errs...)
}
