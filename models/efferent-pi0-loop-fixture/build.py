#!/usr/bin/python3
"""Build efferent-pi0-loop-fixture: the network of efferent-pi0-fixture (same
code, same seed, same weights) exported as ONE graph that holds the whole
flow-matching sampler: prefix once, then the 10 Euler steps from t=1 to t=0
unrolled, observation inputs + noise in, the chunk out (the `flow` layout's
`graph` form). Its actions are deterministic but meaningless.

Run from the repository root with Debian's torch/onnx/numpy:

    /usr/bin/python3 models/efferent-pi0-loop-fixture/build.py

The model code lives in models/efferent-pi0-fixture/build.py (imported).
It writes tokenizer.json, model.onnx, golden.json, manifest.yaml and
README.md next to this file, and checks that its golden chunks equal the
prefix+step loop's for the same noise (and efferent-pi0-fixture's
golden.json, when that has been built).

flow.seed here is 2^64 - 1 and the cases' seqs are 2, 3, 4, so the request
seeds wrap around to 1, 2, 3: the noise, and so the chunks, of
efferent-pi0-fixture's cases (seq 1, 2, 3 with flow.seed 0).
"""
import json
import os
import sys

sys.dont_write_bytecode = True   # importing the other build scripts leaves no __pycache__ behind
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np
import torch

import fixturelib as FL

OUT = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(OUT))
PI0_DIR = os.path.join(ROOT, "models", "efferent-pi0-fixture")

pi0 = FL.load_module("efferent_pi0_build", os.path.join(PI0_DIR, "build.py"))

FLOW_SEED = (1 << 64) - 1
LOOP_IN = pi0.PREFIX_IN + ["noise"]
LOOP_OUT = ["actions"]
CASES = [dict(c, seq=c["seq"] + 1) for c in pi0.GOLDEN_CASES]

README = """# efferent-pi0-loop-fixture

Random weights, structure of **π0** (openpi PyTorch `pi0_pytorch.py`) at tiny
widths, built by `build.py` with torch {torch} (onnx {onnx}, opset {opset},
seed {seed}):

    /usr/bin/python3 models/efferent-pi0-loop-fixture/build.py

The same network and weights as `models/efferent-pi0-fixture` (whose
build.py holds the model code and is imported), exported as ONE graph with
the whole sampler inside: the prefix once, then 10 Euler steps from t=1 to
t=0 unrolled (x ← x + dt·v_t(x, t), dt = −0.1 in float32, t the float32
values of golden.json's `flow.times`). Layout `flow`, `graph` form. Its
actions are deterministic but **meaningless**.

## Graph
Batch axis symbolic (`batch`) on every input and output. Inputs as
efferent-pi0-fixture's prefix graph, plus the noise:

{signature}
## golden.json
As efferent-pi0-fixture's (same fields: `seq`, `seed`, `noise`, `raw`,
`actions`, `input_ids`, `attention_mask`, `flow`). The manifest's flow.seed
is 2^64 − 1 and the cases' seqs are 2, 3, 4, so the request seeds wrap
(uint64) to 1, 2, 3, the seeds of efferent-pi0-fixture's cases: the noise
and chunks are the same, and build.py checks that they are bit-identical to
the prefix+step loop's in PyTorch (and to efferent-pi0-fixture/golden.json).

Tolerance: `actions_abs` 1e-4, `raw_abs` 1e-4 (float32; ONNX Runtime CPU
agrees with PyTorch to ~1e-6 here).
"""


def main():
    m = pi0.build_model()
    vocab, merges = FL.copy_fixture_tokenizer(OUT, pi0.VOCAB)

    path = os.path.join(OUT, "model.onnx")
    ex = pi0.example_inputs()
    noise = torch.randn(2, pi0.H, pi0.MODEL_DIM, generator=torch.Generator().manual_seed(5))
    pi0.export(pi0.Loop(m), (*ex, noise), path, LOOP_IN, LOOP_OUT)

    # The golden chunks, from the prefix+step loop ...
    cases, times, dt = pi0.golden_cases(m, vocab, merges, FLOW_SEED, CASES)
    # ... must be exactly what the one-graph module computes.
    loop = pi0.Loop(m)
    with torch.no_grad():
        for case, c in zip(CASES, cases):
            obs = pi0.case_inputs(case, vocab, merges)[4]
            got = loop(*obs, torch.tensor([c["noise"]], dtype=torch.float32))[0].numpy()
            assert np.array_equal(got, np.array(c["raw"], dtype=np.float32)), "loop graph != prefix+step loop"
    other = os.path.join(PI0_DIR, "golden.json")
    if os.path.exists(other):
        with open(other, encoding="utf-8") as f:
            g1 = json.load(f)
        for a, b in zip(g1["cases"], cases):
            assert a["seed"] == b["seed"] and a["noise"] == b["noise"], "seeds/noise differ from efferent-pi0-fixture"
            assert a["raw"] == b["raw"] and a["actions"] == b["actions"], "chunks differ from efferent-pi0-fixture"
        print("golden chunks equal efferent-pi0-fixture's")

    golden = {
        "about": "PyTorch outputs of efferent-pi0-loop-fixture (= efferent-pi0-fixture's network and cases; "
                 "see build.py). noise = the flow noise for seed = flow.seed + seq (uint64, wrapping); "
                 "raw = the graph's output [horizon][model_dim]; actions = raw's robot dims unnormalised "
                 "(mean_std), in float64.",
        "patterns": FL.PATTERNS,
        "tolerance": {"actions_abs": 1e-4, "raw_abs": 1e-4},
        "flow": {"steps": pi0.STEPS, "time_from": pi0.TIME_FROM, "time_to": pi0.TIME_TO, "dt": dt,
                 "times": times, "seed": FLOW_SEED},
        "cases": cases,
    }
    FL.write_json(os.path.join(OUT, "golden.json"), golden)

    flow = f"""flow:
  graph:
    file: model.onnx
    noise: noise
    actions: actions
  seed: {FLOW_SEED}   # 2^64 - 1: golden seqs 2, 3, 4 wrap to seeds 1, 2, 3
"""
    desc = ("  Tiny random-weight model with the structure of pi0 (SigLIP + Gemma prefix, flow-matching\n"
            "  action expert) with its 10-step Euler sampler inside one graph: a fixture for the flow\n"
            "  layout's graph form. Its weights are RANDOM: its actions are deterministic but meaningless.")
    FL.write_text(os.path.join(OUT, "manifest.yaml"), pi0.manifest_text("efferent-pi0-loop-fixture", desc, flow))
    pi0.write_readme(OUT, {}, README)
    for c in cases:
        print(c["prompt"], "seq", c["seq"], "seed", c["seed"], "raw[0][:3]", c["raw"][0][:3])
    FL.print_sizes(OUT)


if __name__ == "__main__":
    sys.exit(main())
