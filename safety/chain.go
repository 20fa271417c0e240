package safety

import "github.com/efferent/efferent"

// Chain checks a setpoint through gates in order and answers the most
// severe verdict (Refused > Held > Clamped > Allowed; the first of equal
// severity). A gate that holds sets sp.Hold, so the gates after it — the
// LimitGate last — fill in their hold values: put the e-stop and watchdog
// first and the limits last.
type Chain []Gate

// Check implements Gate.
func (c Chain) Check(sp *efferent.Setpoint) efferent.Verdict {
	worst := efferent.Verdict{Kind: efferent.Allowed, Dim: -1}
	for _, g := range c {
		v := g.Check(sp)
		if v.Kind > worst.Kind {
			worst = v
		}
	}
	return worst
}
