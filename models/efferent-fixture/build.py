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
import struct
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

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
SPACE = "\u2581"


def train_bpe(lines):
    words = {}
    for line in lines:
        for w in line.split():
            key = tuple(SPACE + w)
            words[key] = words.get(key, 0) + 1
    chars = sorted({c for w in words for c in w})
    merges = []
    for _ in range(N_MERGES):
        pairs = {}
        for w, n in words.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] = pairs.get((a, b), 0) + n
        if not pairs:
            break
        best = max(sorted(pairs), key=lambda p: pairs[p])  # ties: lexicographically first
        if pairs[best] < 2:
            break
        merges.append(best)
        merged = {}
        for w, n in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            merged[tuple(out)] = n
        words = merged
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab["<0x%02X>" % b] = len(vocab)
    for c in chars:
        vocab.setdefault(c, len(vocab))
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    return vocab, merges


def bpe_encode(text, vocab, merges):
    """Encode like HF tokenizers does for the tokenizer.json written below:
    normalise (prepend and replace spaces by "▁"), split into characters,
    merge the lowest-ranked adjacent pair (leftmost first) until none is left,
    byte-fall-back for unknown pieces, then prepend <s>."""
    rank = {p: i for i, p in enumerate(merges)}
    s = SPACE + text.replace(" ", SPACE)
    sym = list(s)
    while True:
        best, at = None, -1
        for i in range(len(sym) - 1):
            r = rank.get((sym[i], sym[i + 1]))
            if r is not None and (best is None or r < best):
                best, at = r, i
        if best is None:
            break
        sym[at:at + 2] = [sym[at] + sym[at + 1]]
    ids = [vocab["<s>"]]
    for p in sym:
        if p in vocab:
            ids.append(vocab[p])
        else:
            ids.extend(vocab["<0x%02X>" % b] for b in p.encode("utf-8"))
    return ids


def tokenizer_json(vocab, merges):
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True}
            for t, i in (("<unk>", 0), ("<s>", 1), ("</s>", 2))
        ],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": SPACE},
            {"type": "Replace", "pattern": {"String": " "}, "content": SPACE},
        ]},
        "pre_tokenizer": None,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}},
        },
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": SPACE}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0},
        ]},
        "model": {
            "type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
            "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
            "vocab": vocab, "merges": [a + " " + b for a, b in merges],
        },
    }


# --- the model ------------------------------------------------------------------
class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1 = nn.LayerNorm(E)
        self.qkv = nn.Linear(E, 3 * E)
        self.proj = nn.Linear(E, E)
        self.ln2 = nn.LayerNorm(E)
        self.mlp = nn.Sequential(nn.Linear(E, 4 * E), nn.GELU(), nn.Linear(4 * E, E))

    def forward(self, x, past_k, past_v, key_mask, causal):
        """x [B,S,E]; past_k/v [B,H,P,hd]; key_mask [B,P+S] (1 = attend);
        causal: whether new positions attend causally among themselves."""
        b, s, _ = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(E, dim=-1)
        q = q.view(b, s, HEADS, HEAD_DIM).transpose(1, 2)
        k = k.view(b, s, HEADS, HEAD_DIM).transpose(1, 2)
        v = v.view(b, s, HEADS, HEAD_DIM).transpose(1, 2)
        k = torch.cat([past_k, k], dim=2)
        v = torch.cat([past_v, v], dim=2)
        att = (q @ k.transpose(-1, -2)) / (HEAD_DIM ** 0.5)          # [B,H,S,P+S]
        bias = (1.0 - key_mask[:, None, None, :].to(att.dtype)) * -1e9
        if causal:
            total = k.shape[2]
            qpos = torch.arange(s)[:, None] + (total - s)
            kpos = torch.arange(total)[None, :]
            bias = bias + (kpos > qpos).to(att.dtype)[None, None] * -1e9
        att = torch.softmax(att + bias, dim=-1)
        y = (att @ v).transpose(1, 2).reshape(b, s, E)
        x = x + self.proj(y)
        x = x + self.mlp(self.ln2(x))
        return x, k, v


class Core(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok = nn.Embedding(VOCAB, E)
        self.pos = nn.Embedding(MAX_POS, E)
        self.blocks = nn.ModuleList([Block() for _ in range(LAYERS)])
        self.ln_f = nn.LayerNorm(E)
        self.head = nn.Linear(E, VOCAB)
        self.patch = nn.Conv2d(3, E, PATCH, stride=PATCH)
        self.cam = nn.Parameter(torch.randn(CAMS, E) * 0.1)
        self.state = nn.Linear(STATE_DIM, E)
        nn.init.normal_(self.head.weight, std=1.0 / E ** 0.5)
        # With default initialisation the decoder's output depends almost only
        # on its own token and position, so every observation decodes to the
        # same tokens and a golden test could not tell whether the images,
        # state or prompt reached the model. Shrink the token/position
        # embeddings and sharpen attention so the prefix matters (build.py
        # checks that the golden cases decode to different tokens).
        with torch.no_grad():
            self.tok.weight.mul_(0.05)
            self.pos.weight.mul_(0.05)
            for blk in self.blocks:
                blk.qkv.weight.mul_(5.0)
                blk.proj.weight.mul_(5.0)


class Encoder(nn.Module):
    """images (uint8 NHWC) + state + padded text -> per-layer prefix K/V and
    the prefix mask. The prefix attends bidirectionally (prefix-LM)."""

    def __init__(self, core):
        super().__init__()
        self.c = core

    def forward(self, image_0, image_1, state, input_ids, text_mask):
        c = self.c
        feats = []
        for i, img in enumerate((image_0, image_1)):
            x = img.permute(0, 3, 1, 2).to(torch.float32) / 127.5 - 1.0
            x = c.patch(x).flatten(2).transpose(1, 2) + c.cam[i]
            feats.append(x)
        feats.append(c.state(state)[:, None, :])
        feats.append(c.tok(input_ids))
        x = torch.cat(feats, dim=1)
        b = x.shape[0]
        x = x + c.pos(torch.arange(PREFIX))[None]
        mask = torch.cat([torch.ones(b, CAMS * N_PATCH + 1, dtype=torch.int64), text_mask], dim=1)
        outs = []
        empty = torch.zeros(b, HEADS, 0, HEAD_DIM)
        for blk in c.blocks:
            x, k, v = blk(x, empty, empty, mask, causal=False)
            outs += [k, v]
        return (mask, *outs)


class Decoder(nn.Module):
    """One step of the action-token decoder, Hugging Face/Optimum KV layout."""

    def __init__(self, core):
        super().__init__()
        self.c = core

    def forward(self, input_ids, attention_mask, position_ids, *past):
        c = self.c
        x = c.tok(input_ids) + c.pos(position_ids)
        presents = []
        for i, blk in enumerate(c.blocks):
            x, k, v = blk(x, past[2 * i], past[2 * i + 1], attention_mask, causal=True)
            presents += [k, v]
        logits = c.head(c.ln_f(x))
        return (logits, *presents)


class VQDecoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(LATENT, 64), nn.GELU(), nn.Linear(64, H * D), nn.Tanh())

    def forward(self, latent):
        return self.net(latent).view(-1, H, D)


# --- golden inputs: formulas the Go test reproduces exactly -----------------------
def fix_dims(path, dims):
    """Write back dimensions the exporter left symbolic though they are
    fixed (it cannot see that a Concat with a dynamic batch keeps a constant
    length), so the runtime can check the manifest against them."""
    m = onnx.load(path)
    for v in m.graph.output:
        for axis, size in dims.get(v.name, {}).items():
            d = v.type.tensor_type.shape.dim[axis]
            d.Clear()
            d.dim_value = size
    onnx.checker.check_model(m)
    onnx.save(m, path)


def golden_images():
    y, x, c = np.meshgrid(np.arange(IMG), np.arange(IMG), np.arange(3), indexing="ij")
    im0 = ((x * 3 + y * 5 + c * 50) % 256).astype(np.uint8)
    im1 = ((x * 7 + y * 2 + c * 90 + 17) % 256).astype(np.uint8)
    return im0, im1


# Case "swapped" feeds pattern B to the agent-view camera and A to the wrist
# camera, so a runtime that mixes up camera order fails the golden test.
GOLDEN_CASES = [
    {"prompt": "put the red block in the blue bowl", "swap": False,
     "state": [0.1, -0.2, 0.3, 0.05, -0.05, 0.15, 0.02, -0.02]},
    {"prompt": "push the plate to the left, café!", "swap": True,
     "state": [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.04, 0.04]},
    {"prompt": "put the red block in the blue bowl", "swap": True,
     "state": [0.1, -0.2, 0.3, 0.05, -0.05, 0.15, 0.02, -0.02]},
]


def level_band(g):
    hi = TOKEN_BASE - g * CODES
    return hi - CODES + 1, hi


def run_reference(enc, dec, vqd, codebook, ids, im0, im1, state):
    """Greedy constrained decoding, exactly as the Go runtime does it."""
    text = ids[:MAX_TEXT] + [PAD_ID] * (MAX_TEXT - len(ids))
    tmask = [1] * min(len(ids), MAX_TEXT) + [0] * (MAX_TEXT - min(len(ids), MAX_TEXT))
    with torch.no_grad():
        out = enc(torch.from_numpy(im0)[None], torch.from_numpy(im1)[None],
                  torch.tensor([state], dtype=torch.float32),
                  torch.tensor([text]), torch.tensor([tmask]))
        mask, past = out[0], list(out[1:])
        tok, tokens, margins = START_TOKEN, [], []
        for g in range(LEVELS):
            am = torch.cat([mask, torch.ones(1, g + 1, dtype=torch.int64)], dim=1)
            o = dec(torch.tensor([[tok]]), am, torch.tensor([[PREFIX + g]]), *past)
            logits, past = o[0][0, -1], list(o[1:])
            lo, hi = level_band(g)
            band = logits[lo:hi + 1]
            top2 = torch.topk(band, 2).values
            margins.append(float(top2[0] - top2[1]))
            tok = lo + int(torch.argmax(band))
            tokens.append(tok)
        z = torch.zeros(LATENT)
        for g, t in enumerate(tokens):
            code = TOKEN_BASE - g * CODES - t
            z += codebook[g, code]
        x = vqd(z[None])[0].double().numpy()     # [H, D] normalised
    q01, q99 = np.array(Q01), np.array(Q99)
    a = np.where(MASK, 0.5 * (x + 1.0) * (q99 - q01) + q01, x)
    return text, tmask, tokens, margins, a, [float(v) for v in out[1].flatten()[:8]]


def main():
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    torch.set_num_threads(1)

    vocab, merges = train_bpe(CORPUS)
    assert len(vocab) < TOKEN_BASE - LEVELS * CODES, "text vocabulary overlaps the action band"
    with open(os.path.join(OUT, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer_json(vocab, merges), f, ensure_ascii=False, indent=1)

    core = Core().eval()
    enc, dec, vqd = Encoder(core).eval(), Decoder(core).eval(), VQDecoder().eval()
    codebook = torch.randn(LEVELS, CODES, LATENT) * torch.tensor([1.0, 0.5, 0.25, 0.125])[:, None, None]

    # Export -------------------------------------------------------------------
    im0, im1 = golden_images()
    kv_names_in = [f"past_key_values.{i}.{kv}" for i in range(LAYERS) for kv in ("key", "value")]
    kv_names_out = [f"present.{i}.{kv}" for i in range(LAYERS) for kv in ("key", "value")]
    ex_enc = (torch.from_numpy(im0)[None], torch.from_numpy(im1)[None], torch.zeros(1, STATE_DIM),
              torch.zeros(1, MAX_TEXT, dtype=torch.int64), torch.ones(1, MAX_TEXT, dtype=torch.int64))
    # Every graph input and output has a symbolic batch axis 0, so the server
    # can run several clients' observations in one session run.
    enc_in = ["image_0", "image_1", "state", "input_ids", "text_mask"]
    enc_dyn = {n: {0: "batch"} for n in enc_in + ["prefix_mask"] + kv_names_out}
    torch.onnx.export(enc, ex_enc, os.path.join(OUT, "encoder.onnx"), opset_version=OPSET,
                      input_names=enc_in, output_names=["prefix_mask"] + kv_names_out, dynamic_axes=enc_dyn)
    fix_dims(os.path.join(OUT, "encoder.onnx"), {n: {1 if n == "prefix_mask" else 2: PREFIX} for n in ["prefix_mask"] + kv_names_out})
    past = [torch.zeros(1, HEADS, PREFIX, HEAD_DIM) for _ in range(2 * LAYERS)]
    ex_dec = (torch.tensor([[START_TOKEN]]), torch.ones(1, PREFIX + 1, dtype=torch.int64),
              torch.tensor([[PREFIX]]), *past)
    dyn = {"input_ids": {0: "batch"}, "position_ids": {0: "batch"}, "logits": {0: "batch"},
           "attention_mask": {0: "batch", 1: "total"}}
    for n in kv_names_in:
        dyn[n] = {0: "batch", 2: "past"}
    for n in kv_names_out:
        dyn[n] = {0: "batch", 2: "total"}
    torch.onnx.export(dec, ex_dec, os.path.join(OUT, "decoder.onnx"), opset_version=OPSET,
                      input_names=["input_ids", "attention_mask", "position_ids"] + kv_names_in,
                      output_names=["logits"] + kv_names_out, dynamic_axes=dyn)
    torch.onnx.export(vqd, (torch.zeros(1, LATENT),), os.path.join(OUT, "vq_decoder.onnx"),
                      opset_version=OPSET, input_names=["latent"], output_names=["chunk"])
    for name in ("encoder.onnx", "decoder.onnx", "vq_decoder.onnx"):
        onnx.checker.check_model(onnx.load(os.path.join(OUT, name)))

    # Codebook ----------------------------------------------------------------
    cb = codebook.numpy().astype("<f4")
    digest = hashlib.sha256(cb.tobytes()).hexdigest()
    with open(os.path.join(OUT, "codebook.json"), "w") as f:
        json.dump({"format": "efferent-vq/1", "horizon": H, "dim": D, "levels": LEVELS, "codes": CODES,
                   "latent_dim": LATENT, "codebook": cb.tolist(), "sha256": digest}, f)

    # Golden ------------------------------------------------------------------
    cases = []
    for case in GOLDEN_CASES:
        ids = bpe_encode(case["prompt"], vocab, merges)
        a, b = (im1, im0) if case["swap"] else (im0, im1)
        text, tmask, tokens, margins, actions, kv0 = run_reference(
            enc, dec, vqd, codebook, ids, a, b, case["state"])
        # A random model can put two logits within float noise of each other;
        # then ORT and PyTorch could legitimately pick different tokens.
        assert min(margins) > 1e-3, f"argmax margin too small for a golden test: {margins}"
        cases.append({"prompt": case["prompt"], "state": case["state"], "prompt_ids": ids,
                      "images": {"observation/image": "B" if case["swap"] else "A",
                                 "observation/wrist_image": "A" if case["swap"] else "B"},
                      "input_ids": text, "text_mask": tmask, "tokens": tokens,
                      "min_margin": min(margins), "present_0_key_head": kv0,
                      "actions": actions.tolist()})
    distinct = {tuple(c["tokens"]) for c in cases}
    assert len(distinct) == len(cases), "golden cases must decode to different tokens"
    golden = {
        "about": "PyTorch outputs of efferent-fixture for fixed inputs (see build.py golden_images)",
        "patterns": {
            "A": "pix[y][x][c] = (3x + 5y + 50c) mod 256",
            "B": "pix[y][x][c] = (7x + 2y + 90c + 17) mod 256",
        },
        "tolerance": {"actions_abs": 1e-4},
        "cases": cases,
    }
    with open(os.path.join(OUT, "golden.json"), "w", encoding="utf-8") as f:
        json.dump(golden, f, ensure_ascii=False, indent=1)

    # Manifest (written last so that it names exactly what was built) ----------
    fmt = lambda xs: "[" + ", ".join(repr(v).lower() if isinstance(v, bool) else repr(v) for v in xs) + "]"
    manifest = f"""# efferent model manifest (format efferent-model/1). Generated by build.py; edit that instead.
format: efferent-model/1
name: efferent-fixture
version: 0.1.0
description: >-
  Tiny random-weight VLA used as a fixture for the runtime path (ONNX Runtime
  sessions, KV-cached constrained decoding, VQ detokenisation, serving). Its
  weights are RANDOM: the actions it produces are deterministic but meaningless.
weights: random
license: Apache-2.0
provenance:
  script: models/efferent-fixture/build.py
  command: /usr/bin/python3 models/efferent-fixture/build.py
  seed: {SEED}
  torch: "{torch.__version__}"
  onnx: "{onnx.__version__}"
  opset: {OPSET}

observation:
  images:
    - {{key: observation/image, input: image_0}}
    - {{key: observation/wrist_image, input: image_1}}
  image_height: {IMG}
  image_width: {IMG}
  resize: resize_with_pad
  state: {{key: observation/state, input: state, dim: {STATE_DIM}}}
  prompt: {{key: prompt, required: true, max_bytes: 1024}}

text:
  tokenizer: tokenizer.json
  input_ids: input_ids
  mask: text_mask
  max_tokens: {MAX_TEXT}
  pad_id: {PAD_ID}
  add_special: true

encoder:
  file: encoder.onnx
  prefix_len: {PREFIX}
  prefix_mask: prefix_mask
  present_key: present.%d.key
  present_value: present.%d.value

decoder:
  file: decoder.onnx
  layers: {LAYERS}
  heads: {HEADS}
  head_dim: {HEAD_DIM}
  vocab_size: {VOCAB}
  start_token: {START_TOKEN}
  input_ids: input_ids
  attention_mask: attention_mask
  position_ids: position_ids
  past_key: past_key_values.%d.key
  past_value: past_key_values.%d.value
  logits: logits
  present_key: present.%d.key
  present_value: present.%d.value

action:
  dim: {D}
  horizon: {H}
  step_hz: 20
  tokenizer:
    kind: vq
    codebook: codebook.json
    token_base: {TOKEN_BASE}
    direction: down
    latent_decoder: {{file: vq_decoder.onnx, input: latent, output: chunk}}
  normalization:
    q01: {fmt(Q01)}
    q99: {fmt(Q99)}
    mask: {fmt(MASK)}

golden: golden.json
"""
    with open(os.path.join(OUT, "manifest.yaml"), "w") as f:
        f.write(manifest)
    print("vocab", len(vocab), "merges", len(merges))
    for c in cases:
        print(c["prompt"], "->", c["prompt_ids"], "tokens", c["tokens"], "margin %.4f" % c["min_margin"])
    for n in sorted(os.listdir(OUT)):
        print("%-16s %8d bytes" % (n, os.path.getsize(os.path.join(OUT, n))))


if __name__ == "__main__":
    sys.exit(main())
