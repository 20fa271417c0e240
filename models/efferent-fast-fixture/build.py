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
import importlib.util
import json
import os
import shutil
import sys

import numpy as np
import onnx
import torch
import torch.nn as nn

SEED = 0
OUT = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(OUT))
REF = os.path.join(ROOT, "tokenizer", "fast", "testdata")

spec = importlib.util.spec_from_file_location("fast_reference", os.path.join(REF, "fast_reference.py"))
fastref = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fastref)

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

# --- text tokenizer (as models/efferent-fixture: Metaspace BPE, byte fallback)
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
SPACE = "\u2581"


def train_text_bpe(lines):
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
        best = max(sorted(pairs), key=lambda p: pairs[p])
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


def text_encode(text, vocab, merges):
    rank = {p: i for i, p in enumerate(merges)}
    sym = list(SPACE + text.replace(" ", SPACE))
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


def text_tokenizer_json(vocab, merges):
    return {
        "version": "1.0", "truncation": None, "padding": None,
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


# --- golden cases ---------------------------------------------------------------
# The prompts, states and camera patterns; each case's chunk is drawn below.
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


def golden_images():
    y, x, c = np.meshgrid(np.arange(IMG), np.arange(IMG), np.arange(3), indexing="ij")
    im0 = ((x * 3 + y * 5 + c * 50) % 256).astype(np.uint8)
    im1 = ((x * 7 + y * 2 + c * 90 + 17) % 256).astype(np.uint8)
    return im0, im1


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
        b, s, _ = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(E, dim=-1)
        q = q.view(b, s, HEADS, HEAD_DIM).transpose(1, 2)
        k = k.view(b, s, HEADS, HEAD_DIM).transpose(1, 2)
        v = v.view(b, s, HEADS, HEAD_DIM).transpose(1, 2)
        k = torch.cat([past_k, k], dim=2)
        v = torch.cat([past_v, v], dim=2)
        att = (q @ k.transpose(-1, -2)) / (HEAD_DIM ** 0.5)
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
    def __init__(self, features, targets, prevs):
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
        # The spelling: per case c and step s, the token to emit and the
        # token that must have been fed.
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
        x = c.tok(input_ids) + c.pos(position_ids)
        presents = []
        for i, blk in enumerate(c.blocks):
            x, k, v = blk(x, past[2 * i], past[2 * i + 1], attention_mask, causal=True)
            presents += [k, v]
        logits = c.head(c.ln_f(x))                                    # [B, 1, V]
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


def fix_dims(path, dims):
    m = onnx.load(path)
    for v in m.graph.output:
        for axis, size in dims.get(v.name, {}).items():
            d = v.type.tensor_type.shape.dim[axis]
            d.Clear()
            d.dim_value = size
    onnx.checker.check_model(m)
    onnx.save(m, path)


def allowed(s, lo, hi, end):
    """The runtime's allowed set at step s: the FAST band (only the end
    token at the last step), and the end token."""
    if s >= MAX_TOKENS:
        return [end]
    return list(range(lo, hi + 1)) + [end]


def run_reference(enc, dec, ids, im0, im1, state, lo, hi, end):
    """Greedy constrained decoding, exactly as the Go runtime does it:
    argmax over the allowed ids (ties to the lowest), stop at the end token."""
    text = ids[:MAX_TEXT] + [PAD_ID] * (MAX_TEXT - len(ids))
    tmask = [1] * min(len(ids), MAX_TEXT) + [0] * (MAX_TEXT - min(len(ids), MAX_TEXT))
    with torch.no_grad():
        out = enc(torch.from_numpy(im0)[None], torch.from_numpy(im1)[None],
                  torch.tensor([state], dtype=torch.float32), torch.tensor([text]), torch.tensor([tmask]))
        mask, past = out[0], list(out[1:])
        tok, tokens, margins = START_TOKEN, [], []
        for s in range(MAX_TOKENS + 1):
            am = torch.cat([mask, torch.ones(1, s + 1, dtype=torch.int64)], dim=1)
            o = dec(torch.tensor([[tok]]), am, torch.tensor([[PREFIX + s]]), *past)
            logits, past = o[0][0, -1], list(o[1:])
            ok = torch.tensor(allowed(s, lo, hi, end))
            vals = logits[ok]
            best = int(torch.argmax(vals))
            if len(ok) > 1:
                top2 = torch.topk(vals, 2).values
                margins.append(float(top2[0] - top2[1]))
            tok = int(ok[best])
            tokens.append(tok)
            if tok == end:
                break
    return text, tmask, tokens, margins


def main():
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    torch.set_num_threads(1)

    vocab, merges = train_text_bpe(CORPUS)
    END = vocab["|"]
    with open(os.path.join(OUT, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(text_tokenizer_json(vocab, merges), f, ensure_ascii=False, indent=1)

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
    im0, im1 = golden_images()
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
        ids = text_encode(case["prompt"], vocab, merges)
        a0, a1 = (im1, im0) if case["swap"] else (im0, im1)
        cases.append({**case, "chunk": a, "fast_ids": fast_ids, "spelled": lm, "ids": ids, "images": (a0, a1),
                      "actions": fastref.unnormalize(xhat, q01, q99, NORM_EPS)})

    # The selection features of each case, computed as the graph does.
    feats = []
    for c in cases:
        text = c["ids"] + [PAD_ID] * (MAX_TEXT - len(c["ids"]))
        tmask = [1] * len(c["ids"]) + [0] * (MAX_TEXT - len(c["ids"]))
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
    with torch.no_grad():   # as models/efferent-fixture: let the prefix matter
        core.tok.weight.mul_(0.05)
        core.pos.weight.mul_(0.05)
        for blk in core.blocks:
            blk.qkv.weight.mul_(5.0)
            blk.proj.weight.mul_(5.0)
    enc, dec = Encoder(core).eval(), Decoder(core).eval()

    kv_in = [f"past_key_values.{i}.{kv}" for i in range(LAYERS) for kv in ("key", "value")]
    kv_out = [f"present.{i}.{kv}" for i in range(LAYERS) for kv in ("key", "value")]
    ex_enc = (torch.from_numpy(im0)[None], torch.from_numpy(im1)[None], torch.zeros(1, STATE_DIM),
              torch.zeros(1, MAX_TEXT, dtype=torch.int64), torch.ones(1, MAX_TEXT, dtype=torch.int64))
    enc_in = ["image_0", "image_1", "state", "input_ids", "text_mask"]
    torch.onnx.export(enc, ex_enc, os.path.join(OUT, "encoder.onnx"), opset_version=OPSET,
                      input_names=enc_in, output_names=["prefix_mask"] + kv_out,
                      dynamic_axes={n: {0: "batch"} for n in enc_in + ["prefix_mask"] + kv_out})
    fix_dims(os.path.join(OUT, "encoder.onnx"),
             {n: {1: PREFIX} if n == "prefix_mask" else {2: PREFIX, 3: HEAD_DIM} for n in ["prefix_mask"] + kv_out})
    past = [torch.zeros(1, HEADS, PREFIX, HEAD_DIM) for _ in range(2 * LAYERS)]
    ex_dec = (torch.tensor([[START_TOKEN]]), torch.ones(1, PREFIX + 1, dtype=torch.int64), torch.tensor([[PREFIX]]), *past)
    dyn = {"input_ids": {0: "batch"}, "position_ids": {0: "batch"}, "logits": {0: "batch"},
           "attention_mask": {0: "batch", 1: "total"}}
    for n in kv_in:
        dyn[n] = {0: "batch", 2: "past"}
    for n in kv_out:
        dyn[n] = {0: "batch", 2: "total"}
    torch.onnx.export(dec, ex_dec, os.path.join(OUT, "decoder.onnx"), opset_version=OPSET,
                      input_names=["input_ids", "attention_mask", "position_ids"] + kv_in,
                      output_names=["logits"] + kv_out, dynamic_axes=dyn)
    for name in ("encoder.onnx", "decoder.onnx"):
        onnx.checker.check_model(onnx.load(os.path.join(OUT, name)))

    out_cases, refused = [], []
    for c in cases:
        text, tmask, tokens, margins = run_reference(enc, dec, c["ids"], c["images"][0], c["images"][1], c["state"], lo, hi, END)
        assert tokens == c["spelled"], (c["name"], tokens, c["spelled"])
        assert min(margins) > 1.0, margins
        entry = {"name": c["name"], "prompt": c["prompt"], "state": c["state"], "prompt_ids": c["ids"],
                 "images": {"observation/image": "B" if c["swap"] else "A",
                            "observation/wrist_image": "A" if c["swap"] else "B"},
                 "input_ids": text, "text_mask": tmask, "tokens": tokens, "min_margin": min(margins),
                 "fast_ids": [int(t) for t in c["fast_ids"]]}
        if c.get("refused"):
            entry["reference"] = "zeros (the FAST processor's answer to a sequence that does not reshape to (H, D))"
            refused.append(entry)
        else:
            entry["actions"] = c["actions"].tolist()
            entry["source_actions"] = c["chunk"].tolist()
            out_cases.append(entry)
    golden = {
        "about": "efferent-fast-fixture: PyTorch's greedy FAST tokens and the FAST reference's decoded actions "
                 "(models/efferent-fast-fixture/build.py, tokenizer/fast/testdata/fast_reference.py)",
        "patterns": {"A": "pix[y][x][c] = (3x + 5y + 50c) mod 256", "B": "pix[y][x][c] = (7x + 2y + 90c + 17) mod 256"},
        "tolerance": {"actions_abs": 1e-6},
        "fast": {"scale": proc.scale, "min_token": proc.min_token, "token_base": TOKEN_BASE, "end_token": END,
                 "max_tokens": MAX_TOKENS, "norm_eps": NORM_EPS},
        "cases": out_cases,
        "refused": refused,
    }
    with open(os.path.join(OUT, "golden.json"), "w", encoding="utf-8") as f:
        json.dump(golden, f, ensure_ascii=False, indent=1)

    fmt = lambda xs: "[" + ", ".join(repr(float(v)) for v in xs) + "]"
    manifest = f"""# efferent model manifest (format efferent-model/1). Generated by build.py; edit that instead.
format: efferent-model/1
name: efferent-fast-fixture
version: 0.1.0
description: >-
  Tiny random-weight autoregressive VLA whose decoder spells FAST action
  tokens (π0-FAST's DCT + BPE tokenizer) for a few fixed observations: a
  fixture for variable-length decoding and the fast detokenizer. Its actions
  are deterministic but meaningless.
weights: random
license: Apache-2.0
provenance:
  script: models/efferent-fast-fixture/build.py
  command: /usr/bin/python3 models/efferent-fast-fixture/build.py
  seed: {SEED}
  torch: "{torch.__version__}"
  onnx: "{onnx.__version__}"
  opset: {OPSET}
  fast_reference: tokenizer/fast/testdata/fast_reference.py

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
  step_hz: 10
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
  normalization:
    q01: {fmt(q01)}
    q99: {fmt(q99)}

golden: golden.json
"""
    with open(os.path.join(OUT, "manifest.yaml"), "w") as f:
        f.write(manifest)
    print("text vocab", len(vocab), "end token", END, "FAST band", (lo, hi))
    for c in out_cases + refused:
        print("%-40s %2d tokens, margin %.2f" % (c["prompt"], len(c["tokens"]), c["min_margin"]))
    for n in sorted(os.listdir(OUT)):
        print("%-20s %8d bytes" % (n, os.path.getsize(os.path.join(OUT, n))))


if __name__ == "__main__":
    sys.exit(main())
