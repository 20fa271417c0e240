#!/usr/bin/python3
"""Build the efferent-fixture model: a tiny, RANDOM-WEIGHT vision-language-
action model used to test the runtime path end to end (ONNX Runtime sessions,
KV-cached constrained decoding, VQ detokenisation, un-normalisation, serving).
Its actions are meaningless; the trained model comes from models/efferent-tiny.

Run from the repository root with Debian's torch/onnx/numpy:

    /usr/bin/python3 models/efferent-fixture/build.py

It writes, next to this file:
  tokenizer.json   Llama-style BPE (Metaspace "▁", byte fallback), HF format
  encoder.onnx     images + state + text ids -> prefix KV cache + prefix mask
  decoder.onnx     one token + past KV -> logits + present KV (HF/Optimum layout)
  vq_decoder.onnx  VQ latent -> normalised 5x7 action chunk
  codebook.json    residual VQ codebook (efferent-vq/1)
  golden.json      PyTorch outputs for fixed inputs, checked by the Go tests
  manifest.yaml    everything the runtime needs to load the model

Everything is deterministic for the seed below. The script re-verifies the
exported graphs against PyTorch with onnx.checker only; numerical agreement
with ONNX Runtime is checked by the Go test (policy/ort), which is where the
runtime lives.
"""
import hashlib
import json
import os
import sys

sys.dont_write_bytecode = True   # importing models/fixturelib.py leaves no __pycache__ behind
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import onnx
import torch
import torch.nn as nn

import fixturelib as FL

SEED = 0
OUT = os.path.dirname(os.path.abspath(__file__))

# --- geometry -----------------------------------------------------------------
IMG = 224           # image side
PATCH = 56          # 4x4 patches per camera
N_PATCH = (IMG // PATCH) ** 2
CAMS = 2
STATE_DIM = 8
MAX_TEXT = 32       # prompt tokens, padded
PREFIX = CAMS * N_PATCH + 1 + MAX_TEXT   # 65
E = 64              # width
LAYERS = 2
HEADS = 2
HEAD_DIM = E // HEADS
VOCAB = 1024
MAX_POS = 128
H, D = 5, 7         # action chunk
LEVELS, CODES, LATENT = 4, 64, 16
TOKEN_BASE = VOCAB - 1   # token = base - (level*codes + code): the top of the vocabulary
START_TOKEN = 2          # "</s>" starts the action sequence
PAD_ID = 0
OPSET = 17

Q01 = [-0.75, -0.80, -0.90, -0.10, -0.15, -0.20, -1.0]
Q99 = [0.90, 0.85, 0.93, 0.12, 0.20, 0.25, 1.0]
MASK = [True, True, True, True, True, True, False]

# --- text tokenizer: a tiny Llama-style BPE trained on instructions ------------
# (fixturelib.train_bpe; efferent-oft-fixture and efferent-pi0-fixture copy
# the tokenizer.json written from it)
CORPUS = """
put the red block in the blue bowl
put the green block on the yellow plate
stack the green block on the yellow block
push the plate to the left
push the plate to the right
pick up the black bowl and place it on the plate
open the top drawer of the cabinet
close the microwave
turn on the stove
put the bowl on the stove
put both the alphabet soup and the tomato sauce in the basket
pick up the ketchup and place it in the basket
move the red block to the front of the table
put the cream cheese in the bowl
walk forward and turn left
stop and sit down
""".strip().split("\n")
N_MERGES = 300


# --- the model ------------------------------------------------------------------
# fixturelib.PatchCore: conv patches of both cameras, a state token and the
# text make the prefix (bidirectional, prefix-LM); the decoder attends to its
# KV cache.
class Encoder(nn.Module):
    """images (uint8 NHWC) + state + padded text -> the prefix mask and the
    per-layer prefix K/V."""

    def __init__(self, core):
        super().__init__()
        self.c = core

    def forward(self, image_0, image_1, state, input_ids, text_mask):
        mask, kv, _ = self.c.prefix((image_0, image_1), state, input_ids, text_mask)
        return (mask, *kv)


class VQDecoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(LATENT, 64), nn.GELU(), nn.Linear(64, H * D), nn.Tanh())

    def forward(self, latent):
        return self.net(latent).view(-1, H, D)


# --- golden inputs: formulas the Go test reproduces exactly -----------------------
# Images: fixturelib.golden_images. Case "swapped" feeds pattern B to the
# agent-view camera and A to the wrist camera, so a runtime that mixes up
# camera order fails the golden test.
GOLDEN_CASES = [
    {"prompt": "put the red block in the blue bowl", "swap": False,
     "state": [0.1, -0.2, 0.3, 0.05, -0.05, 0.15, 0.02, -0.02]},
    {"prompt": "push the plate to the left, café!", "swap": True,
     "state": [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.04, 0.04]},
    {"prompt": "put the red block in the blue bowl", "swap": True,
     "state": [0.1, -0.2, 0.3, 0.05, -0.05, 0.15, 0.02, -0.02]},
]


def run_reference(enc, dec, vqd, codebook, ids, im0, im1, state):
    """Greedy constrained decoding, exactly as the Go runtime does it: each
    level's token from its band, then the VQ latent decoded and unnormalised."""
    text, tmask = FL.pad_text(ids, MAX_TEXT, PAD_ID)
    out, tokens, margins = FL.kv_greedy(
        enc, dec, im0, im1, state, text, tmask, START_TOKEN, PREFIX, LEVELS,
        lambda g, logits: FL.band_pick(logits, *FL.vq_band(g, TOKEN_BASE, CODES)))
    with torch.no_grad():
        z = FL.vq_latent(codebook, tokens, TOKEN_BASE)
        x = vqd(z[None])[0].double().numpy()     # [H, D] normalised
    a = FL.unnormalise_bounds(x, Q01, Q99, MASK)
    return text, tmask, tokens, margins, a, [float(v) for v in out[1].flatten()[:8]]


def main():
    FL.seed_all(SEED)

    vocab, merges = FL.train_bpe(CORPUS, N_MERGES)
    assert len(vocab) < TOKEN_BASE - LEVELS * CODES, "text vocabulary overlaps the action band"
    FL.write_json(os.path.join(OUT, "tokenizer.json"), FL.bpe_tokenizer_json(vocab, merges))

    core = FL.PatchCore(vocab=VOCAB, width=E, layers=LAYERS, heads=HEADS, max_pos=MAX_POS, img=IMG,
                        patch=PATCH, cams=CAMS, state_dim=STATE_DIM, max_text=MAX_TEXT).eval()
    enc, dec, vqd = Encoder(core).eval(), FL.KVDecoder(core).eval(), VQDecoder().eval()
    codebook = torch.randn(LEVELS, CODES, LATENT) * torch.tensor([1.0, 0.5, 0.25, 0.125])[:, None, None]

    # Export -------------------------------------------------------------------
    im0, im1 = FL.golden_images(IMG)
    FL.export_kv_graphs(enc, dec, OUT, (im0, im1), STATE_DIM, MAX_TEXT, PREFIX, LAYERS, HEADS, HEAD_DIM,
                        START_TOKEN, OPSET)
    torch.onnx.export(vqd, (torch.zeros(1, LATENT),), os.path.join(OUT, "vq_decoder.onnx"),
                      opset_version=OPSET, input_names=["latent"], output_names=["chunk"])
    onnx.checker.check_model(onnx.load(os.path.join(OUT, "vq_decoder.onnx")))

    # Codebook ----------------------------------------------------------------
    cb = codebook.numpy().astype("<f4")
    digest = hashlib.sha256(cb.tobytes()).hexdigest()
    with open(os.path.join(OUT, "codebook.json"), "w") as f:
        json.dump({"format": "efferent-vq/1", "horizon": H, "dim": D, "levels": LEVELS, "codes": CODES,
                   "latent_dim": LATENT, "codebook": cb.tolist(), "sha256": digest}, f)

    # Golden ------------------------------------------------------------------
    cases = []
    for case in GOLDEN_CASES:
        ids = FL.bpe_encode(case["prompt"], vocab, merges)
        a, b = (im1, im0) if case["swap"] else (im0, im1)
        text, tmask, tokens, margins, actions, kv0 = run_reference(
            enc, dec, vqd, codebook, ids, a, b, case["state"])
        # A random model can put two logits within float noise of each other;
        # then ORT and PyTorch could legitimately pick different tokens.
        assert min(margins) > 1e-3, f"argmax margin too small for a golden test: {margins}"
        cases.append({"prompt": case["prompt"], "state": case["state"], "prompt_ids": ids,
                      "images": FL.camera_patterns(case["swap"]),
                      "input_ids": text, "text_mask": tmask, "tokens": tokens,
                      "min_margin": min(margins), "present_0_key_head": kv0,
                      "actions": actions.tolist()})
    distinct = {tuple(c["tokens"]) for c in cases}
    assert len(distinct) == len(cases), "golden cases must decode to different tokens"
    FL.write_json(os.path.join(OUT, "golden.json"), {
        "about": "PyTorch outputs of efferent-fixture for fixed inputs (see build.py golden_images)",
        "patterns": FL.PATTERNS,
        "tolerance": {"actions_abs": 1e-4},
        "cases": cases,
    })

    # Manifest (written last so that it names exactly what was built) ----------
    desc = """\
  Tiny random-weight VLA used as a fixture for the runtime path (ONNX Runtime
  sessions, KV-cached constrained decoding, VQ detokenisation, serving). Its
  weights are RANDOM: the actions it produces are deterministic but meaningless."""
    manifest = "\n".join([
        FL.manifest_head("efferent-fixture", desc, SEED, OPSET),
        FL.observation_section(FL.TWO_CAMERAS, IMG, STATE_DIM),
        FL.text_section(MAX_TEXT, PAD_ID, "text_mask"),
        FL.encoder_section(PREFIX),
        FL.decoder_section(LAYERS, HEADS, HEAD_DIM, VOCAB, START_TOKEN),
        FL.action_section(D, H, 20, FL.vq_tokenizer_section(
            TOKEN_BASE, latent_decoder="{file: vq_decoder.onnx, input: latent, output: chunk}")
            + FL.normalization_section(Q01, Q99, MASK)),
        "golden: golden.json\n"])
    FL.write_text(os.path.join(OUT, "manifest.yaml"), manifest)
    print("vocab", len(vocab), "merges", len(merges))
    for c in cases:
        print(c["prompt"], "->", c["prompt_ids"], "tokens", c["tokens"], "margin %.4f" % c["min_margin"])
    FL.print_sizes(OUT)


if __name__ == "__main__":
    sys.exit(main())
