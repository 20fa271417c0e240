package policy

import (
	"context"
	"fmt"

	"github.com/efferent/efferent"
)

// SelectDims wraps p so that its chunks carry only the action dims named
// by dims, in that order: dim i of the result is dim dims[i] of p's (a
// robot profile's action.policy_dims, e.g. a 7-d policy's dims 0, 1 and 5
// driving a twist's vx, vy and wz). The other dims are dropped. It fails
// when an index is negative or beyond p's action dim (where p's metadata
// knows it; otherwise Infer fails on the first chunk). Closing the
// result closes p.
func SelectDims(p Policy, dims []int) (Policy, error) {
	if len(dims) == 0 {
		return nil, fmt.Errorf("policy: SelectDims: no dims")
	}
	md := p.Metadata()
	for i, d := range dims {
		if d < 0 || (md.Dim != 0 && d >= md.Dim) {
			return nil, fmt.Errorf("policy: dims[%d] = %d: %s produces %d action dims (0 .. %d)", i, d, md.Name, md.Dim, md.Dim-1)
		}
	}
	s := &selectDims{p: p, dims: append([]int(nil), dims...), md: md, stop: -1}
	s.md.Dim = len(dims)
	// A guide in the selected dims cannot be mapped back to the policy's.
	s.md.Guides = false
	return s, nil
}

type selectDims struct {
	p    Policy
	dims []int
	md   Metadata
	full efferent.Chunk // the wrapped policy's chunk, reused
	stop int            // the stop flag's dim (CommandTwist), or −1
}

// CommandTwist drives a robot that takes only velocities (a Twist) with a
// quadruped command vector policy (SpaceQuadrupedCommand): its vx, vy and
// wz, and zero wherever its stop flag is set (≥ 0.5). The flag is how such
// a policy says it has arrived; without it the robot would keep the
// small velocities the policy sends around the stop.
func CommandTwist(p Policy) (Policy, error) {
	if sp := p.Metadata().ActionSpace; sp != SpaceQuadrupedCommand {
		return nil, fmt.Errorf("policy: CommandTwist: %s's action space is %q, not %s", p.Metadata().Name, sp, SpaceQuadrupedCommand)
	}
	s, err := SelectDims(p, []int{0, 1, 2})
	if err != nil {
		return nil, err
	}
	s.(*selectDims).stop = 6
	return s, nil
}

func (s *selectDims) Infer(ctx context.Context, obs *efferent.Observation, out *efferent.Chunk) error {
	if err := s.p.Infer(ctx, obs, &s.full); err != nil {
		return err
	}
	c := &s.full
	for i, d := range s.dims {
		if d >= c.D {
			return fmt.Errorf("policy: dims[%d] = %d: the chunk has %d action dims", i, d, c.D)
		}
	}
	n := len(s.dims)
	if cap(out.Actions) < c.H*n {
		out.Actions = make([]float64, c.H*n)
	}
	out.Actions = out.Actions[:c.H*n]
	for t := range c.H {
		row := c.Row(t)
		stopped := s.stop >= 0 && s.stop < c.D && row[s.stop] >= 0.5
		for i, d := range s.dims {
			out.Actions[t*n+i] = row[d]
			if stopped {
				out.Actions[t*n+i] = 0
			}
		}
	}
	out.H, out.D = c.H, n
	out.Tokens = append(out.Tokens[:0], c.Tokens...)
	out.ObsTime, out.Seq, out.Model, out.StepPeriod = c.ObsTime, c.Seq, c.Model, c.StepPeriod
	return nil
}

func (s *selectDims) Metadata() Metadata { return s.md }
func (s *selectDims) Close() error       { return s.p.Close() }
