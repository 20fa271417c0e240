#!/usr/bin/python3
"""Write openvla_golden.json: what OpenVLA's action tokenizer answers, in
numpy, for the Go tests of package bins to match value for value.

A transcription (numpy only; no transformers, no OpenVLA install) of
  openvla/openvla prismatic/vla/action_tokenizer.py
    ActionTokenizer.__init__                  bins, bin_centers
    ActionTokenizer.__call__                  clip, digitize, vocab_size - d
    ActionTokenizer.decode_token_ids_to_actions
and of the un-normalisation in
  prismatic/extern/hf/modeling_prismatic.py   OpenVLAForActionPrediction.predict_action
with the tokenizer reduced to what they read of it, its vocab_size (Llama 2:
32000; NOT the 32064 of OpenVLA's padded logits).

Run from anywhere with Debian's numpy:

    /usr/bin/python3 tokenizer/bins/testdata/openvla_golden.py

Floats are written with Python's repr, which round-trips exactly.
"""
import json
import os

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "openvla_golden.json")


class ActionTokenizer:
    """action_tokenizer.py's ActionTokenizer over a vocabulary size."""

    def __init__(self, vocab_size, bins=256, min_action=-1, max_action=1):
        self.vocab_size, self.n_bins, self.min_action, self.max_action = vocab_size, bins, min_action, max_action
        self.bins = np.linspace(min_action, max_action, self.n_bins)
        self.bin_centers = (self.bins[:-1] + self.bins[1:]) / 2.0
        self.action_token_begin_idx = int(self.vocab_size - (self.n_bins + 1))

    def ids(self, action):
        """__call__ without the final tokenizer.decode: the token ids."""
        action = np.clip(action, a_min=float(self.min_action), a_max=float(self.max_action))
        discretized_action = np.digitize(action, self.bins)
        return self.vocab_size - discretized_action

    def decode_token_ids_to_actions(self, action_token_ids):
        discretized_actions = self.vocab_size - action_token_ids
        discretized_actions = np.clip(discretized_actions - 1, a_min=0, a_max=self.bin_centers.shape[0] - 1)
        return self.bin_centers[discretized_actions]


def unnormalize(normalized_actions, action_norm_stats):
    """predict_action's un-normalisation (BOUNDS_Q99), broadcast over rows."""
    mask = action_norm_stats.get("mask", np.ones_like(action_norm_stats["q01"], dtype=bool))
    action_high, action_low = np.array(action_norm_stats["q99"]), np.array(action_norm_stats["q01"])
    return np.where(
        mask,
        0.5 * (normalized_actions + 1) * (action_high - action_low) + action_low,
        normalized_actions,
    )


# Statistics sets. libero_spatial and libero_goal are the action entries of
# OpenVLA's LIBERO fine-tunes' dataset_statistics.json (the _no_noops
# datasets); "no_mask" omits the mask (predict_action then masks every
# dim); "edge" has a zero range, a negative range and large magnitudes.
STATS = [
    {"name": "libero_spatial",
     "q01": [-0.7454732114076613, -0.6616071462631226, -0.9375, -0.1071428582072258,
             -0.20678570866584778, -0.1842857152223587, 0.0],
     "q99": [0.9375, 0.8758928775787354, 0.9321428537368774, 0.1039285734295845,
             0.17678570747375488, 0.14571428298950195, 1.0],
     "mask": [True, True, True, True, True, True, False]},
    {"name": "libero_goal",
     "q01": [-0.8785714507102966, -0.7553571462631226, -0.9375, -0.1510714292526245,
             -0.1639285683631897, -0.13777500048279764, 0.0],
     "q99": [0.9375, 0.9107142686843872, 0.9375, 0.20357142388820648,
             0.26357144117355347, 0.375, 1.0],
     "mask": [True, True, True, True, True, True, False]},
    {"name": "no_mask",
     "q01": [-1.0, -2.0, -3.0, -0.5, -0.25, -0.125, 0.0],
     "q99": [1.0, 2.0, 3.0, 0.5, 0.25, 0.125, 1.0]},
    {"name": "edge",
     "q01": [0.3, -1e6, 12345.678, -0.1, 0.0, -7.25, -1.0],
     "q99": [0.3, 1e6, 12346.001, 0.1, 1e-9, 3.5, 1.0],
     "mask": [True, True, True, False, True, True, True]},
]

# Tokenizer configurations: OpenVLA's, and two others (the formulas take any).
CONFIGS = [
    {"name": "openvla", "vocab_size": 32000, "logits_width": 32064, "bins": 256,
     "stats": ["libero_spatial", "libero_goal", "no_mask", "edge"]},
    {"name": "small_vocab", "vocab_size": 1024, "logits_width": 1024, "bins": 256, "stats": ["no_mask", "edge"]},
    {"name": "coarse", "vocab_size": 100, "logits_width": 128, "bins": 8, "stats": ["libero_spatial", "edge"]},
]


def config_golden(c):
    at = ActionTokenizer(c["vocab_size"], c["bins"])
    v, n = c["vocab_size"], c["bins"]
    band = list(range(v - n, v))
    # Out-of-band ids OpenVLA would still decode (by clipping): just below
    # the band, the padding above the vocabulary, and far away.
    outside = sorted({v - n - 1, v - n - 2, v - n - 50, v, v + 1, v + 63, v + 64, 0, 1, 2, -1, 10 * v})
    outside = [t for t in outside if t not in band]
    tokens = np.array(band + outside, dtype=np.int64)
    normalized = at.decode_token_ids_to_actions(tokens)

    stats = []
    for s in (s for s in STATS if s["name"] in c["stats"]):
        # Every token at every dim: row i is the action whose 7 dims all
        # decode from tokens[i].
        rows = unnormalize(np.repeat(normalized[:, None], len(s["q01"]), axis=1), s)
        stats.append({**s, "unnormalized": rows.tolist()})

    # Encoding (normalised actions in): the edges themselves, their
    # neighbours one ulp away, the centres, and values beyond [-1, 1].
    e = at.bins
    values = np.concatenate([e, np.nextafter(e, -np.inf), np.nextafter(e, np.inf), at.bin_centers,
                             [-1.5, 1.5, -1e300, 1e300, 0.0, -0.0, 0.5, -0.5]])
    enc_tokens = at.ids(values)
    assert all(v - n <= t <= v - 1 for t in enc_tokens), "__call__ left the band"
    return {
        "name": c["name"], "vocab_size": v, "logits_width": c["logits_width"], "bins": n,
        "band": [v - n, v - 1],
        "edges": at.bins.tolist(), "centers": at.bin_centers.tolist(),
        "tokens": tokens.tolist(), "in_band": [bool(v - n <= t <= v - 1) for t in tokens],
        "normalized": normalized.tolist(),
        "stats": stats,
        "encode": {"normalized": values.tolist(), "tokens": enc_tokens.tolist()},
    }


def main():
    golden = {
        "about": "numpy transcription of openvla prismatic/vla/action_tokenizer.py "
                 "(decode_token_ids_to_actions, __call__) and predict_action's un-normalisation; "
                 "written by openvla_golden.py",
        "numpy": np.__version__,
        "configs": [config_golden(c) for c in CONFIGS],
    }
    with open(OUT, "w") as f:
        json.dump(golden, f, indent=None, separators=(",", ":"))
        f.write("\n")
    print("wrote", OUT, os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
