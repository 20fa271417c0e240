#!/usr/bin/python3
"""Train efferent-quadruped, efferent-tiny's recipe applied to the legged-base
(quadruped) simulator, and export it in efferent's model layout (encoder +
KV-cached decoder ONNX graphs, manifest, tokenizer, golden outputs).

Offline only: Debian's python3-torch and python3-onnx on CPU. Python is never
needed to build, run or test efferent.

Pipeline (see README.md beside this file for the exact commands used):
  efferent sim demos --suite quadruped --episodes 20 --downsample 4 --out DEMOS
  efferent tokenizer fit --demos DEMOS --chunk 10 --levels 2 --codes 128 --out models/efferent-quadruped
  nice -n 10 /usr/bin/python3 models/efferent-quadruped/train.py --demos DEMOS --minutes 35

The model predicts the residual-VQ tokens of the next 10-step chunk of
command vectors (vx, vy, wz, body height, gait Hz, swing height, stop flag;
50 Hz, so 0.2 s: QUART-Online's action-chunk discretisation) from the
egocentric camera, the 7-d state and the instruction. The image arrives as
uint8 224x224; the encoder's first operation is a 4x4 average pool, so
training uses the demos' box-filtered 56x56 images (`--downsample 4`).

What is not here is efferent-tiny's: its word-level tokenizer, text encoding,
chunk normalisation, greedy residual-VQ encoding and image pooling are
imported from models/efferent-tiny/train.py (load_module), the transformer,
KV cache, decoding and manifest sections from models/fixturelib.py.
"""
import argparse
import glob
import json
import math
import os
import sys
import time

sys.dont_write_bytecode = True   # importing models/fixturelib.py leaves no __pycache__ behind
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

import fixturelib as FL

# efferent-tiny's build script, for its text, normalisation and VQ helpers
# (build_vocab, tokenizer_json, encode_text, normalise, vq_encode, to_small).
# Its constants that those helpers read (MAX_TEXT 16, PAD/UNK/START ids,
# TEXT_VOCAB 64, POOL 4) are the same here; H is not, so chunks_of is ours.
TINY = FL.load_module("efferent_tiny_train", os.path.join(FL.MODELS, "efferent-tiny", "train.py"))

OUT = os.path.dirname(os.path.abspath(__file__))
SEED = 0
OPSET = 17

IMG = 224
POOL = TINY.POOL         # 224 -> 56, the demos' --downsample
SMALL = IMG // POOL
GRID = 4                 # CNN output: 4x4 tokens
CAMS = 1                 # the egocentric camera only
IMAGE_KEY = "observation/image"
STATE_DIM = 7
MAX_TEXT = TINY.MAX_TEXT                      # 16 words
PREFIX = CAMS * GRID * GRID + 1 + MAX_TEXT    # 33
E = 64
LAYERS = 3
HEADS = 4
HEAD_DIM = E // HEADS
MAX_POS = 128
LEVELS = 2               # `efferent tokenizer fit --levels` (checked against codebook.json)
CODES = 128
TEXT_VOCAB = TINY.TEXT_VOCAB   # ids 0..63 for words; the action band sits above
VOCAB = TEXT_VOCAB + LEVELS * CODES
TOKEN_BASE = VOCAB - 1   # token = base - (level*codes + code)
PAD_ID, UNK_ID, START_TOKEN = TINY.PAD_ID, TINY.UNK_ID, TINY.START_TOKEN
H, D = 10, 7             # 10 commands at 50 Hz
STEP_HZ = 50
# Fixed input scaling of the state [x, y, yaw, vx, vy, wz, height]: the
# odometry reaches about ±8 m in the 8 m arena (x 1/4 brings it to ±2);
# yaw (±pi) and the velocities (≤ 1 m/s, 1.5 rad/s) are O(1); the body
# height, 0.14 … 0.32 m, x5 to 0.7 … 1.6.
STATE_SCALE = [0.25, 0.25, 1.0, 1.0, 1.0, 1.0, 5.0]
# Consecutive 50 Hz frames are nearly identical: train on every STRIDE-th
# step of each episode (each sample still targets the chunk starting there).
STRIDE = 2


# --- the model -----------------------------------------------------------------
class Core(FL.KVCore):
    """efferent-tiny's Core with one camera: a CNN (4x4 tokens), a state
    token and the words make the prefix; fixturelib.KVCore's blocks
    (pre-LayerNorm, KV cache) and decode."""

    def __init__(self):
        super().__init__()
        self.cnn = nn.Sequential(
            nn.Conv2d(3, 32, 4, stride=4), nn.GELU(),                # 56 -> 14
            nn.Conv2d(32, 48, 3, stride=2, padding=1), nn.GELU(),    # 14 -> 7
            nn.Conv2d(48, E, 3, stride=2, padding=1))                # 7 -> 4
        self.img_pos = nn.Parameter(torch.randn(GRID * GRID, E) * 0.02)
        self.state = nn.Linear(STATE_DIM, E)
        self.register_buffer("state_scale", torch.tensor(STATE_SCALE))
        self.add_stack(VOCAB, E, LAYERS, HEADS, MAX_POS)

    def prefix(self, small, state, input_ids, text_mask):
        """small: float image [B,3,56,56] in [-1, 1]."""
        feats = [self.cnn(small).flatten(2).transpose(1, 2) + self.img_pos,
                 self.state(state * self.state_scale)[:, None, :],
                 self.tok(input_ids)]
        x = torch.cat(feats, dim=1) + self.pos(torch.arange(PREFIX))[None]
        b = x.shape[0]
        mask = torch.cat([torch.ones(b, CAMS * GRID * GRID + 1, dtype=torch.int64), text_mask], dim=1)
        return mask, self.run_prefix(x, mask, b)


class Encoder(nn.Module):
    def __init__(self, core):
        super().__init__()
        self.c = core

    def forward(self, image_0, state, input_ids, text_mask):
        mask, kv = self.c.prefix(TINY.to_small(image_0, False), state, input_ids, text_mask)
        return (mask, *kv)


def band(g):
    return FL.vq_band(g, TOKEN_BASE, CODES)


def code_to_token(g, code):
    return TOKEN_BASE - (g * CODES + code)


def export_graphs(enc, dec, image):
    """fixturelib.export_kv_graphs for a one-camera encoder (image_0, state,
    input_ids, text_mask -> prefix_mask, present.%d.key/value): that function
    builds two image inputs, so its ~25 lines are copied here with image_1
    removed; the decoder export is the same."""
    kv_in, kv_out = FL.kv_names(LAYERS)
    ex_enc = (torch.from_numpy(image)[None], torch.zeros(1, STATE_DIM),
              torch.zeros(1, MAX_TEXT, dtype=torch.int64), torch.ones(1, MAX_TEXT, dtype=torch.int64))
    enc_in = ["image_0", "state", "input_ids", "text_mask"]
    enc_path, dec_path = os.path.join(OUT, "encoder.onnx"), os.path.join(OUT, "decoder.onnx")
    torch.onnx.export(enc, ex_enc, enc_path, opset_version=OPSET, input_names=enc_in,
                      output_names=["prefix_mask"] + kv_out,
                      dynamic_axes={n: {0: "batch"} for n in enc_in + ["prefix_mask"] + kv_out},
                      **FL.legacy_exporter())
    FL.fix_dims(enc_path, {n: {1: PREFIX} if n == "prefix_mask" else {2: PREFIX} for n in ["prefix_mask"] + kv_out})
    past = [torch.zeros(1, HEADS, PREFIX, HEAD_DIM) for _ in range(2 * LAYERS)]
    ex_dec = (torch.tensor([[START_TOKEN]]), torch.ones(1, PREFIX + 1, dtype=torch.int64),
              torch.tensor([[PREFIX]]), *past)
    dyn = {"input_ids": {0: "batch"}, "position_ids": {0: "batch"}, "logits": {0: "batch"},
           "attention_mask": {0: "batch", 1: "total"}}
    for n in kv_in:
        dyn[n] = {0: "batch", 2: "past"}
    for n in kv_out:
        dyn[n] = {0: "batch", 2: "total"}
    torch.onnx.export(dec, ex_dec, dec_path, opset_version=OPSET,
                      input_names=["input_ids", "attention_mask", "position_ids"] + kv_in,
                      output_names=["logits"] + kv_out, dynamic_axes=dyn, **FL.legacy_exporter())
    for p in (enc_path, dec_path):
        onnx.checker.check_model(onnx.load(p))


# --- data ------------------------------------------------------------------------
def load_demos(root):
    eps = []
    for meta_path in sorted(glob.glob(os.path.join(root, "**", "meta.json"), recursive=True)):
        d = os.path.dirname(meta_path)
        meta = json.load(open(meta_path))
        if not meta.get("success", True):
            continue
        eps.append({"dir": d, "meta": meta,
                    "ego": np.load(os.path.join(d, "ego.npy"), mmap_mode="r"),
                    "state": np.load(os.path.join(d, "state.npy")),
                    "actions": np.load(os.path.join(d, "actions.npy"))})
    if not eps:
        sys.exit(f"no demonstrations under {root}")
    shp = eps[0]["ego"].shape[1:]
    if shp != (SMALL, SMALL, 3):
        sys.exit(f"demo images are {shp}, want {(SMALL, SMALL, 3)}: write them with --downsample {POOL}")
    return eps


def chunks_of(actions):
    """actions[t:t+H] for every t, padded past the end by repeating the last
    action (the rule of `efferent tokenizer fit`; efferent-tiny's with H=10)."""
    T = len(actions)
    idx = np.minimum(np.arange(T)[:, None] + np.arange(H)[None, :], T - 1)
    return actions[idx]                                     # [T, H, D]


# --- reference decoding (exactly as the Go runtime) ----------------------------
def run_reference(enc, dec, cb, stats, ids, tmask, image, state):
    # fixturelib.kv_greedy feeds two images; this encoder takes one.
    one_cam = lambda im0, im1, *rest: enc(im0, *rest)
    _, tokens, margins = FL.kv_greedy(one_cam, dec, image, image, state, ids, tmask, START_TOKEN, PREFIX, LEVELS,
                                      lambda g, logits: FL.band_pick(logits, *band(g)))
    with torch.no_grad():
        z = FL.vq_latent(cb, tokens, TOKEN_BASE)
    x = z.double().numpy().reshape(H, D)
    a = FL.unnormalise_bounds(x, stats["q01"], stats["q99"], np.array(stats["mask"]))
    return tokens, margins, a


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--demos", required=True)
    ap.add_argument("--minutes", type=float, default=35.0, help="training wall-clock budget")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    # One torch thread (as efferent-tiny): OpenBLAS already uses both cores.
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    torch.set_num_threads(args.threads)

    cbj = json.load(open(os.path.join(OUT, "codebook.json")))
    stats = json.load(open(os.path.join(OUT, "stats.json")))
    assert cbj["levels"] == LEVELS and cbj["codes"] == CODES and cbj["latent_dim"] == H * D, \
        (cbj["levels"], cbj["codes"], cbj["latent_dim"])
    cb = torch.tensor(cbj["codebook"], dtype=torch.float32)            # [L, C, H*D]
    q01, q99, msk = (np.array(stats[k]) for k in ("q01", "q99", "mask"))

    t0 = time.time()
    eps = load_demos(args.demos)
    vocab = TINY.build_vocab([e["meta"]["instruction"] for e in eps])
    # Hold out every 20th episode for validation.
    IM, S, TXT, TM, Y, split, recon = [], [], [], [], [], [], []
    for i, e in enumerate(eps):
        ch = TINY.normalise(chunks_of(e["actions"].astype(np.float64)), q01, q99, msk).reshape(len(e["actions"]), -1)
        codes, res = TINY.vq_encode(ch, cb)
        recon.append(res.abs().max().item())
        ids, tm = TINY.encode_text(e["meta"]["instruction"], vocab)
        keep = np.arange(0, len(ch), STRIDE)
        n = len(keep)
        IM.append(np.ascontiguousarray(e["ego"][keep])); S.append(e["state"][keep])
        TXT.append(np.tile(ids, (n, 1))); TM.append(np.tile(tm, (n, 1))); Y.append(codes.numpy()[keep])
        split.append(np.full(n, i % 20 == 0))
    IM = torch.from_numpy(np.concatenate(IM))
    S = torch.from_numpy(np.concatenate(S).astype(np.float32))
    TXT, TM = torch.from_numpy(np.concatenate(TXT)), torch.from_numpy(np.concatenate(TM))
    Y = torch.from_numpy(np.concatenate(Y)).long()
    val = torch.from_numpy(np.concatenate(split))
    tr_idx, va_idx = torch.nonzero(~val).squeeze(1), torch.nonzero(val).squeeze(1)
    n_val_eps = sum(1 for i in range(len(eps)) if i % 20 == 0)
    print(f"{len(eps)} episodes ({n_val_eps} held out), {len(Y)} samples (every {STRIDE}nd step; "
          f"{len(tr_idx)} train, {len(va_idx)} val), vocab {len(vocab)}, "
          f"max VQ residual {max(recon):.4f}, loaded in {time.time() - t0:.0f}s", flush=True)

    core = Core()
    opt = torch.optim.AdamW(core.parameters(), lr=args.lr, weight_decay=0.01)
    dec_in_pos = torch.arange(PREFIX, PREFIX + LEVELS)[None]
    bands = [band(g) for g in range(LEVELS)]

    def forward(idx):
        b = len(idx)
        small = IM[idx].permute(0, 3, 1, 2).float() / 127.5 - 1.0
        mask, kv = core.prefix(small, S[idx], TXT[idx], TM[idx])
        y = Y[idx]
        toks = [torch.full((b,), START_TOKEN)] + [code_to_token(g, y[:, g]) for g in range(LEVELS - 1)]
        inp = torch.stack(toks, dim=1)
        am = torch.cat([mask, torch.ones(b, LEVELS, dtype=torch.int64)], dim=1)
        logits, _ = core.decode(inp, am, dec_in_pos.expand(b, -1), kv)
        loss, correct = 0.0, []
        for g, (lo, hi) in enumerate(bands):
            lg = logits[:, g, lo:hi + 1]
            target = (CODES - 1) - y[:, g]       # index within the ascending band
            loss = loss + F.cross_entropy(lg, target)
            correct.append((lg.argmax(1) == target).float().mean().item())
        return loss / LEVELS, correct

    budget = args.minutes * 60
    start = time.time()
    steps_per_epoch = math.ceil(len(tr_idx) / args.batch)
    step, epoch, history = 0, 0, []
    while time.time() - start < budget:
        core.train()
        perm = tr_idx[torch.randperm(len(tr_idx))]
        tl, n, tc = 0.0, 0, np.zeros(LEVELS)
        for bi in range(steps_per_epoch):
            if time.time() - start >= budget:
                break
            idx = perm[bi * args.batch:(bi + 1) * args.batch]
            frac = min((time.time() - start) / budget, 1.0)     # cosine schedule over the time budget
            for pg in opt.param_groups:
                pg["lr"] = args.lr * 0.5 * (1 + math.cos(math.pi * frac))
            loss, c = forward(idx)
            tl += FL.optimise(opt, loss, core.parameters()) * len(idx)
            tc += np.array(c) * len(idx)
            n += len(idx)
            step += 1
        epoch += 1
        core.eval()
        with torch.no_grad():
            vl, vc, vn = 0.0, np.zeros(LEVELS), 0
            for bi in range(0, len(va_idx), 512):
                idx = va_idx[bi:bi + 512]
                l, c = forward(idx)
                vl += l.item() * len(idx)
                vc += np.array(c) * len(idx)
                vn += len(idx)
        rec = {"epoch": epoch, "steps": step, "minutes": round((time.time() - start) / 60, 2),
               "train_loss": round(tl / max(n, 1), 4), "val_loss": round(vl / vn, 4),
               "train_token_acc": [round(float(v), 4) for v in tc / max(n, 1)],
               "val_token_acc": [round(float(v), 4) for v in vc / vn]}
        history.append(rec)
        print(json.dumps(rec), flush=True)

    core.eval()
    insts = sorted({e["meta"]["instruction"] for e in eps})
    export(core, cb, stats, vocab, history, args, len(eps), len(Y), insts)


def export(core, cb, stats, vocab, history, args, n_eps, n_samples, instructions):
    enc, dec = Encoder(core).eval(), FL.KVDecoder(core).eval()
    FL.write_json(os.path.join(OUT, "tokenizer.json"), TINY.tokenizer_json(vocab), ensure_ascii=True)
    pats = dict(zip("AB", FL.golden_images(IMG)))
    export_graphs(enc, dec, pats["A"])

    # Golden outputs: fixed pattern images, several of the simulator's
    # instructions and states; keep cases whose argmax margins are safely
    # above float noise.
    states = [[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.28],
              [1.2, -0.4, 0.3, 0.6, 0.0, 0.2, 0.28],
              [2.5, 0.8, -1.0, 0.3, 0.0, -0.5, 0.16],
              [-0.8, 0.1, 3.0, -0.4, 0.0, 0.0, 0.28]]
    candidates = [(instructions[(7 * k) % len(instructions)], "AB"[k % 2], states[k % len(states)])
                  for k in range(12)]
    cases = []
    for prompt, pat, state in candidates:
        ids, tm = TINY.encode_text(prompt, vocab)
        tokens, margins, actions = run_reference(enc, dec, cb, stats, ids, tm, pats[pat], state)
        if min(margins) <= 1e-3:
            continue
        prompt_ids = [i for i, m in zip(ids, tm) if m]
        cases.append({"prompt": prompt, "state": state, "prompt_ids": prompt_ids,
                      "images": {IMAGE_KEY: pat},
                      "input_ids": ids, "text_mask": tm, "tokens": tokens, "min_margin": min(margins),
                      "actions": actions.tolist()})
        if len(cases) == 3:
            break
    assert cases, "no golden case with a safe argmax margin"
    FL.write_json(os.path.join(OUT, "golden.json"),
                  {"about": "PyTorch outputs of efferent-quadruped for fixed inputs (see fixturelib golden_images)",
                   "patterns": FL.PATTERNS, "tolerance": {"actions_abs": 1e-4}, "cases": cases}, ensure_ascii=True)

    last = history[-1] if history else {}
    desc = f"""\
  Small VLA for the legged-base (quadruped) simulator, trained by behaviour
  cloning on its scripted expert (all three suites): efferent-tiny's recipe
  with one egocentric camera (a CNN, 4x4 tokens), the 7-d state and a
  word-level instruction; a {LAYERS}-layer transformer predicts the {LEVELS}
  residual-VQ tokens of the next 10-step chunk of command vectors at 50 Hz."""
    after = f"""\
  episodes: {n_eps}
  samples: {n_samples}
  epochs: {last.get("epoch", 0)}
  steps: {last.get("steps", 0)}
  train_loss: {last.get("train_loss", "n/a")}
  val_loss: {last.get("val_loss", "n/a")}
  val_token_acc: {FL.fmt_list(last.get("val_token_acc", []))}
"""
    state_note = """\
  # state: odometry x, y, yaw in the start pose's frame, body vx, vy, wz,
  # body height (sim/legged StateKey); actions are the 7-d command vector.
"""
    manifest = "\n".join([
        FL.manifest_head("efferent-quadruped", desc, SEED, OPSET, after=after, weights="trained",
                         script="train.py", args=f" --demos DEMOS --minutes {args.minutes:g}"),
        FL.observation_section([f"{{key: {IMAGE_KEY}, input: image_0}}"], IMG, STATE_DIM, state_note=state_note),
        FL.text_section(MAX_TEXT, PAD_ID, "text_mask", add_special=False),
        FL.encoder_section(PREFIX),
        FL.decoder_section(LAYERS, HEADS, HEAD_DIM, VOCAB, START_TOKEN),
        FL.action_section(D, H, STEP_HZ, FL.vq_tokenizer_section(TOKEN_BASE)
                          + FL.normalization_section(stats["q01"], stats["q99"], stats["mask"], floats=True),
                          space="quadruped_command"),
        "golden: golden.json\n"])
    FL.write_trained(OUT, manifest, args, n_eps, n_samples, history)


if __name__ == "__main__":
    sys.exit(main())
