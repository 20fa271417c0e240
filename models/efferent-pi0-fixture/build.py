#!/usr/bin/python3
"""Build efferent-pi0-fixture: a tiny, RANDOM-WEIGHT model with the structure
of Physical Intelligence's pi0 (PaliGemma prefix + flow-matching action
expert), exported as the `flow` layout's prefix and step graphs, to check
efferent's flow runtime against PyTorch. Its actions are meaningless.

Run from the repository root with Debian's torch/onnx/numpy:

    /usr/bin/python3 models/efferent-pi0-fixture/build.py

It writes, next to this file:
  tokenizer.json  a copy of models/efferent-fixture/tokenizer.json
  prefix.onnx     cameras + state + prompt -> per-layer prefix K/V, prefix mask,
                  the normalised and padded state
  step.onnx       x_t, timestep + the prefix outputs -> velocity v_t
  golden.json     PyTorch outputs (10 Euler steps from seeded noise)
  manifest.yaml   efferent-model/1, layout flow
  README.md       provenance

The structure follows openpi's PyTorch pi0 (models_pytorch/pi0_pytorch.py,
gemma_pytorch.py), shrunk:
  * SigLIP-like ViT per camera (one shared tower): 14x14 conv patchify + learned
    position embedding (pooled 2x2 for the 112x112 wrist camera, as SigLIP
    interpolates position embeddings at other resolutions), pre-LayerNorm
    encoder layers (MHA with biases, tanh-GELU MLP), post-LayerNorm, then the
    PaliGemma multi-modal projector (Linear) to the Gemma width;
  * Gemma-like prefix decoder: token embeddings scaled by sqrt(width), RMSNorm
    with (1 + w), RoPE (theta 10000, rotate-half), multi-query attention
    (4 query heads, 1 KV head), GeGLU MLP (tanh GELU); bidirectional
    attention over [image tokens; text tokens] with the padding mask
    (openpi's make_att_2d_masks), positions = cumsum(mask) - 1;
  * action expert (pi0, not pi0.5): state token (state_proj), action tokens
    (action_in_proj, concatenated with a sine-cosine time embedding with
    periods 4e-3..4, action_time_mlp_in -> swish -> action_time_mlp_out); a
    Gemma stack of the same depth and head layout whose queries attend to the
    prefix K/V of the same layer plus the suffix's own K/V: the state token
    sees the prefix and itself, action tokens see the prefix, the state and
    all action tokens; positions continue after the prefix's valid tokens;
    final RMSNorm, action_out_proj on the last 50 tokens = v_t.
  * openpi's input transforms that efferent does not apply are in the prefix
    graph: the state is normalised (mean/std, constants below) and padded to
    the model's 32 action dims (output `prefix_state`).
"""
import math
import os
import sys

sys.dont_write_bytecode = True   # importing models/fixturelib.py leaves no __pycache__ behind
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

import fixturelib as FL

SEED = 0
OUT = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(OUT))
OPSET = 17
# EFFERENT_PI0_SCALE=1b builds the same architecture at about a billion
# parameters (fp32 weights in external data files), into EFFERENT_PI0_OUT,
# for scripts/gpu-check.sh: a model of a real VLA's size, generated on the
# GPU machine with its own torch rather than carried there.
SCALE = os.environ.get("EFFERENT_PI0_SCALE", "")
if SCALE:
    assert SCALE == "1b", f"EFFERENT_PI0_SCALE={SCALE!r}: only 1b is known"
    OUT = os.path.abspath(os.environ.get("EFFERENT_PI0_OUT", "efferent-pi0-1b"))
    os.makedirs(OUT, exist_ok=True)

# --- geometry ---------------------------------------------------------------------
CAMERAS = [  # (observation key, graph input, height, width)
    ("observation/image", "base_0_rgb", 224, 224),
    ("observation/wrist_image", "left_wrist_0_rgb", 112, 112),
]
IMG_MEAN = [0.5, 0.5, 0.5]   # [-1, 1], as SigLIP/openpi
IMG_STD = [0.5, 0.5, 0.5]
PATCH = 14
GRID = 16                    # the ViT's native grid (224 / 14)
V_W, V_LAYERS, V_HEADS, V_MLP = 32, 2, 2, 64
W, LAYERS, HEADS, KV_HEADS, HEAD_DIM, MLP = 64, 2, 4, 1, 16, 128   # "PaliGemma"
EW, E_MLP = 48, 96                                                 # action expert
if SCALE == "1b":   # SigLIP-B-sized tower, a 12-layer Gemma-2B-wide prefix, pi0-sized expert: ~1.0e9 parameters
    V_W, V_LAYERS, V_HEADS, V_MLP = 768, 12, 12, 3072
    W, LAYERS, HEADS, KV_HEADS, HEAD_DIM, MLP = 2048, 12, 8, 1, 256, 8192
    EW, E_MLP = 1024, 4096
VOCAB = 1024
MAX_TOKENS = 16
PAD_ID = 0
STATE_DIM = 8
H, MODEL_DIM = 50, 32        # horizon, padded action dim
D = 7                        # robot action dim
ROBOT_DIMS = list(range(D))
N_IMG = sum((h // PATCH) * (w // PATCH) for _, _, h, w in CAMERAS)   # 320
P = N_IMG + MAX_TOKENS       # prefix length, 336
S = 1 + H                    # suffix: state token + action tokens
MAX_POS = 512
ROPE_THETA = 10000.0
STEPS, TIME_FROM, TIME_TO = 10, 1.0, 0.0
FLOW_SEED = 0
NEG = -2.3819763e38          # openpi's masked-attention value

# Normalisation statistics (made up, LIBERO-like magnitudes).
STATE_MEAN = [-0.05, 0.03, 0.75, 3.0, -0.1, -0.05, 0.027, -0.027]
STATE_STD = [0.10, 0.15, 0.35, 0.10, 0.90, 0.30, 0.013, 0.013]
ACT_MEAN = [0.06, 0.09, -0.10, 0.0005, 0.004, -0.005, -0.10]
ACT_STD = [0.33, 0.38, 0.44, 0.04, 0.06, 0.08, 0.99]


# --- helpers ----------------------------------------------------------------------
def encode_prompt(prompt, vocab, merges):
    """efferent-fixture's tokenizer (fixturelib's BPE): ids, padded ids, mask."""
    ids = FL.bpe_encode(prompt, vocab, merges)
    assert len(ids) <= MAX_TOKENS, f"{prompt!r} is {len(ids)} tokens > {MAX_TOKENS}"
    text, mask = FL.pad_text(ids, MAX_TOKENS, PAD_ID)
    return ids, text, mask


M64 = (1 << 64) - 1


def flow_noise(seed, n):
    """The contract's generator: splitmix64 + Box-Muller, float64 -> float32."""
    state = seed & M64

    def nxt():
        nonlocal state
        state = (state + 0x9E3779B97F4A7C15) & M64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)

    out = np.zeros(n, dtype=np.float32)
    for i in range(0, n, 2):
        u1 = float((nxt() >> 11) + 1) * 2.0 ** -53
        u2 = float(nxt() >> 11) * 2.0 ** -53
        r = math.sqrt(-2.0 * math.log(u1))
        out[i] = np.float32(r * math.cos(2.0 * math.pi * u2))
        if i + 1 < n:
            out[i + 1] = np.float32(r * math.sin(2.0 * math.pi * u2))
    return out


def flow_times():
    """t_k for k = 0..STEPS-1: float64 accumulation t <- t + dt, fed as float32."""
    dt = (TIME_TO - TIME_FROM) / STEPS
    t, ts = TIME_FROM, []
    for _ in range(STEPS):
        ts.append(float(np.float32(t)))
        t += dt
    return ts, dt


# --- the model ----------------------------------------------------------------------
def gemma_norm(dim):
    """Gemma RMSNorm: x * rsqrt(mean(x^2) + eps) * (1 + w)."""
    return FL.RMSNorm(dim, 1e-6, plus_one=True)


class GemmaLayer(FL.GQALayer):
    """One Gemma decoder layer of width `width` with the shared head layout."""

    def __init__(self, width, mlp):
        super().__init__(width, mlp, HEADS, KV_HEADS, HEAD_DIM, gemma_norm)

    def qkv(self, x, cos, sin):
        b, s, _ = x.shape
        q, k, v = self.project(x, b, s)
        return FL.apply_rope(q, cos, sin, HEAD_DIM), FL.apply_rope(k, cos, sin, HEAD_DIM), v

    def finish(self, x, q, k, v, bias):
        """Attention of q over k/v (all of them: prefix and own), then MLP.
        q [B,HEADS,S,hd], k/v [B,KV_HEADS,T,hd], bias [B,1,S,T]."""
        b, s, _ = x.shape
        rep = HEADS // KV_HEADS
        qg = q.reshape(b, KV_HEADS, rep * s, HEAD_DIM)          # MQA/GQA by grouping queries
        att = torch.matmul(qg, k.transpose(-1, -2)) * (HEAD_DIM ** -0.5)
        att = att.view(b, HEADS, s, -1) + bias
        att = torch.softmax(att, dim=-1)
        y = torch.matmul(att.reshape(b, KV_HEADS, rep * s, -1), v)
        y = y.view(b, HEADS, s, HEAD_DIM).transpose(1, 2).reshape(b, s, HEADS * HEAD_DIM)
        x = x + self.o_proj(y)
        h = self.post_attention_layernorm(x)
        x = x + self.down_proj(F.gelu(self.gate_proj(h), approximate="tanh") * self.up_proj(h))
        return x


class SiglipLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1 = nn.LayerNorm(V_W, eps=1e-6)
        self.qkv = nn.Linear(V_W, 3 * V_W)
        self.out = nn.Linear(V_W, V_W)
        self.ln2 = nn.LayerNorm(V_W, eps=1e-6)
        self.fc1 = nn.Linear(V_W, V_MLP)
        self.fc2 = nn.Linear(V_MLP, V_W)

    def forward(self, x):
        return FL.vit_layer(x, self.ln1, self.qkv, self.out, self.ln2, self.fc1, self.fc2, V_HEADS)


class Siglip(nn.Module):
    def __init__(self):
        super().__init__()
        self.patch_embedding = nn.Conv2d(3, V_W, PATCH, stride=PATCH)
        self.position_embedding = nn.Parameter(torch.randn(GRID, GRID, V_W) * 0.02)
        self.layers = nn.ModuleList([SiglipLayer() for _ in range(V_LAYERS)])
        self.post_layernorm = nn.LayerNorm(V_W, eps=1e-6)

    def forward(self, img, g):
        x = self.patch_embedding(img)                    # [B, V_W, g, g]
        pos = self.position_embedding.permute(2, 0, 1)[None]
        if g != GRID:                                     # SigLIP at another resolution
            pos = F.avg_pool2d(pos, GRID // g)
        x = (x + pos).flatten(2).transpose(1, 2)          # [B, g*g, V_W]
        for layer in self.layers:
            x = layer(x)
        return self.post_layernorm(x)


class Pi0(nn.Module):
    def __init__(self):
        super().__init__()
        self.vision = Siglip()
        self.projector = nn.Linear(V_W, W)               # PaliGemma multi_modal_projector
        self.embed_tokens = nn.Embedding(VOCAB, W)
        self.layers = nn.ModuleList([GemmaLayer(W, MLP) for _ in range(LAYERS)])
        self.expert = nn.ModuleList([GemmaLayer(EW, E_MLP) for _ in range(LAYERS)])
        self.expert_norm = gemma_norm(EW)
        self.state_proj = nn.Linear(MODEL_DIM, EW)
        self.action_in_proj = nn.Linear(MODEL_DIM, EW)
        self.action_out_proj = nn.Linear(EW, MODEL_DIM)
        self.action_time_mlp_in = nn.Linear(2 * EW, EW)
        self.action_time_mlp_out = nn.Linear(EW, EW)
        cos, sin = FL.rope_table(HEAD_DIM, MAX_POS, ROPE_THETA)
        self.register_buffer("rope_cos", cos)
        self.register_buffer("rope_sin", sin)
        frac = np.linspace(0.0, 1.0, EW // 2, dtype=np.float64)
        period = 4e-3 * (4.0 / 4e-3) ** frac
        self.register_buffer("time_scale", torch.from_numpy((1.0 / period * 2 * math.pi).astype(np.float32)))
        ar = np.cumsum([1, 1] + [0] * (H - 1))                 # openpi's suffix att_masks
        self.register_buffer("suffix_allowed", torch.from_numpy(ar[None, :] <= ar[:, None]))
        self.register_buffer("state_mean", torch.tensor(STATE_MEAN, dtype=torch.float32))
        self.register_buffer("state_std", torch.tensor(STATE_STD, dtype=torch.float32))
        with torch.no_grad():
            nn.init.normal_(self.embed_tokens.weight, std=0.05)
            for m in self.modules():          # (1 + w) norms and LayerNorms: not the identity
                if isinstance(m, FL.RMSNorm):
                    nn.init.normal_(m.weight, std=0.1)
                elif isinstance(m, nn.LayerNorm):
                    nn.init.normal_(m.weight, mean=1.0, std=0.1)
                    nn.init.normal_(m.bias, std=0.05)
            # With default initialisation attention is nearly uniform over the
            # 387 keys and the state token barely reaches the actions: sharpen
            # attention and enlarge the state embedding so that every input
            # moves the chunk well beyond the golden tolerance (checked by
            # sensitivity() below).
            for layer in list(self.layers) + list(self.expert):
                layer.q_proj.weight.mul_(2.0)
                layer.k_proj.weight.mul_(2.0)
            self.state_proj.weight.mul_(3.0)

    # prefix ---------------------------------------------------------------------
    def prefix(self, base_0_rgb, left_wrist_0_rgb, state, input_ids, attention_mask):
        embs = [self.projector(self.vision(img, h // PATCH))
                for img, (_, _, h, _) in zip((base_0_rgb, left_wrist_0_rgb), CAMERAS)]
        embs.append(self.embed_tokens(input_ids) * math.sqrt(W))
        x = torch.cat(embs, dim=1)                                            # [B, P, W]
        pad = torch.cat([torch.ones_like(attention_mask[:, :1]).repeat(1, N_IMG), attention_mask], dim=1)
        pos = torch.cumsum(pad, dim=1) - 1
        cos, sin = self.rope_cos[pos], self.rope_sin[pos]
        padb = pad > 0
        allowed = padb[:, None, :, None] & padb[:, None, None, :]             # [B,1,P,P]
        bias = torch.where(allowed, torch.tensor(0.0), torch.tensor(NEG))
        keys, values = [], []
        for i, layer in enumerate(self.layers):
            q, k, v = layer.qkv(x, cos, sin)
            keys.append(k)
            values.append(v)
            if i + 1 < len(self.layers):
                x = layer.finish(x, q, k, v, bias)
        s = (state - self.state_mean) / self.state_std
        s = F.pad(s, (0, MODEL_DIM - STATE_DIM))
        return torch.stack(keys, dim=1), torch.stack(values, dim=1), pad, s

    # step -----------------------------------------------------------------------
    def time_embedding(self, t):
        x = t[:, None] * self.time_scale[None, :]
        return torch.cat([torch.sin(x), torch.cos(x)], dim=1)

    def step(self, x_t, timestep, prefix_keys, prefix_values, prefix_mask, prefix_state):
        state_emb = self.state_proj(prefix_state)[:, None, :]                  # [B,1,EW]
        a = self.action_in_proj(x_t)                                          # [B,H,EW]
        te = self.time_embedding(timestep)[:, None, :].expand_as(a)
        at = self.action_time_mlp_out(F.silu(self.action_time_mlp_in(torch.cat([a, te], dim=2))))
        x = torch.cat([state_emb, at], dim=1)                                 # [B,S,EW]
        offset = torch.sum(prefix_mask, dim=1, keepdim=True)
        pos = offset + torch.arange(S)[None, :]
        cos, sin = self.rope_cos[pos], self.rope_sin[pos]
        b = x.shape[0]
        pre = (prefix_mask > 0)[:, None, None, :].expand(b, 1, S, prefix_mask.shape[1])
        suf = self.suffix_allowed[None, None].expand(b, 1, S, S)
        bias = torch.where(torch.cat([pre, suf], dim=3), torch.tensor(0.0), torch.tensor(NEG))
        for i, layer in enumerate(self.expert):
            q, k, v = layer.qkv(x, cos, sin)
            k = torch.cat([prefix_keys[:, i], k], dim=2)
            v = torch.cat([prefix_values[:, i], v], dim=2)
            x = layer.finish(x, q, k, v, bias)
        x = self.expert_norm(x)
        return self.action_out_proj(x[:, -H:])


class Prefix(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, *a):
        return self.m.prefix(*a)


class Step(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, *a):
        return self.m.step(*a)


class Loop(nn.Module):
    """The whole sampler in one graph: prefix once, STEPS Euler steps unrolled."""

    def __init__(self, m):
        super().__init__()
        self.m = m
        self.times, self.dt = flow_times()

    def forward(self, base_0_rgb, left_wrist_0_rgb, state, input_ids, attention_mask, noise):
        kv = self.m.prefix(base_0_rgb, left_wrist_0_rgb, state, input_ids, attention_mask)
        return euler(self.m, kv, noise, self.times, self.dt)


def euler(m, prefix_out, noise, times, dt):
    x = noise
    ones = torch.ones_like(noise[:, 0, 0])
    for t in times:
        v = m.step(x, ones * t, *prefix_out)
        x = x + dt * v
    return x


def build_model():
    FL.seed_all(SEED)
    return Pi0().eval()


# Inputs/outputs of each graph: name -> shape (str = symbolic).
PREFIX_IN = ["base_0_rgb", "left_wrist_0_rgb", "state", "input_ids", "attention_mask"]
PREFIX_OUT = ["prefix_keys", "prefix_values", "prefix_mask", "prefix_state"]
STEP_IN = ["x_t", "timestep"] + PREFIX_OUT
STEP_OUT = ["v_t"]
SHAPES = {
    "base_0_rgb": ["batch", 3, 224, 224],
    "left_wrist_0_rgb": ["batch", 3, 112, 112],
    "state": ["batch", STATE_DIM],
    "input_ids": ["batch", MAX_TOKENS],
    "attention_mask": ["batch", MAX_TOKENS],
    "prefix_keys": ["batch", LAYERS, KV_HEADS, P, HEAD_DIM],
    "prefix_values": ["batch", LAYERS, KV_HEADS, P, HEAD_DIM],
    "prefix_mask": ["batch", P],
    "prefix_state": ["batch", MODEL_DIM],
    "x_t": ["batch", H, MODEL_DIM],
    "timestep": ["batch"],
    "v_t": ["batch", H, MODEL_DIM],
    "noise": ["batch", H, MODEL_DIM],
    "actions": ["batch", H, MODEL_DIM],
}


def example_inputs(batch=2):
    g = torch.Generator().manual_seed(1234)
    imgs = [torch.rand(batch, 3, h, w, generator=g) * 2 - 1 for _, _, h, w in CAMERAS]
    return (*imgs, torch.randn(batch, STATE_DIM, generator=g),
            torch.randint(3, 300, (batch, MAX_TOKENS), generator=g),
            torch.ones(batch, MAX_TOKENS, dtype=torch.int64))


def export(module, args, path, ins, outs):
    torch.onnx.export(module, args, path, opset_version=OPSET, input_names=ins, output_names=outs,
                      dynamic_axes={n: {0: "batch"} for n in ins + outs}, **FL.legacy_exporter())
    FL.fix_io(path, {n: SHAPES[n] for n in ins + outs})


# --- golden ---------------------------------------------------------------------------
# Seeds: the manifest's flow.seed plus the case's observation seq.
GOLDEN_CASES = [
    {"prompt": "put the red block in the blue bowl", "swap": False, "seq": 1,
     "state": [-0.02, 0.1, 0.9, 3.05, -0.4, 0.2, 0.03, -0.03]},
    {"prompt": "push the plate to the left, café!", "swap": True, "seq": 2,
     "state": [0.05, -0.12, 0.6, 2.9, 0.5, -0.3, 0.01, -0.01]},
    {"prompt": "turn on the stove", "swap": False, "seq": 3,
     "state": [-0.15, 0.2, 1.1, 3.1, 1.2, 0.0, 0.04, -0.04]},
]


def case_inputs(case, vocab, merges):
    ids, text, mask = encode_prompt(case["prompt"], vocab, merges)
    pats = ("B", "A") if case["swap"] else ("A", "B")
    imgs = [torch.from_numpy(FL.normalise_image(FL.pattern(p, h, w), IMG_MEAN, IMG_STD))[None]
            for p, (_, _, h, w) in zip(pats, CAMERAS)]
    obs = (*imgs, torch.tensor([case["state"]], dtype=torch.float32),
           torch.tensor([text]), torch.tensor([mask]))
    images = {key: p for p, (key, _, _, _) in zip(pats, CAMERAS)}
    return ids, text, mask, images, obs


def unnormalise(raw):
    """mean_std on the robot dims, in float64 from the float32 graph output."""
    r = raw.astype(np.float64)[:, ROBOT_DIMS]
    return r * np.array(ACT_STD) + np.array(ACT_MEAN)


def golden_cases(m, vocab, merges, flow_seed, golden_cases=GOLDEN_CASES):
    times, dt = flow_times()
    cases = []
    with torch.no_grad():
        for case in golden_cases:
            ids, text, mask, images, obs = case_inputs(case, vocab, merges)
            seed = (flow_seed + case["seq"]) & M64
            noise = flow_noise(seed, H * MODEL_DIM).reshape(H, MODEL_DIM)
            pre = m.prefix(*obs)
            raw = euler(m, pre, torch.from_numpy(noise)[None], times, dt)[0].numpy()
            cases.append({
                "prompt": case["prompt"], "prompt_ids": ids, "input_ids": text, "attention_mask": mask,
                "state": case["state"], "images": images, "seq": case["seq"], "seed": seed,
                "noise": noise.tolist(), "raw": raw.tolist(), "actions": unnormalise(raw).tolist(),
            })
    return cases, times, dt


def sensitivity(m, vocab, merges):
    """With the same noise, each observation part must move the chunk well
    beyond the tolerance, or the golden test could not see it dropped."""
    noise = torch.from_numpy(flow_noise(1, H * MODEL_DIM).reshape(1, H, MODEL_DIM))
    times, dt = flow_times()
    base = case_inputs(GOLDEN_CASES[0], vocab, merges)[4]

    def run(obs):
        with torch.no_grad():
            return euler(m, m.prefix(*obs), noise, times, dt)[0].numpy()

    ref = run(base)
    other = case_inputs(GOLDEN_CASES[1], vocab, merges)[4]
    variants = {
        "base camera": (base[0].flip(3),) + base[1:],
        "wrist camera": base[:1] + (base[1].flip(3),) + base[2:],
        "swapped patterns": (torch.from_numpy(FL.normalise_image(FL.pattern("B", 224, 224), IMG_MEAN, IMG_STD))[None],
                             torch.from_numpy(FL.normalise_image(FL.pattern("A", 112, 112), IMG_MEAN, IMG_STD))[None]) + base[2:],
        "state": base[:2] + (base[2] + 0.5 * torch.tensor(STATE_STD),) + base[3:],
        "prompt": base[:3] + other[3:],
    }
    out = {}
    for name, obs in variants.items():
        d = float(np.abs(run(obs) - ref).max())
        out[name] = d
    assert min(out.values()) > 1e-2, f"an input barely changes the chunk: {out}"
    return out


# --- manifest / readme --------------------------------------------------------------
def manifest_text(name, description, flow_section):
    """The flow-layout manifest (efferent-pi0-fixture and -loop-fixture);
    description: indented text; flow_section: the flow: block."""
    cams = [FL.camera_entry(k, i, h, w, IMG_MEAN, IMG_STD) for k, i, h, w in CAMERAS]
    norm = f"  normalization:\n    kind: mean_std\n    mean: {FL.fmt_list(ACT_MEAN)}\n    std: {FL.fmt_list(ACT_STD)}\n"
    return "\n".join([
        FL.manifest_head(name, description, SEED, OPSET,
                         before='  structure: "pi0 (openpi models_pytorch/pi0_pytorch.py), tiny widths"\n')
        + "layout: flow\n",
        FL.observation_section(cams, 224, STATE_DIM),
        FL.text_section(MAX_TOKENS, PAD_ID, "attention_mask"),
        flow_section,
        FL.action_section(D, H, 20, norm, model_dim=MODEL_DIM, robot_dims=ROBOT_DIMS),
        "golden: golden.json\n"])


def signature_md(paths):
    lines = []
    for p in paths:
        lines.append(f"`{os.path.basename(p)}`:\n")
        lines.append("| | name | type | shape |\n|---|---|---|---|")
        lines += FL.signature_rows(p)
        lines.append("")
    return "\n".join(lines)


def main():
    m = build_model()
    vocab, merges = FL.copy_fixture_tokenizer(OUT, VOCAB)

    ex = example_inputs()
    prefix_path, step_path = os.path.join(OUT, "prefix.onnx"), os.path.join(OUT, "step.onnx")
    export(Prefix(m), ex, prefix_path, PREFIX_IN, PREFIX_OUT)
    with torch.no_grad():
        pre = m.prefix(*ex)
    x = torch.randn(2, H, MODEL_DIM, generator=torch.Generator().manual_seed(5))
    export(Step(m), (x, torch.tensor([1.0, 0.5]), *pre), step_path, STEP_IN, STEP_OUT)

    cases, times, dt = golden_cases(m, vocab, merges, FLOW_SEED)
    sens = sensitivity(m, vocab, merges)
    golden = {
        "about": "PyTorch outputs of efferent-pi0-fixture for fixed inputs (see build.py). Images: each "
                 "camera's pattern rendered at that camera's own size, normalised (pix/255 - mean)/std in "
                 "float64, CHW, float32. noise = the flow noise for seed (row-major [horizon][model_dim]); "
                 "raw = the chunk after the Euler loop (graph units, [horizon][model_dim]); actions = raw's "
                 "robot dims unnormalised (mean_std), in float64.",
        "patterns": FL.PATTERNS,
        "tolerance": {"actions_abs": 1e-4, "raw_abs": 1e-4},
        "flow": {"steps": STEPS, "time_from": TIME_FROM, "time_to": TIME_TO, "dt": dt, "times": times,
                 "seed": FLOW_SEED},
        "cases": cases,
    }
    FL.write_json(os.path.join(OUT, "golden.json"), golden)

    flow = FL.flow_step_section(STEPS, TIME_FROM, TIME_TO, FLOW_SEED)
    desc = ("  " + ("A 1e9-parameter" if SCALE else "Tiny") + " random-weight model with the structure of pi0 (SigLIP + Gemma prefix, flow-matching\n"
            "  action expert), as prefix and step graphs: a fixture for the flow layout. Its weights are\n"
            "  RANDOM: its actions are deterministic but meaningless.")
    name = "efferent-pi0-1b" if SCALE else "efferent-pi0-fixture"
    FL.write_text(os.path.join(OUT, "manifest.yaml"), manifest_text(name, desc, flow))
    write_readme(OUT, sens)
    for c in cases:
        print(c["prompt"], c["prompt_ids"], "seed", c["seed"], "raw[0][:3]", c["raw"][0][:3])
    print("sensitivity", sens)
    FL.print_sizes(OUT)


README = """# efferent-pi0-fixture

Random weights, structure of **π0** (Physical Intelligence openpi, PyTorch
`models_pytorch/pi0_pytorch.py` + `gemma_pytorch.py`) at tiny widths, built by
`build.py` with torch {torch} (onnx {onnx}, opset {opset}, seed {seed}):

    /usr/bin/python3 models/efferent-pi0-fixture/build.py

Layout `flow`, prefix + step graphs. A fixture for efferent's flow runtime:
its actions are deterministic but **meaningless**. The same network as one
graph with the Euler loop inside is `models/efferent-pi0-loop-fixture`.

## Structure (see build.py's docstring for details)
- Cameras: `observation/image` 224×224 → `base_0_rgb`, `observation/wrist_image`
  112×112 → `left_wrist_0_rgb`; float32 [B,3,H,W], (pix/255 − 0.5)/0.5.
- One SigLIP-like ViT (patch 14, width {v_w}, {v_layers} layers; the wrist camera's
  8×8 grid uses the 16×16 position embedding pooled 2×2), Linear projector →
  {n_img} image tokens; + {max_tokens} text tokens (embedding × √{w}) = prefix of {p}.
- Gemma-like prefix stack: width {w}, {layers} layers, {heads} query heads, {kv_heads} KV
  head (MQA), head_dim {head_dim}, RMSNorm (1+w), RoPE θ=10⁴ (table indexed by
  position = cumsum(mask) − 1), GeGLU (tanh) MLP {mlp}; bidirectional prefix
  attention with the padding mask. Outputs every layer's post-RoPE K and V.
- Action expert: width {ew}, same depth/heads, MLP {e_mlp}; suffix = state token +
  50 action tokens (action_in_proj ⊕ sine-cosine time embedding → MLP with
  swish); attends to the prefix K/V (padding-masked) and its own; state
  token sees only the prefix and itself; final RMSNorm, action_out_proj → v_t.
- The prefix graph also applies openpi's state transforms: (state − mean)/std
  with fixed statistics, zero-padded to 32 → `prefix_state`.
- Sampler (efferent runs it): x ← noise(seed); 10 Euler steps from t=1 to
  t=0: x ← x + dt·v_t(x, t), dt = −0.1; t is accumulated in float64 and fed
  as float32 (`golden.json` → `flow.times`; these equal float32(1 + k·dt)).
  The reference does the update in float32: x + float32(dt)·v (doing it in
  float64 moves the chunk by ~1e-6). Accumulating t in float32 instead, as
  openpi's PyTorch loop does, shifts the times by an ulp and the chunk by
  ~2e-5: within the tolerance, but not bit-exact.

## Graphs
Every step-graph input other than `x_t`/`timestep` is the prefix output of the
same name, fed unchanged at every step. Batch axis symbolic (`batch`) on every
input and output.

{signature}
## golden.json
Compatible with `internal/golden`'s File, plus: per case `seq` (the
observation Seq; request seed = flow.seed + seq), `seed`, `noise`
([50][32] float32 values from the contract's splitmix64/Box–Muller
generator), `raw` (the chunk after the loop, [50][32], graph units),
`input_ids`/`attention_mask` (padded text inputs), and at the top
`flow` (steps, dt, the float32 times fed to the step graph). `actions` are
raw's robot dims 0..6 unnormalised with mean_std, in float64. Images: pattern
A/B rendered at each camera's **own** size (224×224 and 112×112).

Tolerance: `actions_abs` 1e-4 and `raw_abs` 1e-4 (float32 graphs; ONNX
Runtime CPU agrees with PyTorch to ~1e-6 here).

Sensitivity checked by build.py (max |Δraw| with the same noise when one
input changes): {sens}.
"""


def write_readme(out_dir, sens, readme=README, extra=None):
    paths = [os.path.join(out_dir, f) for f in sorted(os.listdir(out_dir)) if f.endswith(".onnx")]
    fields = dict(torch=torch.__version__, onnx=onnx.__version__, opset=OPSET, seed=SEED,
                  v_w=V_W, v_layers=V_LAYERS, n_img=N_IMG, max_tokens=MAX_TOKENS, w=W, p=P,
                  layers=LAYERS, heads=HEADS, kv_heads=KV_HEADS, head_dim=HEAD_DIM, mlp=MLP,
                  ew=EW, e_mlp=E_MLP, signature=signature_md(paths),
                  sens=", ".join(f"{k} {v:.3g}" for k, v in sens.items()))
    fields.update(extra or {})
    with open(os.path.join(out_dir, "README.md"), "w") as f:
        f.write(readme.format(**fields))


if __name__ == "__main__":
    sys.exit(main())
