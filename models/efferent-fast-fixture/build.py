#!/usr/bin/python3
"""Build efferent-fast-fixture: a tiny autoregressive VLA whose decoder
emits FAST action tokens (π0-FAST's DCT + BPE tokenizer), to test efferent's
variable-length decoding and its fast detokenizer under ONNX Runtime.

Its weights are RANDOM except for one deliberate path: the decoder's logits
get a large bias that spells out, token by token, the FAST tokens of one of
a few fixed golden chunks, so that greedy decoding (constrained to the FAST
band and the end token, as the runtime does it) emits a valid FAST sequence.
Which chunk is chosen depends on the observation (nearest golden case by
state, per-camera mean colour and the prompt's token ids), and each step's
bias is gated on the token fed back being the expected previous one: a
runtime that loses the images, the state, the prompt or the fed-back token
decodes something else and fails the golden test. The actions are
deterministic and come from the FAST detokenizer; they mean nothing.

Run from the repository root with Debian's torch/onnx/numpy/scipy:

    /usr/bin/python3 models/efferent-fast-fixture/build.py

It writes, next to this file:
  tokenizer.json       text tokenizer (tiny Llama-style BPE, HF format)
  fast_tokenizer.json  the FAST BPE: tokenizer/fast/testdata/tokenizer.json,
                       copied (trained by fast_reference.py with the FAST
                       processor's fit procedure)
  encoder.onnx         images + state + text -> prefix KV cache + prefix mask
  decoder.onnx         one token + past KV -> logits + present KV
  golden.json          the runtime's expected tokens and actions
  manifest.yaml        action.tokenizer.kind: fast

The FAST encoding and decoding come from tokenizer/fast/testdata/
fast_reference.py (numpy + scipy, written from the FAST processor's and
openpi's sources).
"""
import json
import os
import shutil
import sys

sys.dont_write_bytecode = True   # importing models/fixturelib.py leaves no __pycache__ behind
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np
import torch
import torch.nn as nn

import fixturelib as FL

SEED = 0
OUT = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(OUT))
REF = os.path.join(ROOT, "tokenizer", "fast", "testdata")

fastref = FL.load_module("fast_reference", os.path.join(REF, "fast_reference.py"))

# --- geometry -----------------------------------------------------------------
IMG = 64
PATCH = 16
N_PATCH = (IMG // PATCH) ** 2
CAMS = 2
STATE_DIM = 8
MAX_TEXT = 32
PREFIX = CAMS * N_PATCH + 1 + MAX_TEXT    # 65
E = 64
LAYERS = 2
HEADS = 2
HEAD_DIM = E // HEADS
VOCAB = 2048
SKIP = 16                 # like PaliGemma's last 128 ids, the top SKIP ids are not FAST tokens
TOKEN_BASE = VOCAB - 1 - SKIP   # FAST id t -> TOKEN_BASE - t (openpi's direction)
MAX_POS = 128
H, D = 10, 7
MAX_TOKENS = 32           # FAST tokens per chunk at most; the decoder runs MAX_TOKENS + 1 steps
START_TOKEN = 2
PAD_ID = 0
BIG = 20.0                # the spelling bias
OPSET = 17
NORM_EPS = 1e-6

# --- text tokenizer (as models/efferent-fixture: fixturelib's Metaspace BPE,
# byte fallback)
CORPUS = """
put the red block in the blue bowl
put the green block on the yellow plate
stack the green block on the yellow block
push the plate to the left
push the plate to the right
pick up the black bowl and place it on the plate
open the top drawer of the cabinet
close the microwave
fold the towel
action: |
""".strip().split("\n")
N_MERGES = 200


# --- golden cases ---------------------------------------------------------------
# The prompts, states and camera patterns (fixturelib.golden_images); each
# case's chunk is drawn below.
# "refused" spells a truncated FAST sequence (its chunk's last FAST token is
# dropped): the runtime must refuse it (fast.ErrIncomplete) and count it,
# where the FAST processor would answer an all-zero chunk.
CASES = [
    {"name": "red block", "prompt": "put the red block in the blue bowl", "swap": False,
     "state": [0.1, -0.2, 0.3, 0.05, -0.05, 0.15, 0.02, -0.02]},
    {"name": "plate left", "prompt": "push the plate to the left", "swap": True,
     "state": [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.04, 0.04]},
    {"name": "red block swapped", "prompt": "put the red block in the blue bowl", "swap": True,
     "state": [-0.3, 0.25, 0.1, -0.1, 0.2, -0.15, 0.0, 0.01]},
    {"name": "refused", "prompt": "fold the towel", "swap": False, "refused": True,
     "state": [0.4, 0.4, -0.4, 0.0, 0.1, 0.1, 0.03, 0.03]},
]


# --- the model ------------------------------------------------------------------
class Core(FL.PatchCore):
    """efferent-fixture's core (fixturelib.PatchCore) plus the spelling: per
    case c and step s, the token to emit and the token that must have been fed."""

    def __init__(self, features, targets, prevs):
        super().__init__(vocab=VOCAB, width=E, layers=LAYERS, heads=HEADS, max_pos=MAX_POS, img=IMG,
                         patch=PATCH, cams=CAMS, state_dim=STATE_DIM, max_text=MAX_TEXT)
        self.register_buffer("features", torch.tensor(features, dtype=torch.float32))   # [NC, F]
        self.register_buffer("targets", torch.tensor(targets, dtype=torch.int64))       # [STEPS, NC]
        self.register_buffer("prevs", torch.tensor(prevs, dtype=torch.int64))           # [STEPS, NC]


def observation_features(image_0, image_1, state, input_ids, text_mask):
    """What selects the case: the state, each camera's mean colour and the
    prompt's ids. The same formula runs in the graph and in the reference."""
    m0 = image_0.to(torch.float32).mean(dim=(1, 2)) / 255.0
    m1 = image_1.to(torch.float32).mean(dim=(1, 2)) / 255.0
    txt = (input_ids * text_mask).sum(dim=1, keepdim=True).to(torch.float32) / 1000.0
    return torch.cat([state, m0, m1, txt], dim=1)


class Encoder(nn.Module):
    def __init__(self, core):
        super().__init__()
        self.c = core

    def forward(self, image_0, image_1, state, input_ids, text_mask):
        c = self.c
        mask, outs, b = c.prefix((image_0, image_1), state, input_ids, text_mask)
        # The case code: one-hot of the nearest golden observation, written
        # into layer 0's value at prefix position 0, head 0.
        f = observation_features(image_0, image_1, state, input_ids, text_mask)
        d = ((f[:, None, :] - c.features[None]) ** 2).sum(dim=-1)
        nc = c.features.shape[0]
        code = (torch.arange(nc)[None, :] == d.argmin(dim=1, keepdim=True)).to(torch.float32)
        sel = torch.zeros(1, HEADS, PREFIX, HEAD_DIM)
        sel[0, 0, 0, :nc] = 1.0
        padded = torch.cat([code, torch.zeros(b, HEAD_DIM - nc)], dim=1)[:, None, None, :]
        outs[1] = outs[1] * (1.0 - sel) + padded * sel
        return (mask, *outs)


class Decoder(nn.Module):
    def __init__(self, core):
        super().__init__()
        self.c = core

    def forward(self, input_ids, attention_mask, position_ids, *past):
        c = self.c
        logits, presents = c.decode(input_ids, attention_mask, position_ids, past)   # [B, 1, V]
        nc = c.features.shape[0]
        code = past[1][:, 0, 0, :nc]                                  # [B, NC]
        steps = c.targets.shape[0]
        s = (position_ids - PREFIX).clamp(0, steps - 1)               # [B, 1]
        target = c.targets[s]                                         # [B, 1, NC]
        gate = (input_ids[:, :, None] == c.prevs[s]).to(torch.float32)  # [B, 1, NC]
        w = code[:, None, :] * gate                                   # [B, 1, NC]
        onehot = (target[..., None] == torch.arange(VOCAB)).to(torch.float32)  # [B, 1, NC, V]
        logits = logits + BIG * (w[..., None] * onehot).sum(dim=2)
        return (logits, *presents)


def allowed(s, lo, hi, end):
    """The runtime's allowed set at step s: the FAST band (only the end
    token at the last step), and the end token."""
    if s >= MAX_TOKENS:
        return [end]
    return list(range(lo, hi + 1)) + [end]


def run_reference(enc, dec, ids, im0, im1, state, lo, hi, end):
    """Greedy constrained decoding, exactly as the Go runtime does it:
    argmax over the allowed ids (ties to the lowest), stop at the end token."""
    def pick(s, logits):
        ok = torch.tensor(allowed(s, lo, hi, end))
        vals = logits[ok]
        best = int(torch.argmax(vals))
        margin = None
        if len(ok) > 1:
            top2 = torch.topk(vals, 2).values
            margin = float(top2[0] - top2[1])
        return int(ok[best]), margin

    text, tmask = FL.pad_text(ids, MAX_TEXT, PAD_ID)
    _, tokens, margins = FL.kv_greedy(enc, dec, im0, im1, state, text, tmask, START_TOKEN, PREFIX,
                                      MAX_TOKENS + 1, pick, end)
    return text, tmask, tokens, margins


def main():
    FL.seed_all(SEED)

    vocab, merges = FL.train_bpe(CORPUS, N_MERGES)
    END = vocab["|"]
    FL.write_json(os.path.join(OUT, "tokenizer.json"), FL.bpe_tokenizer_json(vocab, merges))

    # The FAST tokenizer: the reference's vocabulary and settings.
    shutil.copyfile(os.path.join(REF, "tokenizer.json"), os.path.join(OUT, "fast_tokenizer.json"))
    with open(os.path.join(REF, "golden.json")) as f:
        ref = json.load(f)
    with open(os.path.join(REF, "tokenizer.json"), encoding="utf-8") as f:
        tj = json.load(f)
    proc = fastref.Processor(tj["model"]["vocab"], [tuple(m) for m in tj["model"]["merges"]], ref["scale"], ref["min_token"])
    n_fast = len(proc.vocab)
    lo, hi = TOKEN_BASE - (n_fast - 1), TOKEN_BASE
    assert len(vocab) < lo, "text vocabulary overlaps the FAST band"
    assert END < lo
    d7 = next(c for c in ref["cases"] if c["dim"] == D)
    q01, q99 = np.array(d7["q01"]), np.array(d7["q99"])

    # Chunks: smooth synthetic H×D chunks (the reference's generator), one per case.
    rng = np.random.default_rng(SEED + 1)
    im0, im1 = FL.golden_images(IMG)
    cases = []
    for case in CASES:
        while True:
            a = fastref.synth_chunk(rng, H, D)
            x = fastref.normalize(a, q01, q99, NORM_EPS)
            try:
                coef, q, chars, fast_ids = proc.encode_trace(x)
            except ValueError:
                continue
            if fastref.half_margin(coef * proc.scale) > 1e-6 and len(fast_ids) <= MAX_TOKENS \
                    and (q.flatten() - proc.min_token).min() >= 0:
                break
        spelled = list(fast_ids[:-1]) if case.get("refused") else list(fast_ids)
        lm = [TOKEN_BASE - t for t in spelled] + [END]
        xhat, ok = proc.decode(spelled, H, D)
        assert ok != bool(case.get("refused"))
        ids = FL.bpe_encode(case["prompt"], vocab, merges)
        a0, a1 = (im1, im0) if case["swap"] else (im0, im1)
        cases.append({**case, "chunk": a, "fast_ids": fast_ids, "spelled": lm, "ids": ids, "images": (a0, a1),
                      "actions": fastref.unnormalize(xhat, q01, q99, NORM_EPS)})

    # The selection features of each case, computed as the graph does.
    feats = []
    for c in cases:
        text, tmask = FL.pad_text(c["ids"], MAX_TEXT, PAD_ID)
        f = observation_features(torch.from_numpy(c["images"][0])[None], torch.from_numpy(c["images"][1])[None],
                                 torch.tensor([c["state"]], dtype=torch.float32), torch.tensor([text]), torch.tensor([tmask]))
        feats.append(f[0].tolist())
    steps = MAX_TOKENS + 1
    targets = np.full((steps, len(cases)), END, dtype=np.int64)
    prevs = np.full((steps, len(cases)), END, dtype=np.int64)
    for ci, c in enumerate(cases):
        seq = c["spelled"]
        for s in range(steps):
            if s < len(seq):
                targets[s, ci] = seq[s]
                prevs[s, ci] = START_TOKEN if s == 0 else seq[s - 1]

    core = Core(feats, targets.tolist(), prevs.tolist()).eval()
    enc, dec = Encoder(core).eval(), Decoder(core).eval()
    FL.export_kv_graphs(enc, dec, OUT, (im0, im1), STATE_DIM, MAX_TEXT, PREFIX, LAYERS, HEADS, HEAD_DIM,
                        START_TOKEN, OPSET, fix_head_dim=True)

    out_cases, refused = [], []
    for c in cases:
        text, tmask, tokens, margins = run_reference(enc, dec, c["ids"], c["images"][0], c["images"][1], c["state"], lo, hi, END)
        assert tokens == c["spelled"], (c["name"], tokens, c["spelled"])
        assert min(margins) > 1.0, margins
        entry = {"name": c["name"], "prompt": c["prompt"], "state": c["state"], "prompt_ids": c["ids"],
                 "images": FL.camera_patterns(c["swap"]),
                 "input_ids": text, "text_mask": tmask, "tokens": tokens, "min_margin": min(margins),
                 "fast_ids": [int(t) for t in c["fast_ids"]]}
        if c.get("refused"):
            entry["reference"] = "zeros (the FAST processor's answer to a sequence that does not reshape to (H, D))"
            refused.append(entry)
        else:
            entry["actions"] = c["actions"].tolist()
            entry["source_actions"] = c["chunk"].tolist()
            out_cases.append(entry)
    FL.write_json(os.path.join(OUT, "golden.json"), {
        "about": "efferent-fast-fixture: PyTorch's greedy FAST tokens and the FAST reference's decoded actions "
                 "(models/efferent-fast-fixture/build.py, tokenizer/fast/testdata/fast_reference.py)",
        "patterns": FL.PATTERNS,
        "tolerance": {"actions_abs": 1e-6},
        "fast": {"scale": proc.scale, "min_token": proc.min_token, "token_base": TOKEN_BASE, "end_token": END,
                 "max_tokens": MAX_TOKENS, "norm_eps": NORM_EPS},
        "cases": out_cases,
        "refused": refused,
    })

    desc = """\
  Tiny random-weight autoregressive VLA whose decoder spells FAST action
  tokens (π0-FAST's DCT + BPE tokenizer) for a few fixed observations: a
  fixture for variable-length decoding and the fast detokenizer. Its actions
  are deterministic but meaningless."""
    tokenizer = f"""\
  tokenizer:
    kind: fast
    vocab: fast_tokenizer.json
    scale: {proc.scale:g}
    min_token: {proc.min_token}
    token_base: {TOKEN_BASE}
    direction: down
    end_token: {END}
    max_tokens: {MAX_TOKENS}
    norm_eps: {NORM_EPS:g}
"""
    manifest = "\n".join([
        FL.manifest_head("efferent-fast-fixture", desc, SEED, OPSET,
                         after="  fast_reference: tokenizer/fast/testdata/fast_reference.py\n"),
        FL.observation_section(FL.TWO_CAMERAS, IMG, STATE_DIM),
        FL.text_section(MAX_TEXT, PAD_ID, "text_mask"),
        FL.encoder_section(PREFIX),
        FL.decoder_section(LAYERS, HEADS, HEAD_DIM, VOCAB, START_TOKEN),
        FL.action_section(D, H, 10, tokenizer + FL.normalization_section(q01, q99, floats=True)),
        "golden: golden.json\n"])
    FL.write_text(os.path.join(OUT, "manifest.yaml"), manifest)
    print("text vocab", len(vocab), "end token", END, "FAST band", (lo, hi))
    for c in out_cases + refused:
        print("%-40s %2d tokens, margin %.2f" % (c["prompt"], len(c["tokens"]), c["min_margin"]))
    FL.print_sizes(OUT, 20)


if __name__ == "__main__":
    sys.exit(main())
