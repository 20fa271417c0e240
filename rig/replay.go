package rig

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/efferent/efferent"
	"github.com/efferent/efferent/compare"
	"github.com/efferent/efferent/policy"
	"github.com/efferent/efferent/record"
	"github.com/efferent/efferent/robot"
	"github.com/efferent/efferent/teleop"
)

// ReplayReport is what Replay found (replay.json).
type ReplayReport struct {
	File     string          `json:"file"`
	Mode     string          `json:"mode"` // "control" or "policy"
	Policy   string          `json:"policy,omitempty"`
	Episodes []ReplayEpisode `json:"episodes"`
}

// ReplayEpisode is one episode's comparison.
type ReplayEpisode struct {
	Task string `json:"task,omitempty"`
	// Control mode: setpoints compared, identical ones, the largest
	// difference and the first differing tick (−1: none).
	Setpoints      int     `json:"setpoints,omitempty"`
	Identical      int     `json:"identical,omitempty"`
	MaxDiff        float64 `json:"max_diff,omitempty"`
	FirstDiffering int     `json:"first_differing,omitempty"`
	// Policy mode: chunks compared and the comparison of every action.
	Chunks  int              `json:"chunks,omitempty"`
	Compare *compare.Summary `json:"compare,omitempty"`
}

// ReplayConf configures Replay.
type ReplayConf struct {
	// Path is the MCAP recording made by efferent run --record (required).
	Path string
	// Policy, when set, is a model to compare with the recorded chunks;
	// otherwise the recorded chunks are re-executed through the control
	// path.
	Policy string
	// Model, Open and Log resolve Policy (PolicyConf).
	Model string
	Open  OpenModel
	// DecodeImage decodes the recorded frames (PNG/JPEG) for Policy.
	DecodeImage func(data []byte, maxSide int) (efferent.Image, error)
	Log         *slog.Logger
	// Out, when set, prints each episode's line here.
	Out io.Writer
}

// Replay feeds a recording back through the control path, or through a
// model, and compares. Re-executed in virtual time, the recorded chunks
// pass the same scheduler and gate chain as in the run, which Replay
// rebuilds from the run event: a recording made in virtual time must
// reproduce every setpoint (else the error says how many differ); one
// made in real time may differ where inference timing decided which chunk
// a tick used. With Policy, the model runs on every recorded observation
// and its chunks are compared with the recorded ones.
func Replay(ctx context.Context, c ReplayConf) (*ReplayReport, error) {
	if c.Out == nil {
		c.Out = io.Discard
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	rec, err := record.ReadFile(c.Path)
	if err != nil {
		return nil, err
	}
	info, err := rec.Run()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Path, err)
	}
	rep := &ReplayReport{File: c.Path, Mode: "control"}
	w := c.Out
	if c.Policy == "" {
		for i, ep := range rec.Episodes {
			if len(ep.Setpoints) == 0 {
				continue
			}
			r, err := ReplayControl(ctx, info, &ep)
			if err != nil {
				return nil, fmt.Errorf("episode %d: %w", i+1, err)
			}
			rep.Episodes = append(rep.Episodes, r)
			fmt.Fprintf(w, "episode %d %s: %d/%d setpoints identical, max difference %.3g", i+1, r.Task, r.Identical, r.Setpoints, r.MaxDiff)
			if r.FirstDiffering >= 0 {
				fmt.Fprintf(w, ", first difference at tick %d", r.FirstDiffering)
			}
			fmt.Fprintln(w)
		}
		if !info.Virtual {
			fmt.Fprintln(w, "(recorded in real time: differences can come from inference timing)")
		}
	} else {
		pols, err := ResolvePolicy(ctx, c.Policy, PolicyConf{Model: c.Model, Open: c.Open, Log: c.Log})
		if err != nil {
			return nil, err
		}
		pol, err := pols.Open(0)
		if err != nil {
			return nil, err
		}
		defer pol.Close()
		rep.Mode, rep.Policy = "policy", pols.Name
		for i, ep := range rec.Episodes {
			if len(ep.Chunks) == 0 {
				continue
			}
			r, err := replayPolicy(ctx, pol, &ep, c.DecodeImage)
			if err != nil {
				return nil, fmt.Errorf("episode %d: %w", i+1, err)
			}
			rep.Episodes = append(rep.Episodes, r)
			printComparison(w, fmt.Sprintf("episode %d %s: %d chunks", i+1, r.Task, r.Chunks), r.Compare)
		}
	}
	if len(rep.Episodes) == 0 {
		return nil, fmt.Errorf("%s: nothing to replay (no setpoints or chunks recorded)", c.Path)
	}
	if rep.Mode == "control" && info.Virtual {
		for _, e := range rep.Episodes {
			if e.Identical != e.Setpoints {
				return rep, fmt.Errorf("the control path no longer reproduces the recording: %d of %d setpoints differ", e.Setpoints-e.Identical, e.Setpoints)
			}
		}
	}
	return rep, nil
}

// WriteFile writes the report as dir/replay.json.
func (r *ReplayReport) WriteFile(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	data, _ := json.MarshalIndent(r, "", "  ")
	return os.WriteFile(filepath.Join(dir, "replay.json"), append(data, '\n'), 0o644)
}

func printComparison(w io.Writer, head string, s *compare.Summary) {
	fmt.Fprintf(w, "%s, %d actions: cosine %.3f, gripper agreement %.3f\n  MAE per dim  ", head, s.N, s.Cosine, s.GripperAgreement)
	for _, v := range s.MAE {
		fmt.Fprintf(w, " %.4f", v)
	}
	fmt.Fprint(w, "\n  max per dim  ")
	for _, v := range s.MaxAbs {
		fmt.Fprintf(w, " %.4f", v)
	}
	fmt.Fprintln(w)
}

// replayGates rebuild the run's gates: the simulator's limits, or a ROS
// profile's limits and motion gate from the recorded starting state.
func replayGates(info record.Run, stepPeriod time.Duration) (Gates, Space, error) {
	if info.Robot == "sim" {
		g, err := SimLimits()
		return Gates{Limits: g}, LIBERO(), err
	}
	prof, err := robot.Load(info.Robot)
	if err != nil {
		return Gates{}, Space{}, err
	}
	limits, err := ProfileLimits(prof, stepPeriod)
	if err != nil {
		return Gates{}, Space{}, err
	}
	motion, err := ProfileMotion(prof, info.State)
	if err != nil {
		return Gates{}, Space{}, err
	}
	g := Gates{Limits: limits}
	if motion != nil {
		g.Motion = motion
	}
	return g, ProfileSpace(prof), nil
}

// ReplayControl re-executes one episode's recorded chunks through the
// scheduler and gate in virtual time.
func ReplayControl(ctx context.Context, info record.Run, ep *record.Episode) (ReplayEpisode, error) {
	r := ReplayEpisode{Setpoints: len(ep.Setpoints), FirstDiffering: -1}
	if ep.Start != nil {
		r.Task = ep.Start.Task
	}
	if len(ep.Chunks) == 0 {
		return r, errors.New("no chunks recorded")
	}
	pol := &recordedPolicy{chunks: ep.Chunks}
	gates, space, err := replayGates(info, pol.Metadata().StepPeriod)
	if err != nil {
		return r, err
	}
	if len(ep.Teleop) > 0 {
		// The teleoperator's commands go back in at their times through
		// the same teleop gate, first in the chain as in the run.
		ts := DimSpace(pol.Metadata().Dim)
		mux, err := teleop.New(teleop.Conf{Dim: ts.Dim(), Gripper: ts.Gripper})
		if err != nil {
			return r, err
		}
		gates.Teleop = &teleopReplay{mux: mux, cmds: ep.Teleop}
	}
	rb := &replayRobot{obs: ep.Observations, want: len(ep.Setpoints)}
	loop, err := NewLoop(LoopConf{Clock: efferent.NewVirtualClock(time.Unix(0, ep.Setpoints[0].Time)), Virtual: true,
		Policy: pol, Robot: rb, Space: space, Gates: gates, Scheduler: info.Scheduler, RateHz: info.RateHz,
		OnTick: func(sp *efferent.Setpoint, v efferent.Verdict) {
			rb.verdicts = append(rb.verdicts, v)
		}})
	if err != nil {
		return r, err
	}
	defer loop.Close()
	if err := loop.Run(ctx); err != nil {
		return r, err
	}
	for i, want := range ep.Setpoints {
		if i >= len(rb.got) {
			break
		}
		got, v := rb.got[i], rb.verdicts[i]
		d := 0.0
		for j := range max(len(got.Values), len(want.Values)) {
			if j >= len(got.Values) || j >= len(want.Values) {
				d = math.Inf(1)
				break
			}
			d = max(d, math.Abs(got.Values[j]-want.Values[j]))
		}
		same := d == 0 && got.Hold == want.Hold && v.Kind.String() == want.Verdict && v.Reason == want.Reason
		r.MaxDiff = max(r.MaxDiff, d)
		if same {
			r.Identical++
		} else if r.FirstDiffering < 0 {
			r.FirstDiffering = i
		}
	}
	return r, nil
}

// replayPolicy runs pol on every recorded observation of ep that has its
// frames and compares the answer with the recorded chunk.
func replayPolicy(ctx context.Context, pol policy.Policy, ep *record.Episode, decode func([]byte, int) (efferent.Image, error)) (ReplayEpisode, error) {
	if decode == nil {
		return ReplayEpisode{}, errors.New("rig: ReplayConf.DecodeImage: required to replay through a model")
	}
	r := ReplayEpisode{FirstDiffering: -1}
	if ep.Start != nil {
		r.Task = ep.Start.Task
	}
	md := pol.Metadata()
	chunks := map[uint64]*record.Chunk{}
	for i := range ep.Chunks {
		chunks[ep.Chunks[i].Seq] = &ep.Chunks[i]
	}
	frameAt := map[string]map[int64][]byte{}
	for key, frames := range ep.Frames {
		frameAt[key] = map[int64][]byte{}
		for _, fr := range frames {
			frameAt[key][int64(fr.Timestamp.Sec)*1e9+int64(fr.Timestamp.Nsec)] = fr.Data
		}
	}
	var stats *compare.Stats
	var out efferent.Chunk
	for _, o := range ep.Observations {
		want, ok := chunks[o.Seq]
		if !ok {
			continue
		}
		obs := efferent.Observation{Images: map[string]efferent.Image{}, State: o.State, Prompt: o.Prompt, Time: time.Unix(0, o.Time), Seq: o.Seq}
		for _, key := range o.Images {
			data, ok := frameAt[key][o.Time]
			if !ok {
				return r, fmt.Errorf("observation %d: no %s frame recorded", o.Seq, key)
			}
			im, err := decode(data, 8192)
			if err != nil {
				return r, fmt.Errorf("observation %d: %s frame: %w", o.Seq, key, err)
			}
			obs.Images[key] = im
		}
		if err := pol.Infer(ctx, &obs, &out); err != nil {
			return r, fmt.Errorf("observation %d: %w", o.Seq, err)
		}
		if stats == nil {
			var err error
			if stats, err = compare.New(compare.Conf{Dim: want.D, Gripper: DimSpace(want.D).Gripper}); err != nil {
				return r, err
			}
		}
		if out.D != want.D {
			return r, fmt.Errorf("model %s produces %d-dim actions, the recording has %d", md.Name, out.D, want.D)
		}
		for t := range min(out.H, want.H) {
			stats.Add(want.Actions[t*want.D:(t+1)*want.D], out.Actions[t*out.D:(t+1)*out.D])
		}
		r.Chunks++
	}
	if stats == nil {
		return r, errors.New("no observation with a recorded chunk")
	}
	s := stats.Summary()
	r.Compare = &s
	return r, nil
}

// recordedPolicy answers the k-th request with the k-th recorded chunk.
type recordedPolicy struct {
	chunks []record.Chunk
	next   int
}

func (p *recordedPolicy) Infer(_ context.Context, obs *efferent.Observation, out *efferent.Chunk) error {
	if p.next >= len(p.chunks) {
		return errors.New("replay: no more recorded chunks")
	}
	c := &p.chunks[p.next]
	p.next++
	out.Actions = append(out.Actions[:0], c.Actions...)
	out.Tokens = append(out.Tokens[:0], c.Tokens...)
	out.H, out.D, out.Model, out.StepPeriod = c.H, c.D, c.Model, time.Duration(c.StepPeriodNs)
	out.ObsTime, out.Seq = obs.Time, obs.Seq
	return nil
}

func (p *recordedPolicy) Metadata() policy.Metadata {
	md := policy.Metadata{Name: "recorded"}
	for _, c := range p.chunks {
		md.Horizon, md.Dim, md.StepPeriod = max(md.Horizon, c.H), c.D, time.Duration(c.StepPeriodNs)
	}
	return md
}

func (p *recordedPolicy) Close() error { return nil }

// replayRobot serves the recorded observations (state and instruction) and
// keeps what the loop applies.
type replayRobot struct {
	obs      []record.Observation
	next     int
	want     int
	got      []efferent.Setpoint
	verdicts []efferent.Verdict
}

func (r *replayRobot) Observe(obs *efferent.Observation) error {
	if r.next >= len(r.obs) {
		return errors.New("replay: no more recorded observations")
	}
	o := &r.obs[r.next]
	r.next++
	obs.State = append(obs.State[:0], o.State...)
	obs.Prompt = o.Prompt
	return nil
}

func (r *replayRobot) Apply(sp *efferent.Setpoint) error {
	c := *sp
	c.Values = slices.Clone(sp.Values)
	r.got = append(r.got, c)
	return nil
}

func (r *replayRobot) Done() bool { return len(r.got) >= r.want }

// teleopReplay feeds the recorded teleop commands to a teleop gate as the
// controller time reaches them.
type teleopReplay struct {
	mux  *teleop.Mux
	cmds []record.Teleop
	next int
}

func (g *teleopReplay) Check(sp *efferent.Setpoint) efferent.Verdict {
	for g.next < len(g.cmds) && g.cmds[g.next].Time <= sp.Time.UnixNano() {
		c := &g.cmds[g.next]
		g.next++
		if mode, err := teleop.ParseMode(c.Mode); err == nil {
			g.mux.SetMode(mode)
		}
		_ = g.mux.Command(time.Unix(0, c.Time), c.Values, c.Source) // a bad one was refused in the run too
	}
	return g.mux.Check(sp)
}
