package control

import (
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/safety"
)

// Guide fills g with what the executing plan will do from t on, for real-
// time chunking (ModeRTC; the loop calls it for every observation it
// requests a chunk for, t being the observation's time): row k is the
// setpoint value at the start of the step k step periods after t
// (absolute dims on the interpolated curve, delta and binary dims as the
// plan holds them), for as long as the plan reaches and at most
// GuideBeyond steps past the delay; Delay is the lead
// (SetLead: the expected inference latency) in steps, rounded up — those
// steps of the new chunk will be over when it arrives. With no plan
// executing, g.Steps is 0: the policy answers unguided. g.Actions is
// reused; it allocates only while its capacity is below MaxH·D.
func (s *Scheduler) Guide(t time.Time, g *efferent.ActionGuide) {
	D := s.d
	if cap(g.Actions) < s.maxH*D {
		g.Actions = make([]float64, s.maxH*D)
	}
	g.Actions = g.Actions[:s.maxH*D]
	g.D, g.Steps, g.Delay = D, 0, 0
	p := s.playPeriod() // the new chunk's period
	delay := int((s.lead + p - 1) / p)
	reach := s.maxH
	if s.guideBeyond >= 0 {
		reach = min(reach, delay+s.guideBeyond)
	}
	pl := &s.plans[s.cur]
	for k := range reach {
		j, u, ok := pl.locate(t.Add(time.Duration(k) * p))
		if !ok {
			break
		}
		row := g.Actions[k*D : (k+1)*D]
		for d, kind := range s.kinds {
			if kind == safety.Absolute {
				row[d] = pl.hermite(j, u, d, D)
			} else {
				row[d] = pl.y[j*D+d]
			}
		}
		g.Steps++
	}
	g.Delay = min(delay, g.Steps)
	g.Actions = g.Actions[:g.Steps*D]
}
