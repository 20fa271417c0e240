#!/usr/bin/python3
"""Build efferent-oft-fixture: a tiny, RANDOM-WEIGHT model with the structure
of OpenVLA-OFT (Prismatic vision backbone -> projector -> Llama-2 with
parallel decoding -> L1-regression MLP head), exported as the `regression`
layout's one graph in float16, to check efferent's regression runtime and
its float16 tensors against PyTorch. Its actions are meaningless.

Run from the repository root with Debian's torch/onnx/numpy:

    /usr/bin/python3 models/efferent-oft-fixture/build.py

It writes, next to this file:
  tokenizer.json  a copy of models/efferent-fixture/tokenizer.json
  model.onnx      pixel_values + state + prompt -> actions [B, 8, 7], float16
  golden.json     PyTorch (float32) outputs for fixed inputs
  manifest.yaml   efferent-model/1, layout regression
  README.md       provenance

Structure (openvla-oft: prismatic/extern/hf/modeling_prismatic.py
predict_action / _regression_or_discrete_prediction, prismatic/models/
projectors.py ProprioProjector, prismatic/models/action_heads.py
L1RegressionActionHead), shrunk:
  * ViT (14x14 conv patchify, learned position embedding, pre-LayerNorm blocks
    with tanh GELU); like Prismatic's featurizer the patch features are taken
    without a final norm (Prismatic takes the second-to-last block's output);
  * projector "gelu-mlp": Linear -> GELU -> Linear to the LLM width;
  * proprio: the raw state is normalised (bounds_q99 with the constants below,
    clipped to [-1, 1], as OFT's data pipeline does) and projected by the
    ProprioProjector (Linear -> GELU -> Linear) to one token appended after
    the patches;
  * Llama-like decoder: RMSNorm (x * rsqrt(mean x^2 + eps) * w), RoPE (theta
    1e4, rotate-half, table indexed by position = cumsum(mask) - 1), grouped-
    query attention (4 query heads, 2 KV heads), SwiGLU MLP; attention is
    bidirectional over the whole sequence (OFT's parallel decoding), with the
    padding mask;
  * sequence: [<s>; 256 patches; proprio; the other 15 text slots; 56 action
    query tokens (H*D = 8*7); stop token "</s>"]. OFT feeds zeroed embeddings
    at the action positions; this fixture uses learned action query
    embeddings instead (so the positions differ from the first layer on);
  * L1 regression head: the action tokens' last hidden states reshaped to
    [B, 8, 7*width] -> MLPResNet (LayerNorm, Linear, ReLU, 2 pre-LN residual
    blocks, LayerNorm, Linear) -> [B, 8, 7] normalised actions.

float16: torch 1.13 has no float16 kernels on the CPU (matmul, conv, layer
norm, softmax, gelu all fail), so the model cannot be traced in float16.
build.py rounds every weight to float16, exports in float32, and converts the
ONNX graph to float16 with models/fp16.py's convert (to_float16 below:
initializers, Constant tensors, Cast targets, every float value's type). The
golden reference is PyTorch in float32 with the float16-rounded weights and
inputs.
"""
import os
import sys

sys.dont_write_bytecode = True   # importing models/fixturelib.py and fp16.py leaves no __pycache__ behind
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

IMG = 224
IMG_MEAN = [0.485, 0.456, 0.406]     # ImageNet (Prismatic's DINOv2 normalisation)
IMG_STD = [0.229, 0.224, 0.225]
PATCH = 14
GRID = IMG // PATCH                   # 16
N_PATCH = GRID * GRID                 # 256
V_W, V_LAYERS, V_HEADS, V_MLP = 32, 2, 2, 64
W, LAYERS, HEADS, KV_HEADS, HEAD_DIM, MLP = 64, 2, 4, 2, 16, 128
RMS_EPS = 1e-5
VOCAB = 1024
MAX_TOKENS = 16
PAD_ID = 0
STOP_ID = 2                           # "</s>"
STATE_DIM = 8
H, D = 8, 7                           # chunk: 8 steps of 7 dims
HEAD_HIDDEN = 64
SEQ = 1 + N_PATCH + 1 + (MAX_TOKENS - 1) + H * D + 1   # 330
ACT_AT = 1 + N_PATCH + 1 + (MAX_TOKENS - 1)             # first action query
MAX_POS = 512
ROPE_THETA = 10000.0
NEG = -30000.0                        # masked attention: finite in float16

# Statistics (made up, LIBERO-like): actions and proprio, bounds_q99.
Q01 = [-0.75, -0.80, -0.90, -0.10, -0.15, -0.20, -1.0]
Q99 = [0.90, 0.85, 0.93, 0.12, 0.20, 0.25, 1.0]
MASK = [True, True, True, True, True, True, False]
STATE_Q01 = [-0.25, -0.30, 0.00, 2.80, -1.50, -0.60, 0.00, -0.04]
STATE_Q99 = [0.15, 0.35, 1.30, 3.30, 1.60, 0.50, 0.04, 0.00]


# float16 conversion: models/fp16.py
FP16 = FL.load_module("efferent_fp16", os.path.join(ROOT, "models", "fp16.py"))


def camera_input(name):
    """The graph input for pattern `name`: (pix/255 - mean)/std in float64,
    CHW, rounded to float32 and then to float16 (as efferent converts)."""
    return FL.normalise_image(FL.pattern(name, IMG, IMG), IMG_MEAN, IMG_STD).astype(np.float16)


def unnormalise(raw):
    """bounds_q99 with mask, in float64 from the float32 values."""
    return FL.unnormalise_bounds(np.asarray(raw, dtype=np.float32).astype(np.float64), Q01, Q99, MASK)


# --- the model ----------------------------------------------------------------------
def rms_norm(dim):
    """Llama RMSNorm: x * rsqrt(mean(x^2) + eps) * w."""
    return FL.RMSNorm(dim, RMS_EPS)


def rotate_half(x):
    # Not fixturelib.rotate_half: the same numbers, but its slices come in the
    # other order, and so do model.onnx's nodes.
    return torch.cat([-x[..., HEAD_DIM // 2:], x[..., : HEAD_DIM // 2]], dim=-1)


class LlamaLayer(FL.GQALayer):
    def __init__(self):
        super().__init__(W, MLP, HEADS, KV_HEADS, HEAD_DIM, rms_norm)

    def forward(self, x, cos, sin, bias):
        b, s, _ = x.shape
        rep = HEADS // KV_HEADS
        q, k, v = self.project(x, b, s)
        q = q * cos[:, None] + rotate_half(q) * sin[:, None]
        k = k * cos[:, None] + rotate_half(k) * sin[:, None]
        qg = q.reshape(b, KV_HEADS, rep * s, HEAD_DIM)      # GQA: query heads grouped by KV head
        att = torch.matmul(qg, k.transpose(-1, -2)) * (HEAD_DIM ** -0.5)
        att = torch.softmax(att.view(b, HEADS, s, s) + bias, dim=-1)
        y = torch.matmul(att.reshape(b, KV_HEADS, rep * s, s), v)
        y = y.view(b, HEADS, s, HEAD_DIM).transpose(1, 2).reshape(b, s, HEADS * HEAD_DIM)
        x = x + self.o_proj(y)
        return x + self.swiglu(self.post_attention_layernorm(x))


class VitBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm1 = nn.LayerNorm(V_W, eps=1e-6)
        self.qkv = nn.Linear(V_W, 3 * V_W)
        self.proj = nn.Linear(V_W, V_W)
        self.norm2 = nn.LayerNorm(V_W, eps=1e-6)
        self.fc1 = nn.Linear(V_W, V_MLP)
        self.fc2 = nn.Linear(V_MLP, V_W)

    def forward(self, x):
        return FL.vit_layer(x, self.norm1, self.qkv, self.proj, self.norm2, self.fc1, self.fc2, V_HEADS)


class MLPResNet(nn.Module):
    def __init__(self, num_blocks, input_dim, hidden_dim, output_dim):
        super().__init__()
        self.layer_norm1 = nn.LayerNorm(input_dim)
        self.fc1 = nn.Linear(input_dim, hidden_dim)
        self.blocks = nn.ModuleList([
            nn.Sequential(nn.LayerNorm(hidden_dim), nn.Linear(hidden_dim, hidden_dim), nn.ReLU())
            for _ in range(num_blocks)])
        self.layer_norm2 = nn.LayerNorm(hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, output_dim)

    def forward(self, x):
        x = F.relu(self.fc1(self.layer_norm1(x)))
        for blk in self.blocks:
            x = x + blk(x)
        return self.fc2(self.layer_norm2(x))


class OFT(nn.Module):
    def __init__(self):
        super().__init__()
        self.patch_embed = nn.Conv2d(3, V_W, PATCH, stride=PATCH)
        self.pos_embed = nn.Parameter(torch.randn(1, N_PATCH, V_W) * 0.02)
        self.vit = nn.ModuleList([VitBlock() for _ in range(V_LAYERS)])
        self.projector = nn.Sequential(nn.Linear(V_W, W), nn.GELU(), nn.Linear(W, W))
        self.proprio_projector = nn.Sequential(nn.Linear(STATE_DIM, W), nn.GELU(), nn.Linear(W, W))
        self.embed_tokens = nn.Embedding(VOCAB, W)
        self.action_queries = nn.Parameter(torch.randn(H * D, W) * 0.05)
        self.layers = nn.ModuleList([LlamaLayer() for _ in range(LAYERS)])
        self.norm = rms_norm(W)
        self.action_head = MLPResNet(2, D * W, HEAD_HIDDEN, D)
        cos, sin = FL.rope_table(HEAD_DIM, MAX_POS, ROPE_THETA)
        self.register_buffer("rope_cos", cos)
        self.register_buffer("rope_sin", sin)
        q01, q99 = np.array(STATE_Q01), np.array(STATE_Q99)
        self.register_buffer("state_q01", torch.tensor(q01, dtype=torch.float32))
        self.register_buffer("state_scale", torch.tensor(2.0 / (q99 - q01 + 1e-8), dtype=torch.float32))
        self.register_buffer("stop_id", torch.tensor([[STOP_ID]], dtype=torch.int64))
        with torch.no_grad():
            nn.init.normal_(self.embed_tokens.weight, std=0.5)
            for m in self.modules():
                if isinstance(m, FL.RMSNorm):
                    nn.init.normal_(m.weight, mean=1.0, std=0.1)
                elif isinstance(m, nn.LayerNorm):
                    nn.init.normal_(m.weight, mean=1.0, std=0.1)
                    nn.init.normal_(m.bias, std=0.05)
            for layer in self.layers:       # sharper attention: every input must matter
                layer.q_proj.weight.mul_(2.0)
                layer.k_proj.weight.mul_(2.0)
        # float16 weights: the graph's and the reference's are the same numbers
        FP16.round_module(self)

    def forward(self, pixel_values, state, input_ids, attention_mask):
        x = self.patch_embed(pixel_values).flatten(2).transpose(1, 2) + self.pos_embed
        for blk in self.vit:
            x = blk(x)
        patches = self.projector(x)                                              # [B, 256, W]
        s = torch.clamp((state - self.state_q01) * self.state_scale - 1.0, -1.0, 1.0)
        proprio = self.proprio_projector(s)[:, None, :]                          # [B, 1, W]
        text = self.embed_tokens(input_ids)                                      # [B, T, W]
        b = text.shape[0]
        queries = self.action_queries[None].expand(b, H * D, W)
        stop = self.embed_tokens(self.stop_id).expand(b, 1, W)
        x = torch.cat([text[:, :1], patches, proprio, text[:, 1:], queries, stop], dim=1)   # [B, SEQ, W]
        ones = torch.ones_like(attention_mask[:, :1])
        mask = torch.cat([attention_mask[:, :1], ones.repeat(1, N_PATCH + 1), attention_mask[:, 1:],
                          ones.repeat(1, H * D + 1)], dim=1)                     # [B, SEQ]
        pos = torch.cumsum(mask, dim=1) - 1
        cos, sin = self.rope_cos[pos], self.rope_sin[pos]
        bias = torch.where(mask[:, None, None, :] > 0, torch.tensor(0.0), torch.tensor(NEG))
        for layer in self.layers:
            x = layer(x, cos, sin, bias)
        x = self.norm(x)
        acts = x[:, ACT_AT: ACT_AT + H * D].reshape(b, H, D * W)
        return self.action_head(acts)                                            # [B, H, D]


# --- float16 conversion -----------------------------------------------------------------
def to_float16(path):
    """Convert the float32 ONNX graph at path to float16 throughout with
    models/fp16.py's convert (initializers, Constant tensors, Cast targets,
    every float value's type; strict shape inference finds no float32 value
    left). Returns the operator types."""
    m, ops = FP16.convert(onnx.load(path))
    onnx.save(m, path)
    return ops


IN = ["pixel_values", "state", "input_ids", "attention_mask"]
OUT_NAMES = ["actions"]
SHAPES = {
    "pixel_values": ["batch", 3, IMG, IMG],
    "state": ["batch", STATE_DIM],
    "input_ids": ["batch", MAX_TOKENS],
    "attention_mask": ["batch", MAX_TOKENS],
    "actions": ["batch", H, D],
}


# --- golden --------------------------------------------------------------------------
GOLDEN_CASES = [
    {"prompt": "put the red block in the blue bowl", "image": "A",
     "state": [-0.02, 0.1, 0.9, 3.05, -0.4, 0.2, 0.03, -0.03]},
    {"prompt": "push the plate to the left, café!", "image": "B",
     "state": [0.05, -0.12, 0.6, 2.9, 0.5, -0.3, 0.01, -0.01]},
    {"prompt": "turn on the stove", "image": "A",
     "state": [-0.15, 0.2, 1.1, 3.1, 1.2, 0.0, 0.04, -0.04]},
]


def case_inputs(case, vocab, merges):
    ids = FL.bpe_encode(case["prompt"], vocab, merges)
    assert len(ids) <= MAX_TOKENS
    text, mask = FL.pad_text(ids, MAX_TOKENS, PAD_ID)
    state = np.array([case["state"]], dtype=np.float32).astype(np.float16)
    obs = (torch.from_numpy(camera_input(case["image"]).astype(np.float32))[None],
           torch.from_numpy(state.astype(np.float32)), torch.tensor([text]), torch.tensor([mask]))
    return ids, text, mask, obs


def sensitivity(m, vocab, merges):
    """Each input must move the actions well beyond the float16 tolerance."""
    base = case_inputs(GOLDEN_CASES[0], vocab, merges)[3]
    other = case_inputs(GOLDEN_CASES[1], vocab, merges)[3]
    with torch.no_grad():
        ref = m(*base).numpy()
        variants = {"image": (other[0],) + base[1:],
                    "state": base[:1] + (base[1] + 0.2 * torch.tensor(STATE_Q99) - 0.2 * torch.tensor(STATE_Q01),) + base[2:],
                    "prompt": base[:2] + other[2:]}
        out = {k: float(np.abs(m(*v).numpy() - ref).max()) for k, v in variants.items()}
    assert min(out.values()) > 0.05, f"an input barely changes the actions: {out}"
    return out


def main():
    FL.seed_all(SEED)
    m = OFT().eval()
    vocab, merges = FL.copy_fixture_tokenizer(OUT, VOCAB)

    path = os.path.join(OUT, "model.onnx")
    g = torch.Generator().manual_seed(1234)
    ex = (torch.randn(2, 3, IMG, IMG, generator=g), torch.randn(2, STATE_DIM, generator=g),
          torch.randint(3, 300, (2, MAX_TOKENS), generator=g), torch.ones(2, MAX_TOKENS, dtype=torch.int64))
    torch.onnx.export(m, ex, path, opset_version=OPSET, input_names=IN, output_names=OUT_NAMES,
                      dynamic_axes={n: {0: "batch"} for n in IN + OUT_NAMES})
    ops = to_float16(path)
    FL.fix_io(path, SHAPES)

    cases = []
    with torch.no_grad():
        for case in GOLDEN_CASES:
            ids, text, mask, obs = case_inputs(case, vocab, merges)
            raw = m(*obs)[0].numpy()
            cases.append({"prompt": case["prompt"], "prompt_ids": ids, "input_ids": text, "attention_mask": mask,
                          "state": case["state"], "images": {"observation/image": case["image"]},
                          "raw": raw.tolist(), "actions": unnormalise(raw).tolist()})
    sens = sensitivity(m, vocab, merges)
    golden = {
        "about": "PyTorch float32 outputs of efferent-oft-fixture (float16 graph) for fixed inputs, computed "
                 "with the graph's float16-rounded weights and float16-rounded inputs (see build.py). Image: "
                 "the pattern at 224x224, (pix/255 - mean)/std in float64, CHW, then float32, then float16. "
                 "State: float32 then float16. raw = the model's output [horizon][dim] (normalised); actions = "
                 "raw unnormalised (bounds_q99 with mask) in float64. Compare the graph's actions with "
                 "|got - want| <= actions_abs + actions_rel * |want|.",
        "patterns": FL.PATTERNS,
        "tolerance": {"actions_abs": 5e-3, "actions_rel": 1e-2, "raw_abs": 1e-2, "raw_rel": 1e-2},
        "precision": {"graph": "float16", "reference": "float32 (float16-rounded weights and inputs)"},
        "cases": cases,
    }
    FL.write_json(os.path.join(OUT, "golden.json"), golden)

    desc = """\
  Tiny random-weight model with the structure of OpenVLA-OFT (ViT, projector, Llama-style
  decoder with parallel decoding, L1-regression MLP head), one float16 graph: a fixture for
  the regression layout. Its weights are RANDOM: its actions are deterministic but meaningless."""
    before = """\
  structure: "OpenVLA-OFT (moojink/openvla-oft prismatic/extern/hf/modeling_prismatic.py), tiny widths"
  precision: "float16 (exported in float32, converted by build.py's to_float16)"
"""
    manifest = "\n".join([
        FL.manifest_head("efferent-oft-fixture", desc, SEED, OPSET, before=before) + "layout: regression\n",
        FL.observation_section([FL.camera_entry("observation/image", "pixel_values", IMG, IMG, IMG_MEAN, IMG_STD)],
                               IMG, STATE_DIM),
        FL.text_section(MAX_TOKENS, PAD_ID, "attention_mask"),
        "regression:\n  file: model.onnx\n  actions: actions\n",
        FL.action_section(D, H, 20, FL.normalization_section(Q01, Q99, MASK, kind="bounds_q99"), model_dim=D),
        "golden: golden.json\n"])
    FL.write_text(os.path.join(OUT, "manifest.yaml"), manifest)
    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write(README.format(torch=torch.__version__, onnx=onnx.__version__, opset=OPSET, seed=SEED,
                              sig="\n".join(FL.signature_rows(path)), ops=", ".join(ops), seq=SEQ,
                              sens=", ".join(f"{k} {v:.3g}" for k, v in sens.items())))
    for c in cases:
        print(c["prompt"], c["prompt_ids"], "raw[0]", np.round(c["raw"][0], 4).tolist())
    print("sensitivity", sens)
    FL.print_sizes(OUT)


README = """# efferent-oft-fixture

Random weights, structure of **OpenVLA-OFT** (moojink/openvla-oft:
`prismatic/extern/hf/modeling_prismatic.py` predict_action with parallel
decoding, `projectors.py` ProprioProjector, `action_heads.py`
L1RegressionActionHead) at tiny widths, built by `build.py` with torch
{torch} (onnx {onnx}, opset {opset}, seed {seed}):

    /usr/bin/python3 models/efferent-oft-fixture/build.py

Layout `regression`: one graph, observation → action chunk [B, 8, 7]. The
whole graph is **float16** (weights, `pixel_values`, `state`, `actions`; the
text inputs are int64). A fixture for efferent's regression runtime and its
float16 conversions: its actions are deterministic but **meaningless**.

## Structure (see build.py's docstring)
- Camera `observation/image` 224×224 → `pixel_values` float16 [B,3,224,224],
  (pix/255 − mean)/std with ImageNet mean/std.
- ViT (patch 14 → 256 patches, width 32, 2 blocks) → gelu-mlp projector →
  Llama-style decoder (width 64, 2 layers, 4 query heads / 2 KV heads (GQA),
  head_dim 16, RMSNorm, RoPE, SwiGLU 128), bidirectional attention over
  [<s>; 256 patches; proprio token; 15 text slots; 56 action queries; </s>]
  ({seq} tokens) with the padding mask, positions = cumsum(mask) − 1.
- The raw state is normalised inside the graph (bounds_q99 with fixed
  q01/q99, clipped to [−1, 1]) and projected to one token (ProprioProjector).
- Action queries: learned embeddings (OFT itself feeds zeroed embeddings).
- Head: the 56 action tokens' hidden states → [B, 8, 7·64] → MLPResNet → [B, 8, 7].

## Float16
torch 1.13 cannot run (so cannot trace) float16 on the CPU. build.py rounds
the weights to float16, exports in float32 and converts the ONNX graph to
float16 with its own `to_float16` (initializers, Constant tensors, Cast
targets, input/output types); shape inference with strict type checking
then finds no float32 value left. Operators in the graph: {ops}.

## Graph
Batch axis symbolic (`batch`) on every input and output.

| | name | type | shape |
|---|---|---|---|
{sig}

## golden.json
Compatible with `internal/golden`'s File, plus per case `raw` (the model's
output [8][7], normalised, as the float32 reference computes it),
`input_ids`/`attention_mask` (the padded text inputs) and at the top
`tolerance.actions_rel`/`raw_abs`/`raw_rel` and `precision`.

The reference (`raw`, `actions`) is PyTorch in **float32** with the same
float16-rounded weights and float16-rounded inputs; the graph computes in
float16, so compare with a mixed tolerance:

    |got − want| ≤ actions_abs + actions_rel · |want|     (actions_abs 5e-3, actions_rel 1e-2)

on `actions` (unnormalised, bounds_q99 with mask), or the same with
`raw_abs` 1e-2 / `raw_rel` 1e-2 on `raw`. Measured when this fixture was
built: ONNX Runtime 1.24.1 on the CPU (through onnxruntime_go, batch 3 and
batch 1) is off by at most 1.2e-3 on `raw` and 0.9e-3 on `actions`, so
`actions_abs` alone (5e-3) also holds there; a purely relative 1e-2 does
not (some raw values are near zero). The golden values themselves are
float32.

Sensitivity checked by build.py (max |Δ normalised action| when one input
changes): {sens}.
"""


if __name__ == "__main__":
    sys.exit(main())
