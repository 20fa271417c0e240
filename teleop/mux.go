package teleop

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/compare"
)

// Mode says who drives.
type Mode uint32

const (
	// Policy drives; teleop commands are compared with its setpoints. The
	// zero Mode.
	Policy Mode = iota
	// Takeover: the teleoperator drives; the policy runs in the shadow.
	Takeover
)

// String returns "policy" or "takeover".
func (m Mode) String() string {
	if m == Takeover {
		return "takeover"
	}
	return "policy"
}

// ParseMode parses "policy" or "takeover".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "policy":
		return Policy, nil
	case "takeover":
		return Takeover, nil
	}
	return 0, fmt.Errorf("teleop: mode %q: want policy or takeover", s)
}

// ReasonStale: in takeover, the teleoperator's last command is older than
// Conf.Stale (Held: the robot holds until a fresh one).
const ReasonStale = "teleop_stale"

// ErrBadCommand is wrapped by Command's errors.
var ErrBadCommand = errors.New("teleop: bad command")

// Conf configures a Mux.
type Conf struct {
	// Dim is the setpoint dimension (required).
	Dim int
	// Gripper is the gripper's index for the comparison, −1 for none.
	// Default 0 means index 0; set it explicitly.
	Gripper int
	// Stale is how old a command may be and still drive (Takeover) or be
	// compared (Policy), in controller time. Default 250 ms: a browser
	// repeats held keys every ~30 ms and gamepads are polled per frame.
	Stale time.Duration
}

// command is one teleop command, immutable once published.
type command struct {
	t      time.Time
	values []float64
	source string
}

// Mux is the teleop gate.
type Mux struct {
	conf  Conf
	mode  atomic.Uint32
	cmd   atomic.Pointer[command]
	mu    sync.Mutex // guards stats
	stats *compare.Stats
	// Counters: ticks driven by the teleoperator, held for a stale
	// command, compared, and comparisons skipped while a reader held the
	// statistics.
	driven, stale, compared, skipped atomic.Uint64
}

// New returns a Mux in Policy mode.
func New(conf Conf) (*Mux, error) {
	if conf.Stale == 0 {
		conf.Stale = 250 * time.Millisecond
	}
	if conf.Stale < 0 {
		return nil, fmt.Errorf("teleop: Conf.Stale %v: want > 0", conf.Stale)
	}
	st, err := compare.New(compare.Conf{Dim: conf.Dim, Gripper: conf.Gripper})
	if err != nil {
		return nil, fmt.Errorf("teleop: %w", err)
	}
	return &Mux{conf: conf, stats: st}, nil
}

// SetMode switches who drives (any goroutine).
func (m *Mux) SetMode(mode Mode) { m.mode.Store(uint32(mode)) }

// Mode returns who drives.
func (m *Mux) Mode() Mode { return Mode(m.mode.Load()) }

// Command publishes the teleoperator's command at t (controller time:
// the same clock as the setpoints). It must have Dim finite values.
func (m *Mux) Command(t time.Time, values []float64, source string) error {
	if len(values) != m.conf.Dim {
		return fmt.Errorf("%w: %d values, want %d", ErrBadCommand, len(values), m.conf.Dim)
	}
	for i, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: value %d is %g", ErrBadCommand, i, v)
		}
	}
	m.cmd.Store(&command{t: t, values: append([]float64(nil), values...), source: source})
	return nil
}

// Latest returns the last command's values and time (nil when none).
func (m *Mux) Latest() ([]float64, time.Time) {
	c := m.cmd.Load()
	if c == nil {
		return nil, time.Time{}
	}
	return c.values, c.t
}

// Check implements safety.Gate.
func (m *Mux) Check(sp *efferent.Setpoint) efferent.Verdict {
	c := m.cmd.Load()
	fresh := c != nil && !sp.Time.Before(c.t.Add(-m.conf.Stale)) && sp.Time.Sub(c.t) <= m.conf.Stale
	if fresh && !sp.Hold && len(sp.Values) == m.conf.Dim {
		if m.mu.TryLock() {
			m.stats.Add(c.values, sp.Values) // reference: the human
			m.mu.Unlock()
			m.compared.Add(1)
		} else {
			m.skipped.Add(1)
		}
	}
	if m.Mode() != Takeover {
		return efferent.Verdict{Kind: efferent.Allowed, Dim: -1}
	}
	if sp.HoldReason != "" {
		// The loop holds on purpose (a stale camera or robot state): the
		// teleoperator does not drive blind either.
		return efferent.Verdict{Kind: efferent.Held, Reason: sp.HoldReason, Dim: -1}
	}
	if !fresh || cap(sp.Values) < m.conf.Dim {
		sp.Hold = true
		m.stale.Add(1)
		return efferent.Verdict{Kind: efferent.Held, Reason: ReasonStale, Dim: -1}
	}
	sp.Values = sp.Values[:m.conf.Dim]
	copy(sp.Values, c.values)
	sp.Hold = false
	m.driven.Add(1)
	return efferent.Verdict{Kind: efferent.Allowed, Dim: -1}
}

// Summary returns the comparison of the policy with the teleoperator so
// far (any goroutine).
func (m *Mux) Summary() compare.Summary {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stats.Summary()
}

// ResetStats starts a new comparison (e.g. at an episode's start).
func (m *Mux) ResetStats() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stats, _ = compare.New(compare.Conf{Dim: m.conf.Dim, Gripper: m.conf.Gripper})
}

// Counts are the Mux's counters.
type Counts struct {
	Driven, Stale, Compared, Skipped uint64
}

// Counts returns the counters (any goroutine).
func (m *Mux) Counts() Counts {
	return Counts{Driven: m.driven.Load(), Stale: m.stale.Load(), Compared: m.compared.Load(), Skipped: m.skipped.Load()}
}
