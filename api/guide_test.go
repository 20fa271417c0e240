package api

import (
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/efferent/efferent"
)

func guidedSpec() ObsSpec {
	s := liberoSpec()
	s.GuideDim = 7
	return s
}

func guidedObs() efferent.Observation {
	o := liberoObs(8)
	o.Guide = efferent.ActionGuide{Steps: 3, D: 7, Delay: 2}
	for i := range 21 {
		o.Guide.Actions = append(o.Guide.Actions, 0.01*float64(i)-0.1)
	}
	return o
}

// TestGuideRoundTrip: a guide crosses the wire intact when the spec says
// the model reads one, and is left out (and ignored) when it does not.
func TestGuideRoundTrip(t *testing.T) {
	in := guidedObs()
	out, err := DecodeObservation(EncodeObservation(nil, &in, guidedSpec()), guidedSpec(), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if g := out.Guide; g.Steps != 3 || g.D != 7 || g.Delay != 2 || !slices.Equal(g.Actions, in.Guide.Actions) {
		t.Fatalf("guide %+v, sent %+v", g, in.Guide)
	}
	plain := EncodeObservation(nil, &in, liberoSpec())
	if out, err := DecodeObservation(plain, guidedSpec(), Limits{}); err != nil || out.Guide.Steps != 0 {
		t.Fatalf("spec without GuideDim sent a guide: %+v, %v", out.Guide, err)
	}
	// A model that cannot guide ignores the keys, as any unknown key.
	if out, err := DecodeObservation(EncodeObservation(nil, &in, guidedSpec()), liberoSpec(), Limits{}); err != nil || out.Guide.Steps != 0 {
		t.Fatalf("a model without guidance decoded a guide: %+v, %v", out.Guide, err)
	}
}

// TestGuideRefused: a guide of another width, with a NaN, of an integer
// dtype, or with a delay beyond its steps is refused with the reason.
func TestGuideRefused(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*efferent.ActionGuide) ObsSpec
		want error
	}{
		{"width", func(g *efferent.ActionGuide) ObsSpec {
			s := guidedSpec()
			s.GuideDim = 6
			g.D = 6
			g.Steps = 3
			return s
		}, ErrBadShape},
		{"nan", func(g *efferent.ActionGuide) ObsSpec { g.Actions[4] = math.NaN(); return guidedSpec() }, ErrNotFinite},
		{"delay", func(g *efferent.ActionGuide) ObsSpec { g.Delay = 4; return guidedSpec() }, ErrMalformed},
	} {
		o := guidedObs()
		spec := c.edit(&o.Guide)
		frame := EncodeObservation(nil, &o, spec)
		if _, err := DecodeObservation(frame, guidedSpec(), Limits{}); !errors.Is(err, c.want) {
			t.Fatalf("%s: err %v, want %v", c.name, err, c.want)
		}
	}
}

func FuzzDecodeGuide(f *testing.F) {
	o := guidedObs()
	f.Add(EncodeObservation(nil, &o, guidedSpec()))
	o.Guide.Delay = 0
	o.Guide.Steps = 1
	f.Add(EncodeObservation(nil, &o, guidedSpec()))
	f.Fuzz(func(t *testing.T, data []byte) {
		obs, err := DecodeObservation(data, guidedSpec(), Limits{})
		if err != nil {
			return
		}
		g := obs.Guide
		if g.Steps == 0 {
			return
		}
		if g.D != 7 || g.Steps > MaxGuideSteps || len(g.Actions) != g.Steps*7 || g.Delay < 0 || g.Delay > g.Steps {
			t.Fatalf("accepted a bad guide: %d steps of %d, delay %d, %d values", g.Steps, g.D, g.Delay, len(g.Actions))
		}
		for i, v := range g.Actions {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("accepted a non-finite guide value %d", i)
			}
		}
	})
}
