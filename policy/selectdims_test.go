package policy

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/efferent/efferent"
)

// fixedPolicy answers with an H×D chunk whose value at (t, d) is 10t+d.
type fixedPolicy struct {
	h, d   int
	closed bool
}

func (f *fixedPolicy) Infer(_ context.Context, _ *efferent.Observation, out *efferent.Chunk) error {
	out.Actions = out.Actions[:0]
	for t := range f.h {
		for d := range f.d {
			out.Actions = append(out.Actions, float64(10*t+d))
		}
	}
	out.H, out.D, out.Model = f.h, f.d, "fixed"
	return nil
}

func (f *fixedPolicy) Metadata() Metadata { return Metadata{Name: "fixed", Horizon: f.h, Dim: f.d} }
func (f *fixedPolicy) Close() error       { f.closed = true; return nil }

// SelectDims projects every action of every chunk onto the named dims, in
// their order, without allocating once its buffers have grown; it refuses
// indices the policy does not have.
func TestSelectDims(t *testing.T) {
	inner := &fixedPolicy{h: 3, d: 7}
	p, err := SelectDims(inner, []int{0, 1, 5})
	if err != nil {
		t.Fatal(err)
	}
	if md := p.Metadata(); md.Dim != 3 || md.Horizon != 3 || md.Name != "fixed" {
		t.Fatalf("metadata %+v", md)
	}
	var c efferent.Chunk
	if err := p.Infer(context.Background(), &efferent.Observation{}, &c); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprintln(c.H, c.D, c.Actions, c.Model); got != "3 3 [0 1 5 10 11 15 20 21 25] fixed\n" {
		t.Fatalf("chunk %s", got)
	}
	obs := &efferent.Observation{}
	if a := testing.AllocsPerRun(100, func() { _ = p.Infer(context.Background(), obs, &c) }); a != 0 {
		t.Fatalf("Infer allocates %v times", a)
	}
	if p.Close(); !inner.closed {
		t.Fatal("Close does not close the wrapped policy")
	}
	for _, dims := range [][]int{{0, 7}, {-1}, nil} {
		if _, err := SelectDims(inner, dims); err == nil {
			t.Fatalf("dims %v accepted", dims)
		} else if len(dims) == 2 && !strings.Contains(err.Error(), "fixed produces 7 action dims") {
			t.Fatalf("dims %v: %v", dims, err)
		}
	}
}

// commandPolicy is a quadruped command vector policy whose second row has
// its stop flag set.
type commandPolicy struct{ fixedPolicy }

func (c *commandPolicy) Infer(ctx context.Context, obs *efferent.Observation, out *efferent.Chunk) error {
	if err := c.fixedPolicy.Infer(ctx, obs, out); err != nil {
		return err
	}
	out.Actions[1*7+6] = 1
	out.Actions[0*7+6], out.Actions[2*7+6] = 0.49, 0
	return nil
}

func (c *commandPolicy) Metadata() Metadata {
	md := c.fixedPolicy.Metadata()
	md.ActionSpace = SpaceQuadrupedCommand
	return md
}

// CommandTwist keeps a command vector's vx, vy, wz and zeroes them where
// the stop flag is set (≥ 0.5); it refuses policies of other spaces.
func TestCommandTwist(t *testing.T) {
	p, err := CommandTwist(&commandPolicy{fixedPolicy{h: 3, d: 7}})
	if err != nil {
		t.Fatal(err)
	}
	var c efferent.Chunk
	if err := p.Infer(context.Background(), &efferent.Observation{}, &c); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(c.H, c.D, c.Actions); got != "3 3 [0 1 2 0 0 0 20 21 22]" {
		t.Fatalf("chunk %s: want rows 0 and 2 as they are, row 1 (stop flag) zero", got)
	}
	if _, err := CommandTwist(&fixedPolicy{h: 3, d: 7}); err == nil {
		t.Fatal("a policy without action.space quadruped_command accepted")
	}
}
