package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/efferent/efferent"
	camcv "github.com/efferent/efferent/camera/cv"
	"github.com/efferent/efferent/compare"
	"github.com/efferent/efferent/control"
	"github.com/efferent/efferent/eval"
	"github.com/efferent/efferent/policy"
	"github.com/efferent/efferent/record"
	robotpkg "github.com/efferent/efferent/robot"
	"github.com/efferent/efferent/safety"
	"github.com/efferent/efferent/teleop"
)

func replayCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "replay FILE",
		Short: "Feed a recording back through the control path, or through a model, and compare",
		Long: `replay reads an MCAP recording made by ` + "`efferent run --record`" + `.

Without --policy it re-executes the recorded chunks through the same
scheduler and safety gate in virtual time and compares every setpoint with
the recorded one: a regression test of the control path. A recording made in
virtual time (--fast) must replay identically; one made in real time may
differ where inference timing decided which chunk a tick used.

With --policy it runs that model on every recorded observation (the
recorded camera frames, state and instruction) and compares its chunks with
the recorded ones: per-dimension error, cosine similarity of the motion,
gripper agreement — a regression test of a new model against recorded
episodes. The report is printed and, with --out, written as replay.json.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(cmd.Flags())
			if err != nil {
				return err
			}
			return runReplay(cmd, cfg, args[0])
		},
	}
	f := cmd.Flags()
	f.String("policy", "", "model to compare with the recorded chunks (default: re-execute the recorded chunks)")
	f.String("out", "", "directory for replay.json")
	addModelFlags(f)
	return cmd
}

// replayReport is replay.json.
type replayReport struct {
	File     string          `json:"file"`
	Mode     string          `json:"mode"` // "control" or "policy"
	Policy   string          `json:"policy,omitempty"`
	Episodes []replayEpisode `json:"episodes"`
}

type replayEpisode struct {
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

func runReplay(cmd *cobra.Command, cfg Config, path string) error {
	f := cmd.Flags()
	log := cfg.Log.logger()
	rec, err := record.ReadFile(path)
	if err != nil {
		return err
	}
	info, err := recordedRun(rec)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	ref, _ := f.GetString("policy")
	rep := replayReport{File: path, Mode: "control"}
	w := cmd.OutOrStdout()
	if ref == "" {
		for i, ep := range rec.Episodes {
			if len(ep.Setpoints) == 0 {
				continue
			}
			r, err := replayControl(cmd.Context(), info, &ep)
			if err != nil {
				return fmt.Errorf("episode %d: %w", i+1, err)
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
		rep.Mode, rep.Policy = "policy", ref
		newPolicy, name, err := policyFactory(cmd.Context(), ref, cfg, log)
		if err != nil {
			return err
		}
		pol, err := newPolicy(0, nil)
		if err != nil {
			return err
		}
		defer pol.Close()
		rep.Policy = name
		for i, ep := range rec.Episodes {
			if len(ep.Chunks) == 0 {
				continue
			}
			r, err := replayPolicy(cmd.Context(), pol, &ep)
			if err != nil {
				return fmt.Errorf("episode %d: %w", i+1, err)
			}
			rep.Episodes = append(rep.Episodes, r)
			printComparison(w, fmt.Sprintf("episode %d %s: %d chunks", i+1, r.Task, r.Chunks), r.Compare)
		}
	}
	if len(rep.Episodes) == 0 {
		return fmt.Errorf("%s: nothing to replay (no setpoints or chunks recorded)", path)
	}
	if out, _ := f.GetString("out"); out != "" {
		if err := os.MkdirAll(out, 0o755); err != nil {
			return err
		}
		data, _ := json.MarshalIndent(rep, "", "  ")
		if err := os.WriteFile(filepath.Join(out, "replay.json"), append(data, '\n'), 0o644); err != nil {
			return err
		}
	}
	if rep.Mode == "control" {
		for _, e := range rep.Episodes {
			if e.Identical != e.Setpoints && info.Virtual {
				return fmt.Errorf("the control path no longer reproduces the recording: %d of %d setpoints differ", e.Setpoints-e.Identical, e.Setpoints)
			}
		}
	}
	return nil
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

// recordedRun decodes the run event.
func recordedRun(rec *record.Recording) (runInfo, error) {
	for _, e := range rec.Events {
		if e.Kind == EventRun {
			var info runInfo
			if err := json.Unmarshal([]byte(e.Detail), &info); err != nil {
				return info, fmt.Errorf("run event: %w", err)
			}
			return info, nil
		}
	}
	return runInfo{}, errors.New("no run event: not a recording of efferent run")
}

// replayGate rebuilds the run's gate: the simulator's limits, or a ROS
// profile's limits and motion gate from the recorded starting state.
func replayGate(info runInfo, stepPeriod time.Duration) (safety.Gate, []safety.Kind, error) {
	if info.Robot == "sim" {
		g, err := eval.NewSimGate()
		return g, eval.ActionKinds(), err
	}
	prof, err := robotpkg.Load(info.Robot)
	if err != nil {
		return nil, nil, err
	}
	limits, err := profileGate(prof, stepPeriod)
	if err != nil {
		return nil, nil, err
	}
	gate := safety.Chain{limits}
	motion, err := profileMotion(prof, info.State)
	if err != nil {
		return nil, nil, err
	}
	if motion != nil {
		gate = append(gate, motion)
	}
	return gate, profileKinds(prof), nil
}

// replayControl re-executes one episode's recorded chunks through the
// scheduler and gate in virtual time.
func replayControl(ctx context.Context, info runInfo, ep *record.Episode) (replayEpisode, error) {
	r := replayEpisode{Setpoints: len(ep.Setpoints), FirstDiffering: -1}
	if ep.Start != nil {
		r.Task = ep.Start.Task
	}
	if len(ep.Chunks) == 0 {
		return r, errors.New("no chunks recorded")
	}
	pol := &recordedPolicy{chunks: ep.Chunks}
	gate, kinds, err := replayGate(info, pol.Metadata().StepPeriod)
	if err != nil {
		return r, err
	}
	if len(ep.Teleop) > 0 {
		// The teleoperator's commands go back in at their times through
		// the same teleop gate, first in the chain as in the run.
		md := pol.Metadata()
		grip := -1
		if md.Dim == 7 {
			grip = 6
		}
		mux, err := teleop.New(teleop.Conf{Dim: md.Dim, Gripper: grip})
		if err != nil {
			return r, err
		}
		gate = safety.Chain{&teleopReplay{mux: mux, cmds: ep.Teleop}, gate}
	}
	sc := info.Scheduler
	sc.Kinds = kinds
	robot := &replayRobot{obs: ep.Observations, want: len(ep.Setpoints)}
	loop, err := control.New(control.LoopConf{Clock: efferent.NewVirtualClock(time.Unix(0, ep.Setpoints[0].Time)), Virtual: true,
		Policy: pol, Robot: robot, Gate: gate, Scheduler: sc, RateHz: info.RateHz,
		OnTick: func(sp *efferent.Setpoint, v efferent.Verdict) {
			robot.verdicts = append(robot.verdicts, v)
		}})
	if err != nil {
		return r, err
	}
	defer loop.Close()
	if err := loop.Run(ctx); err != nil {
		return r, err
	}
	for i, want := range ep.Setpoints {
		if i >= len(robot.got) {
			break
		}
		got, v := robot.got[i], robot.verdicts[i]
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
func replayPolicy(ctx context.Context, pol policy.Policy, ep *record.Episode) (replayEpisode, error) {
	r := replayEpisode{FirstDiffering: -1}
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
			im, err := camcv.DecodeImage(data, 8192)
			if err != nil {
				return r, fmt.Errorf("observation %d: %s frame: %w", o.Seq, key, err)
			}
			obs.Images[key] = im
		}
		if err := pol.Infer(ctx, &obs, &out); err != nil {
			return r, fmt.Errorf("observation %d: %w", o.Seq, err)
		}
		if stats == nil {
			grip := -1
			if want.D == 7 {
				grip = 6 // LIBERO's gripper
			}
			var err error
			if stats, err = compare.New(compare.Conf{Dim: want.D, Gripper: grip}); err != nil {
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
