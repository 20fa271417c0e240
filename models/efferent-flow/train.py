#!/usr/bin/python3
"""Train efferent-flow: efferent-tiny's encoder with a flow-matching action
head, on the built-in simulator's demonstrations, and export it in
efferent's `flow` layout (prefix + step graphs, manifest, golden outputs).

Offline only: Debian's python3-torch and python3-onnx on CPU. Python is never
needed to build, run or test efferent.

    efferent sim demos --suite all --episodes 25 --downsample 4 --out DEMOS/clean
    efferent sim demos --suite all --episodes 30 --downsample 4 --action-noise 0.3 --out DEMOS/noisy
    /usr/bin/python3 models/efferent-flow/train.py --demos DEMOS --minutes 70

What it is:
  * the prefix is efferent-tiny's, and starts from efferent-tiny's trained
    weights (read back from models/efferent-tiny/*.onnx): two cameras through
    per-camera CNNs at 56x56 (4x4 tokens each), a state token and the words,
    a 3-layer, 64-wide transformer; its per-layer K/V are the prefix graph's
    outputs;
  * the action head: 16 action tokens that go through efferent-tiny's own
    transformer blocks (shared with the prefix, as efferent-tiny's decoder
    tokens are), attending to each layer's prefix keys/values and to each
    other (bidirectional), then efferent-tiny's final LayerNorm and a linear
    layer to the clean chunk. Each token starts as efferent-tiny's decoder
    start token at its position (how its decoder reads the prefix) plus the
    noisy action and pi0's sine-cosine embedding of the flow time, both
    through zero-initialised layers: training starts from the pretrained
    model's reading of the prefix. (A first design with pi0's separate
    action expert — its own 3 blocks, fresh — learned too slowly on this
    budget: after an epoch its clean-chunk estimate from pure noise was no
    better than predicting no motion.)
  * flow matching on openpi's pi0 path, x_t = t*noise + (1-t)*actions with
    t ~ Beta(1.5, 1) scaled to [0.001, 1], but with the x-prediction
    parameterisation: the expert predicts the clean chunk a_hat and is
    trained on |a_hat - actions|^2 (two noise draws per observation); the
    step graph outputs the velocity of the same path, v = (x_t - a_hat)/t,
    so sampling is pi0's: 10 Euler steps from t = 1 (noise) to 0, the noise
    from efferent's own seeded generator (manifest flow.seed + observation
    seq). A first run with pi0's own velocity loss (noise - actions) was
    stopped after 3 epochs: its samples were barely better than predicting
    zero motion (x/y/z error 0.18 against 0.21 on training observations,
    10 % on spatial), where x-prediction learns the conditional mean as a
    regression does;
  * the chunk is 16 steps at 20 Hz (0.8 s), so that a chunk still has
    actions left after a 300 ms inference (6 steps): efferent-tiny's 5-step
    chunk is over after 250 ms;
  * actions are normalised as efferent-tiny's (models/efferent-tiny/stats.json:
    q01/q99 to [-1, 1] on x/y/z, the unused rotation dims to 0, the gripper
    as it is);
  * training adds what efferent-tiny lacked: random shifts of the images by
    up to 3 pixels (per sample, per camera).
"""
import argparse
import json
import math
import os
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.dirname(HERE)
sys.path.insert(0, MODELS)

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

import fixturelib as FL

TINY = FL.load_module("tiny_train", os.path.join(MODELS, "efferent-tiny", "train.py"))
PI0 = FL.load_module("pi0_build", os.path.join(MODELS, "efferent-pi0-fixture", "build.py"))

# EFFERENT_FLOW_OUT exports elsewhere (trying a checkpoint without
# touching the shipped files).
OUT = os.environ.get("EFFERENT_FLOW_OUT", HERE)
TINY_DIR = os.path.join(MODELS, "efferent-tiny")
SEED = 0
OPSET = 17
E, LAYERS, HEADS, HEAD_DIM = TINY.E, TINY.LAYERS, TINY.HEADS, TINY.HEAD_DIM
PREFIX, STATE_DIM, MAX_TEXT, IMG, SMALL = TINY.PREFIX, TINY.STATE_DIM, TINY.MAX_TEXT, TINY.IMG, TINY.SMALL
H, D = 16, 7
STEPS, TIME_FROM, TIME_TO, FLOW_SEED = 10, 1.0, 0.0, 0
SHIFT = 3          # image augmentation: random shifts of up to 3 px at 56x56
NOISE_DRAWS = 2    # flow samples per observation and training step
T_MIN = 1e-3       # the velocity's division by t is clamped here (sampling never goes below 0.1)


class Expert(nn.Module):
    """The flow-matching action head: 16 action tokens that go through
    efferent-tiny's own transformer blocks (shared with the prefix, as
    efferent-tiny's decoder tokens do), attending to the prefix keys/values
    of each layer and to each other (bidirectional). Each token starts as
    efferent-tiny's decoder start token at its position — what its decoder
    reads the prefix with — plus the noisy action and the flow time, both
    through zero-initialised layers, so that training starts from the
    pretrained model's reading of the prefix."""

    def __init__(self, core):
        super().__init__()
        self._core = [core]            # shared, not a submodule (its parameters are the prefix's)
        self.in_proj = nn.Linear(D, E)
        self.time_in = nn.Linear(E, E)
        self.time_out = nn.Linear(E, E)
        self.out_proj = nn.Linear(E, D)
        with torch.no_grad():
            for m in (self.in_proj, self.time_out):
                m.weight.zero_()
                m.bias.zero_()
        frac = np.linspace(0.0, 1.0, E // 2, dtype=np.float64)
        period = 4e-3 * (4.0 / 4e-3) ** frac            # pi0's sine-cosine periods
        self.register_buffer("time_scale", torch.from_numpy((2 * math.pi / period).astype(np.float32)))
        self.register_buffer("start", torch.tensor([TINY.START_TOKEN]))
        self.register_buffer("positions", torch.arange(PREFIX, PREFIX + H))

    def forward(self, x_t, timestep, prefix_mask, kv):
        """The velocity v_t = (x_t - a_hat) / t of the linear path, from the
        predicted clean chunk a_hat (x-prediction, see denoise)."""
        a_hat = self.denoise(x_t, timestep, prefix_mask, kv)
        return (x_t - a_hat) / torch.clamp(timestep, min=T_MIN)[:, None, None]

    def denoise(self, x_t, timestep, prefix_mask, kv):
        """The clean chunk the noisy sample x_t at time t is heading to."""
        core = self._core[0]
        b = x_t.shape[0]
        ang = timestep[:, None] * self.time_scale[None, :]
        te = torch.cat([torch.sin(ang), torch.cos(ang)], dim=1)
        base = core.tok(self.start) + core.pos(self.positions)                      # [H, E]
        x = base[None] + self.in_proj(x_t) + self.time_out(F.silu(self.time_in(te)))[:, None, :]
        mask = torch.cat([prefix_mask, torch.ones(b, H, dtype=prefix_mask.dtype)], dim=1)
        for i, blk in enumerate(core.blocks):
            x, _, _ = blk(x, kv[2 * i], kv[2 * i + 1], mask, causal=False)
        return self.out_proj(core.ln_f(x))


class Flow(nn.Module):
    def __init__(self, core):
        super().__init__()
        self.core = core
        self.expert = Expert(core)

    def prefix_small(self, small0, small1, state, ids, tmask):
        mask, kv = self.core.prefix(small0, small1, state, ids, tmask)
        return mask, kv


class PrefixGraph(nn.Module):
    """uint8 NHWC 224x224 cameras -> prefix_mask, present.%d.key/value."""

    def __init__(self, flow):
        super().__init__()
        self.enc = TINY.Encoder(flow.core)

    def forward(self, image_0, image_1, state, input_ids, text_mask):
        return self.enc(image_0, image_1, state, input_ids, text_mask)


class StepGraph(nn.Module):
    def __init__(self, flow):
        super().__init__()
        self.expert = flow.expert
        self.core = flow.core      # the shared blocks: parameters of this graph too

    def forward(self, x_t, timestep, prefix_mask, *kv):
        return self.expert(x_t, timestep, prefix_mask, list(kv))


def guide_weight(i, d, steps):
    """policy.GuideWeight: real-time chunking's soft mask (Black et al. 2025, eq. 5)."""
    if i < 0 or i >= steps:
        return 0.0
    if i < d:
        return 1.0
    c = (steps - i) / (steps - d + 1)
    return c * math.expm1(c) / (math.e - 1)


def guidance_scale(tau, beta):
    """The paper's PiGDM guidance weight, min(beta, (1 - tau) / (tau * r^2)) (comparison only)."""
    if tau <= 0:
        return beta
    if tau >= 1:
        return 0.0
    u = 1 - tau
    r2 = u * u / (tau * tau + u * u)
    return min(beta, u / (tau * r2))


def guided_euler(expert, mask, kv, noise, y, w, beta=5.0, vjp=False):
    """Real-time chunking's guided sampling. y, w: [B, H, D] target (model
    units) and soft-mask weights. vjp=False is efferent's rule
    (policy/ort/guide.go): after each Euler step to t', the guided values
    are moved onto the flow's path towards y from the starting noise,
    x <- (1 - w)*x + w*(s(t')*noise + (1 - s(t'))*y). vjp=True is the
    paper's guidance (PiGDM, the vector-Jacobian product through the head,
    capped at beta), for comparison only: ONNX Runtime has no autodiff."""
    times, dt = PI0.flow_times()
    x = noise
    ones = torch.ones(noise.shape[0])
    adt = np.float32(abs(dt))
    for k, t in enumerate(times):
        if vjp:
            tau = (t - TIME_FROM) / (TIME_TO - TIME_FROM)
            g = adt * np.float32(guidance_scale(tau, beta))
            xg = x.detach().requires_grad_(True)
            v = expert(xg, ones * t, mask, kv)
            est = xg + np.float32(TIME_TO - t) * v
            (corr,) = torch.autograd.grad(est, xg, grad_outputs=w * (y - est))
            x = (x + np.float32(dt) * v + g * corr).detach()
            continue
        v = expert(x, ones * t, mask, kv)
        xn = x + np.float32(dt) * v
        nxt = TIME_FROM + (k + 1) * dt
        share = np.float32((nxt - TIME_TO) / (TIME_FROM - TIME_TO))
        x = (1 - w) * xn + w * (share * noise + (1 - share) * y)
    return x


def euler(expert, mask, kv, noise):
    """10 Euler steps as the Go runtime takes them (times accumulated in
    float64, fed as float32; x <- x + dt*v in float32)."""
    assert (PI0.STEPS, PI0.TIME_FROM, PI0.TIME_TO) == (STEPS, TIME_FROM, TIME_TO)
    times, dt = PI0.flow_times()
    x = noise
    ones = torch.ones(noise.shape[0])
    for t in times:
        x = x + np.float32(dt) * expert(x, ones * t, mask, kv)
    return x


# --- data ---------------------------------------------------------------------------
def shift_images(x, gen):
    """Random integer shifts of up to SHIFT px per sample (replicate padding)."""
    b = x.shape[0]
    p = F.pad(x, (SHIFT, SHIFT, SHIFT, SHIFT), mode="replicate")
    dx = torch.randint(0, 2 * SHIFT + 1, (b,), generator=gen)
    dy = torch.randint(0, 2 * SHIFT + 1, (b,), generator=gen)
    ar = torch.arange(SMALL)
    rows = (dy[:, None] + ar[None, :])                       # [b, S]
    cols = (dx[:, None] + ar[None, :])
    bi = torch.arange(b)[:, None, None]
    out = p.permute(0, 2, 3, 1)[bi, rows[:, :, None], cols[:, None, :]]   # [b, S, S, C]
    return out.permute(0, 3, 1, 2)


def load(args, vocab, q01, q99, msk):
    eps = TINY.load_demos(args.demos)
    A, W, S, TXT, TM, Y, split = [], [], [], [], [], [], []
    for i, e in enumerate(eps):
        T = len(e["actions"])
        idx = np.minimum(np.arange(T)[:, None] + np.arange(H)[None, :], T - 1)
        ch = TINY.normalise(e["actions"].astype(np.float64)[idx], q01, q99, msk)   # [T, H, D]
        ids, tm = TINY.encode_text(e["meta"]["instruction"], vocab)
        A.append(e["agent"]); W.append(e["wrist"]); S.append(e["state"])
        TXT.append(np.tile(ids, (T, 1))); TM.append(np.tile(tm, (T, 1))); Y.append(ch)
        split.append(np.full(T, i % 20 == 0))
    t = lambda xs, dt=None: torch.from_numpy(np.concatenate(xs) if dt is None else np.concatenate(xs).astype(dt))
    return (len(eps), t(A), t(W), t(S, np.float32), t(TXT), t(TM), t(Y, np.float32),
            torch.from_numpy(np.concatenate(split)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--demos", required=True)
    ap.add_argument("--minutes", type=float, default=70.0, help="training wall-clock budget")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=6e-4)
    ap.add_argument("--encoder-lr", type=float, default=3e-4, help="for the prefix (already trained)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--init", default="", help="continue from this state dict (a run's /tmp/efferent-flow-final.pt)")
    args = ap.parse_args()
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(SEED)

    stats = json.load(open(os.path.join(TINY_DIR, "stats.json")))
    q01, q99, msk = (np.array(stats[k]) for k in ("q01", "q99", "mask"))
    vocab = json.load(open(os.path.join(TINY_DIR, "tokenizer.json")))["model"]["vocab"]
    t0 = time.time()
    n_eps, A, W, S, TXT, TM, Y, val = load(args, vocab, q01, q99, msk)
    tr_idx, va_idx = torch.nonzero(~val).squeeze(1), torch.nonzero(val).squeeze(1)
    print(f"{n_eps} episodes, {len(Y)} samples ({len(tr_idx)} train, {len(va_idx)} val), "
          f"loaded in {time.time() - t0:.0f}s", flush=True)

    flow = Flow(TINY.core_from_onnx())
    if args.init:
        # Continue from a saved run's weights (its final state, saved
        # before its export); the schedule starts again.
        flow.load_state_dict(torch.load(args.init))
    # efferent-tiny's decoding head and token embeddings beyond the words
    # are not used by the prefix; they are exported nowhere.
    enc_params = [p for n, p in flow.core.named_parameters() if not n.startswith("head.")]
    opt = torch.optim.AdamW([{"params": enc_params, "lr": args.encoder_lr, "base": args.encoder_lr},
                             {"params": flow.expert.parameters(), "lr": args.lr, "base": args.lr}],
                            weight_decay=0.01)
    beta = torch.distributions.Beta(torch.tensor(1.5), torch.tensor(1.0))

    def batch(idx, augment):
        s0 = A[idx].permute(0, 3, 1, 2).float()
        s1 = W[idx].permute(0, 3, 1, 2).float()
        if augment:
            s0, s1 = shift_images(s0, gen), shift_images(s1, gen)
        return s0 / 127.5 - 1.0, s1 / 127.5 - 1.0

    def loss_of(idx, augment):
        s0, s1 = batch(idx, augment)
        mask, kv = flow.prefix_small(s0, s1, S[idx], TXT[idx], TM[idx])
        # NOISE_DRAWS flow samples per observation: the encoder runs once.
        mask = mask.repeat_interleave(NOISE_DRAWS, 0)
        kv = [k.repeat_interleave(NOISE_DRAWS, 0) for k in kv]
        a = Y[idx].repeat_interleave(NOISE_DRAWS, 0)
        b = len(a)
        t = beta.sample((b,)) * 0.999 + 0.001
        noise = torch.randn(b, H, D, generator=gen)
        x_t = t[:, None, None] * noise + (1 - t[:, None, None]) * a
        return F.mse_loss(flow.expert.denoise(x_t, t, mask, kv), a)

    def sample_error(idx):
        """Mean absolute error of 10-step samples against the demonstrated
        chunk (x/y/z, normalised units), per chunk step group."""
        s0, s1 = batch(idx, False)
        mask, kv = flow.prefix_small(s0, s1, S[idx], TXT[idx], TM[idx])
        x = euler(flow.expert, mask, kv, torch.randn(len(idx), H, D, generator=gen))
        err = (x - Y[idx])[:, :, :3].abs()
        return [round(float(err[:, a:b].mean()), 4) for a, b in ((0, 5), (5, 10), (10, 16))], \
            round(float((x[:, :, 6].sign() != Y[idx][:, :, 6].sign()).float().mean()), 4)

    budget, start = args.minutes * 60, time.time()
    steps_per_epoch = math.ceil(len(tr_idx) / args.batch)
    warm = 200
    step, epoch, history = 0, 0, []
    while time.time() - start < budget:
        flow.train()
        perm = tr_idx[torch.randperm(len(tr_idx), generator=gen)]
        tl, n = 0.0, 0
        for bi in range(steps_per_epoch):
            if time.time() - start >= budget:
                break
            idx = perm[bi * args.batch:(bi + 1) * args.batch]
            frac = min((time.time() - start) / budget, 1.0)
            scale = min(1.0, (step + 1) / warm) * 0.5 * (1 + math.cos(math.pi * frac))
            for pg in opt.param_groups:
                pg["lr"] = pg["base"] * scale
            loss = loss_of(idx, True)
            tl += FL.optimise(opt, loss, flow.parameters()) * len(idx)
            n += len(idx)
            step += 1
            if step % 200 == 0:
                print(f"step {step} loss {tl / n:.4f} {(time.time() - start) / 60:.1f} min", flush=True)
        epoch += 1
        flow.eval()
        with torch.no_grad():
            vl, vn = 0.0, 0
            for bi in range(0, len(va_idx), 512):
                idx = va_idx[bi:bi + 512]
                vl += loss_of(idx, False).item() * len(idx)
                vn += len(idx)
            sub = va_idx[torch.randperm(len(va_idx), generator=gen)[:512]]
            xyz, grip = sample_error(sub)
        rec = {"epoch": epoch, "steps": step, "minutes": round((time.time() - start) / 60, 2),
               "train_loss": round(tl / max(n, 1), 4), "val_loss": round(vl / vn, 4),
               "val_sample_xyz_abs_err_steps_0_5_10": xyz, "val_sample_gripper_sign_err": grip}
        history.append(rec)
        print(json.dumps(rec), flush=True)
        torch.save(flow.state_dict(), os.path.join("/tmp", "efferent-flow.pt"))

    flow.eval()
    torch.save(flow.state_dict(), os.path.join("/tmp", "efferent-flow-final.pt"))
    if args.init:
        # The run continued: its history and arguments come first.
        prev = json.load(open(os.path.join(OUT, "training.json")))
        history = [dict(r, run=1) for r in prev["history"]] + [dict(r, run=2) for r in history]
        args.first_run = prev["args"]
    export(flow, stats, vocab, history, args, n_eps, len(Y))


# --- export -------------------------------------------------------------------------
GOLDEN = [
    ("put the red block in the blue bowl", False, 1, [0.1, -0.2, 0.3, 0.05, -0.05, 0.15, 0.02, -0.02]),
    ("push the plate to the left", True, 2, [0.0, 0.0, 0.2, 3.1, 0.0, 0.0, 0.04, -0.04]),
    ("stack the green block on the yellow block", False, 3, [0.05, 0.1, 0.25, 3.0, 0.1, 0.0, 0.0, 0.0]),
]


def export(flow, stats, vocab, history, args, n_eps, n_samples):
    kv_in, kv_out = FL.kv_names(LAYERS)
    FL.write_json(os.path.join(OUT, "tokenizer.json"), TINY.tokenizer_json(vocab), ensure_ascii=True)
    im0, im1 = FL.golden_images(IMG)
    pre_path, step_path = os.path.join(OUT, "prefix.onnx"), os.path.join(OUT, "step.onnx")
    pre_in = ["image_0", "image_1", "state", "input_ids", "text_mask"]
    pre_out = ["prefix_mask"] + kv_out
    ex = (torch.from_numpy(im0)[None], torch.from_numpy(im1)[None], torch.zeros(1, STATE_DIM),
          torch.zeros(1, MAX_TEXT, dtype=torch.int64), torch.ones(1, MAX_TEXT, dtype=torch.int64))
    pg = PrefixGraph(flow).eval()
    torch.onnx.export(pg, ex, pre_path, opset_version=OPSET, input_names=pre_in, output_names=pre_out,
                      dynamic_axes={n: {0: "batch"} for n in pre_in + pre_out})
    FL.fix_dims(pre_path, {n: {1: PREFIX} if n == "prefix_mask" else {2: PREFIX} for n in pre_out})
    with torch.no_grad():
        pm, *kv = pg(*ex)
    step_in = ["x_t", "timestep", "prefix_mask"] + kv_out
    sg = StepGraph(flow).eval()
    torch.onnx.export(sg, (torch.zeros(1, H, D), torch.ones(1), pm, *kv), step_path, opset_version=OPSET,
                      input_names=step_in, output_names=["v_t"],
                      dynamic_axes={n: {0: "batch"} for n in step_in + ["v_t"]})
    FL.fix_dims(step_path, {n: {2: PREFIX} for n in kv_out})
    for p in (pre_path, step_path):
        onnx.checker.check_model(onnx.load(p))

    cases = []
    with torch.no_grad():
        for prompt, swap, seq, state in GOLDEN:
            ids, tm = TINY.encode_text(prompt, vocab)
            a, b = (im1, im0) if swap else (im0, im1)
            obs = (torch.from_numpy(a)[None], torch.from_numpy(b)[None], torch.tensor([state], dtype=torch.float32),
                   torch.tensor([ids]), torch.tensor([tm]))
            pm, *kv = pg(*obs)
            seed = FLOW_SEED + seq
            noise = PI0.flow_noise(seed, H * D).reshape(H, D)
            raw = euler(flow.expert, pm, kv, torch.from_numpy(noise)[None])[0].numpy()
            actions = FL.unnormalise_bounds(raw.astype(np.float64), stats["q01"], stats["q99"], np.array(stats["mask"]))
            cases.append({"prompt": prompt, "state": state, "prompt_ids": [i for i, m in zip(ids, tm) if m],
                          "input_ids": ids, "text_mask": tm, "images": FL.camera_patterns(swap),
                          "seq": seq, "seed": seed, "noise": noise.tolist(), "raw": raw.tolist(),
                          "actions": actions.tolist()})
    # Guided (real-time chunking): case 2's observation guided towards
    # case 1's chunk, as the scheduler would give it (the first 12 steps,
    # 3 frozen), computed with efferent's inpainting rule; the paper's
    # vector-Jacobian guidance is printed beside it for comparison.
    guided = []
    with torch.no_grad():
        base, other = cases[0], cases[1]
        steps, delay = 12, 3
        gact = np.array(base["actions"])[:steps]
        q01, q99, msk = (np.array(stats[k], dtype=np.float64) for k in ("q01", "q99", "mask"))
        y, w = np.zeros((H, D), np.float32), np.zeros((H, D), np.float32)
        for k in range(steps):
            for j in range(D):
                span = q99[j] - q01[j]
                if msk[j]:
                    if span == 0:
                        continue
                    y[k, j] = np.float32(2 * (gact[k, j] - q01[j]) / span - 1)
                else:
                    y[k, j] = np.float32(gact[k, j])
                w[k, j] = np.float32(guide_weight(k, delay, steps))
        prompt, swap, seq, state = GOLDEN[1]
        ids, tm = TINY.encode_text(prompt, vocab)
        a, b = (im1, im0) if swap else (im0, im1)
        obs = (torch.from_numpy(a)[None], torch.from_numpy(b)[None], torch.tensor([state], dtype=torch.float32),
               torch.tensor([ids]), torch.tensor([tm]))
        pm, *kv = pg(*obs)
        noise = torch.from_numpy(np.array(other["noise"], dtype=np.float32))[None]
        raw = guided_euler(flow.expert, pm, kv, noise, torch.from_numpy(y)[None], torch.from_numpy(w)[None])[0].numpy()
    with torch.enable_grad():
        raw_vjp = guided_euler(flow.expert, pm, kv, noise, torch.from_numpy(y)[None], torch.from_numpy(w)[None],
                               vjp=True)[0].detach().numpy()
    actions = FL.unnormalise_bounds(raw.astype(np.float64), stats["q01"], stats["q99"], np.array(stats["mask"]))
    act_vjp = FL.unnormalise_bounds(raw_vjp.astype(np.float64), stats["q01"], stats["q99"], np.array(stats["mask"]))
    free = np.array(other["actions"])
    err = lambda x: float(np.abs(x[:delay, :3] - gact[:delay, :3]).max())
    print(f"guided golden: frozen-step x/y/z error to the guide: unguided {err(free):.4f}, efferent's inpainting "
          f"{err(actions):.4f}, the paper's guidance (VJP, beta 5) {err(act_vjp):.4f}; the two chunks' max difference "
          f"{float(np.abs(actions - act_vjp).max()):.4f}", flush=True)
    guided.append({"case": 1, "guide": gact.tolist(), "delay": delay,
                   "raw": raw.tolist(), "actions": actions.tolist(), "actions_vjp": act_vjp.tolist()})
    times, dt = PI0.flow_times()
    FL.write_json(os.path.join(OUT, "golden.json"),
                  {"about": "PyTorch outputs of efferent-flow for fixed inputs (see train.py): noise = the flow "
                            "noise for seed, raw = the chunk after the Euler loop (normalised units), actions = raw "
                            "unnormalised (q01/q99 bounds), in float64.",
                   "patterns": FL.PATTERNS, "tolerance": {"actions_abs": 1e-4, "raw_abs": 1e-4},
                   "flow": {"steps": STEPS, "time_from": TIME_FROM, "time_to": TIME_TO, "dt": dt, "times": times,
                            "seed": FLOW_SEED},
                   "cases": cases, "guided": guided}, ensure_ascii=True)

    last = history[-1] if history else {}
    desc = f"""\
  Small VLA trained by flow matching on the built-in simulator's scripted
  expert (all four suites): efferent-tiny's encoder (two cameras at 56x56,
  state, word-level instruction; {LAYERS}-layer transformer) with a pi0-style
  action expert that denoises a {H}-step chunk in {STEPS} Euler steps."""
    after = f"""\
  init: models/efferent-tiny (encoder weights)
  episodes: {n_eps}
  samples: {n_samples}
  epochs: {last.get("epoch", 0)}
  steps: {last.get("steps", 0)}
  train_loss: {last.get("train_loss", "n/a")}
  val_loss: {last.get("val_loss", "n/a")}
"""
    state_note = """\
  # robot_base: where a ROS Franka's base frame (panda_link0) lies in the
  # simulator's world frame, the frame of these states.
"""
    flow_sec = FL.flow_step_section(STEPS, TIME_FROM, TIME_TO, FLOW_SEED)
    manifest = "\n".join([
        FL.manifest_head("efferent-flow", desc, SEED, OPSET, after=after, weights="trained",
                         script="train.py", args=f" --demos DEMOS --minutes {args.minutes:g}") + "layout: flow\n",
        FL.observation_section(FL.TWO_CAMERAS, IMG, STATE_DIM, state_note=state_note,
                               state_extra=", robot_base: [-0.50, 0.0, 0.885]"),
        FL.text_section(MAX_TEXT, TINY.PAD_ID, "text_mask", add_special=False),
        flow_sec,
        FL.action_section(D, H, 20, FL.normalization_section(stats["q01"], stats["q99"], stats["mask"], floats=True), space="libero",
                          max_lag=3),
        "golden: golden.json\n"])
    FL.write_trained(OUT, manifest, args, n_eps, n_samples, history)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--export-checkpoint"]:
        # Export a saved checkpoint (/tmp/efferent-flow.pt) without training.
        f = Flow(TINY.core_from_onnx())
        f.load_state_dict(torch.load(sys.argv[2]))
        f.eval()
        tr = json.load(open(os.path.join(OUT, "training.json"))) if os.path.exists(os.path.join(OUT, "training.json")) else {}
        st = json.load(open(os.path.join(TINY_DIR, "stats.json")))
        vc = json.load(open(os.path.join(TINY_DIR, "tokenizer.json")))["model"]["vocab"]
        export(f, st, vc, tr.get("history", []), argparse.Namespace(**tr.get("args", {"minutes": 0})),
               tr.get("episodes", 0), tr.get("samples", 0))
        sys.exit(0)
    sys.exit(main())
