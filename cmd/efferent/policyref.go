package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/efferent/efferent/eval"
	"github.com/efferent/efferent/models"
	"github.com/efferent/efferent/policy"
	"github.com/efferent/efferent/policy/remote"
	"github.com/efferent/efferent/sim"
)

// policyHelp documents --policy for run and eval.
const policyHelp = `what drives the simulator: "expert" (the scripted expert, using privileged
state), a model directory or embedded model name (under ONNX Runtime),
ws://host:port (any openpi-compatible server, e.g. another efferent serve),
or "auto" (default): the configured model (--model, default the bundled
efferent-tiny) if its weights are trained, else the expert`

// policyFactory turns a --policy reference into a constructor for one
// policy per simulator (eval runs several workers, each with its own).
func policyFactory(ctx context.Context, ref string, cfg Config, log *slog.Logger) (func(worker int, env *sim.Env) (policy.Policy, error), string, error) {
	switch {
	case ref == "" || ref == "auto":
		fsys, source, err := models.Resolve(cfg.Model)
		if err != nil {
			return nil, "", err
		}
		m, err := policy.LoadManifest(fsys, source)
		if err != nil {
			return nil, "", err
		}
		if m.Weights != "trained" {
			log.Info("the configured model has random weights (a runtime fixture); the scripted expert drives the simulator instead (--policy MODEL forces the model)",
				"model", m.Name, "weights", m.Weights)
			return expertFactory, "expert", nil
		}
		return policyFactory(ctx, cfg.Model, cfg, log)
	case ref == "expert":
		return expertFactory, "expert", nil
	case strings.HasPrefix(ref, "ws://") || strings.HasPrefix(ref, "wss://"):
		return func(int, *sim.Env) (policy.Policy, error) {
			// The token the server was started with, if this one has it
			// (EFFERENT_TOKEN, --token, server.auth_token). A Client
			// reconnects when the server restarts or the network drops;
			// the control loop holds meanwhile.
			p, err := remote.Connect(ctx, ref, remote.Conf{Token: cfg.Server.AuthToken})
			if err != nil {
				return nil, fmt.Errorf("remote policy %s: %w", ref, err)
			}
			return p, nil
		}, ref, nil
	default:
		// Fail fast (before any worker starts) on a bad model reference.
		pol, m, err := openPolicy(ref, cfg.ORT)
		if err != nil {
			return nil, "", err
		}
		if m.Weights == "random" {
			log.Warn("this model has RANDOM weights: expect no successes", "model", m.Name)
		}
		first := pol
		return func(worker int, _ *sim.Env) (policy.Policy, error) {
			if worker == 0 && first != nil {
				p := first
				first = nil
				return p, nil
			}
			p, _, err := openPolicy(ref, cfg.ORT)
			return p, err
		}, m.Name, nil
	}
}

func expertFactory(_ int, env *sim.Env) (policy.Policy, error) { return eval.ExpertPolicy(env), nil }
