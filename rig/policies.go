package rig

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/efferent/efferent/models"
	"github.com/efferent/efferent/policy"
	"github.com/efferent/efferent/policy/remote"
	"github.com/efferent/efferent/sim"
	"github.com/efferent/efferent/sim/legged"
)

// PolicyHelp documents a policy reference (efferent run and eval's
// --policy).
const PolicyHelp = `what drives the simulator: "expert" (the scripted expert, using privileged
state), a model directory or embedded model name (under ONNX Runtime),
ws://host:port (any openpi-compatible server, e.g. another efferent serve),
or "auto" (default): the configured model (--model, default the bundled
efferent-tiny) if its weights are trained, else the expert`

// OpenModel loads a model (a directory or an embedded model's name) as a
// policy: ONNX Runtime and image resizing, which the caller injects
// because they are cgo.
type OpenModel func(ref string) (policy.Policy, *policy.Manifest, error)

// PolicyConf says how to resolve a policy reference.
type PolicyConf struct {
	// Model is the configured model, what "auto" means when its weights
	// are trained. Default models.Default.
	Model string
	// Token is presented to a ws:// server (its bearer token).
	Token string
	// Open loads models (required for model references).
	Open OpenModel
	// Log reports what "auto" chose and random weights. Default
	// slog.Default().
	Log *slog.Logger
}

// Policies opens the policy a reference names, once per worker (eval runs
// several, each with its own: policies are not safe for concurrent use).
type Policies struct {
	// Name is the policy's name: the model's, "expert" or the URL.
	Name string
	open func(worker int, env Simulator) (policy.Policy, error)
	// Expert: the scripted expert, which needs the simulator's state.
	Expert bool
}

// Open opens worker's policy for a robot that is not the simulator.
func (p Policies) Open(worker int) (policy.Policy, error) {
	if p.Expert {
		return nil, errors.New("--policy expert: the scripted expert exists only in the simulator")
	}
	return p.open(worker, nil)
}

// OpenSim opens worker's policy for the simulator env (the expert reads
// its privileged state).
func (p Policies) OpenSim(worker int, env Simulator) (policy.Policy, error) {
	return p.open(worker, env)
}

// ResolvePolicy turns a policy reference (PolicyHelp) into Policies. A
// model reference is loaded once here, so that a bad one fails before any
// worker starts; worker 0 gets that copy.
func ResolvePolicy(ctx context.Context, ref string, c PolicyConf) (Policies, error) {
	if c.Model == "" {
		c.Model = models.Default
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	switch {
	case ref == "" || ref == "auto":
		fsys, source, err := models.Resolve(c.Model)
		if err != nil {
			return Policies{}, err
		}
		m, err := policy.LoadManifest(fsys, source)
		if err != nil {
			return Policies{}, err
		}
		if m.Weights != "trained" {
			c.Log.Info("the configured model has random weights (a runtime fixture); the scripted expert drives the simulator instead (--policy MODEL forces the model)",
				"model", m.Name, "weights", m.Weights)
			return expertPolicies(), nil
		}
		return ResolvePolicy(ctx, c.Model, c)
	case ref == "expert":
		return expertPolicies(), nil
	case strings.HasPrefix(ref, "ws://") || strings.HasPrefix(ref, "wss://"):
		return Policies{Name: ref, open: func(int, Simulator) (policy.Policy, error) {
			// A Client reconnects when the server restarts or the network
			// drops; the control loop holds meanwhile.
			p, err := remote.Connect(ctx, ref, remote.Conf{Token: c.Token})
			if err != nil {
				return nil, fmt.Errorf("remote policy %s: %w", ref, err)
			}
			return p, nil
		}}, nil
	default:
		if c.Open == nil {
			return Policies{}, errors.New("rig: PolicyConf.Open: required to load a model")
		}
		pol, m, err := c.Open(ref)
		if err != nil {
			return Policies{}, err
		}
		if m.Weights == "random" {
			c.Log.Warn("this model has RANDOM weights: expect no successes", "model", m.Name)
		}
		first := pol
		return Policies{Name: m.Name, open: func(worker int, _ Simulator) (policy.Policy, error) {
			if worker == 0 && first != nil {
				p := first
				first = nil
				return p, nil
			}
			p, _, err := c.Open(ref)
			return p, err
		}}, nil
	}
}

func expertPolicies() Policies {
	return Policies{Name: "expert", Expert: true, open: func(_ int, env Simulator) (policy.Policy, error) {
		switch env := env.(type) {
		case *sim.Env:
			return ExpertPolicy(env), nil
		case *legged.Env:
			return LeggedExpertPolicy(env), nil
		}
		return nil, errors.New("--policy expert: the scripted expert exists only in the simulators")
	}}
}
