"""Shared pieces of the fixtures' build scripts (models/*/build.py) and of
models/efferent-tiny/train.py: the golden image patterns, the tiny Llama-style
BPE text tokenizer, ONNX export helpers (KV-cached encoder/decoder pairs,
fixed dimensions, graph signatures), torch blocks (the prefix-LM KV block and
core, RMSNorm, RoPE, the Llama/Gemma layer's projections, the tanh-GELU ViT
layer), the greedy reference decoding, un-normalisation, and the manifest's
common sections.

The scripts are not a package: each puts this directory on sys.path, after
setting sys.dont_write_bytecode so that no __pycache__ is left behind:

    sys.dont_write_bytecode = True
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import fixturelib as FL

Every fixture's outputs were byte-identical before and after its code moved
here. Keep them so: a change here must leave the traced graphs (the same
torch operators in the same order, the same parameter names), the random
number draws (modules created in the same order) and the JSON/YAML text
unchanged, or come with rebuilt fixtures. Rebuild each script into a scratch
copy of models/ (and tokenizer/fast/testdata/) and compare hashes.
"""
import importlib.util
import json
import os
import shutil

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

MODELS = os.path.dirname(os.path.abspath(__file__))


def load_module(name, path):
    """Import a script or module by its path (models/fp16.py, another build
    script, tokenizer/fast/testdata/fast_reference.py)."""
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def seed_all(seed):
    """The scripts' deterministic start: torch and numpy seeded, one torch thread."""
    torch.manual_seed(seed)
    np.random.seed(seed)
    torch.set_num_threads(1)


# --- golden images: internal/golden's patterns ----------------------------------
PATTERNS = {
    "A": "pix[y][x][c] = (3x + 5y + 50c) mod 256",
    "B": "pix[y][x][c] = (7x + 2y + 90c + 17) mod 256",
}


def pattern(name, h, w):
    """golden.Pattern: uint8 [h, w, 3]."""
    y, x, c = np.meshgrid(np.arange(h), np.arange(w), np.arange(3), indexing="ij")
    if name == "A":
        v = 3 * x + 5 * y + 50 * c
    elif name == "B":
        v = 7 * x + 2 * y + 90 * c + 17
    else:
        raise ValueError(name)
    return (v % 256).astype(np.uint8)


def golden_images(size):
    """Patterns A and B, size x size."""
    return pattern("A", size, size), pattern("B", size, size)


def normalise_image(pix, mean, std):
    """(pix/255 - mean[c]) / std[c] in float64, CHW, rounded to float32."""
    x = pix.astype(np.float64) / 255.0
    x = (x - np.array(mean)) / np.array(std)
    return np.ascontiguousarray(x.transpose(2, 0, 1)).astype(np.float32)


def camera_patterns(swap):
    """Which pattern each of the two cameras gets (golden.json's "images"):
    A on observation/image and B on the wrist camera, or swapped, so that a
    runtime that mixes up camera order fails the golden test."""
    return {"observation/image": "B" if swap else "A", "observation/wrist_image": "A" if swap else "B"}


# --- text: a tiny Llama-style BPE (Metaspace "▁", byte fallback) ------------------
SPACE = "\u2581"


def train_bpe(lines, n_merges):
    """Train the BPE on instruction lines: words with "▁" prepended, pair
    counts, ties broken lexicographically, pairs seen once are not merged.
    Returns (vocab: <unk> <s> </s>, the 256 byte tokens, the characters, the
    merges; merges: [(a, b)] by rank)."""
    words = {}
    for line in lines:
        for w in line.split():
            key = tuple(SPACE + w)
            words[key] = words.get(key, 0) + 1
    chars = sorted({c for w in words for c in w})
    merges = []
    for _ in range(n_merges):
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
    """Encode like HF tokenizers does for bpe_tokenizer_json's tokenizer:
    normalise (prepend and replace spaces by "▁"), split into characters,
    merge the lowest-ranked adjacent pair (leftmost first) until none is left,
    byte-fall-back for unknown pieces, then prepend <s>."""
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


def bpe_tokenizer_json(vocab, merges):
    """The Hugging Face tokenizer.json of a train_bpe tokenizer."""
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


def copy_fixture_tokenizer(out_dir, vocab_size):
    """Copy efferent-fixture's tokenizer.json into out_dir and return (vocab,
    merges) read back from the copy, so prompt ids are what the Go tokenizer
    makes of it. Its ids must fit below vocab_size."""
    dst = os.path.join(out_dir, "tokenizer.json")
    shutil.copyfile(os.path.join(MODELS, "efferent-fixture", "tokenizer.json"), dst)
    with open(dst, encoding="utf-8") as f:
        tok = json.load(f)
    vocab = tok["model"]["vocab"]
    assert max(vocab.values()) < vocab_size
    return vocab, [tuple(m.split(" ")) for m in tok["model"]["merges"]]


def pad_text(ids, n, pad_id):
    """The text inputs: ids cut to n and padded with pad_id, and the mask
    (1 per id kept)."""
    k = min(len(ids), n)
    return ids[:n] + [pad_id] * (n - k), [1] * k + [0] * (n - k)


# --- ONNX export -------------------------------------------------------------------
def set_output_dims(model, dims):
    """Write back output dimensions the exporter left symbolic though they are
    fixed (it cannot see that a Concat with a dynamic batch keeps a constant
    length), so that the runtime can check the manifest against them.
    dims: output name -> {axis: size}."""
    for v in model.graph.output:
        for axis, size in dims.get(v.name, {}).items():
            d = v.type.tensor_type.shape.dim[axis]
            d.Clear()
            d.dim_value = size


def fix_dims(path, dims):
    """set_output_dims on the graph at path, checked and saved."""
    m = onnx.load(path)
    set_output_dims(m, dims)
    onnx.checker.check_model(m)
    onnx.save(m, path)


def fix_io(path, shapes):
    """Declare every graph input/output as exactly [batch, fixed dims...]: the
    exporter leaves some fixed axes symbolic. shapes: name -> dims (a str is
    symbolic). Check names, then the model, with strict shape inference."""
    # The weights are not loaded: a graph past 2 GB keeps them in external
    # data files, which the rewritten graph goes on referring to.
    m = onnx.load(path, load_external_data=False)
    names = [v.name for v in m.graph.input] + [v.name for v in m.graph.output]
    assert sorted(names) == sorted(shapes), (names, sorted(shapes))
    for v in list(m.graph.input) + list(m.graph.output):
        dims = v.type.tensor_type.shape.dim
        want = shapes[v.name]
        assert len(dims) == len(want), (v.name, dims, want)
        for d, size in zip(dims, want):
            d.Clear()
            if isinstance(size, str):
                d.dim_param = size
            else:
                d.dim_value = size
    onnx.save(m, path)
    # By path, which works past 2 GB; the inferred model is only checked.
    onnx.checker.check_model(path)
    inferred = path + ".inferred"
    onnx.shape_inference.infer_shapes_path(path, inferred, check_type=True, strict_mode=True)
    os.remove(inferred)


def legacy_exporter():
    """torch.onnx.export's keyword for the TorchScript exporter these
    scripts are written for: torch 2.9 and later default to the dynamo
    exporter (dynamo=True); Debian's torch 1.13 has no such keyword."""
    import inspect
    return {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}


def graph_signature(path):
    """[(io, name, dtype, dims)] as declared by the graph, for a README."""
    m = onnx.load(path)
    out = []
    for io, vs in (("in", m.graph.input), ("out", m.graph.output)):
        for v in vs:
            t = v.type.tensor_type
            dims = [d.dim_param or d.dim_value for d in t.shape.dim]
            typ = {onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.FLOAT16: "float16",
                   onnx.TensorProto.INT64: "int64"}[t.elem_type]
            out.append((io, v.name, typ, dims))
    return out


def signature_rows(path):
    """graph_signature as Markdown table rows: | io | `name` | type | [dims] |."""
    return [f"| {io} | `{n}` | {t} | [{', '.join(map(str, dims))}] |" for io, n, t, dims in graph_signature(path)]


def kv_names(layers):
    """The Hugging Face/Optimum KV cache names: (decoder inputs, outputs)."""
    return ([f"past_key_values.{i}.{kv}" for i in range(layers) for kv in ("key", "value")],
            [f"present.{i}.{kv}" for i in range(layers) for kv in ("key", "value")])


def export_kv_graphs(enc, dec, out_dir, images, state_dim, max_text, prefix, layers, heads, head_dim,
                     start_token, opset, fix_head_dim=False):
    """Export a two-camera prefix-LM's encoder.onnx (image_0, image_1, state,
    input_ids, text_mask -> prefix_mask, present.%d.key/value) and
    decoder.onnx (input_ids, attention_mask, position_ids, past KV -> logits,
    present KV) into out_dir. Every graph input and output has a symbolic
    batch axis 0, so the server can run several clients' observations in one
    session run; the encoder's prefix length (and head_dim with fix_head_dim)
    is written back as fixed."""
    kv_in, kv_out = kv_names(layers)
    im0, im1 = images
    ex_enc = (torch.from_numpy(im0)[None], torch.from_numpy(im1)[None], torch.zeros(1, state_dim),
              torch.zeros(1, max_text, dtype=torch.int64), torch.ones(1, max_text, dtype=torch.int64))
    enc_in = ["image_0", "image_1", "state", "input_ids", "text_mask"]
    enc_dyn = {n: {0: "batch"} for n in enc_in + ["prefix_mask"] + kv_out}
    enc_path, dec_path = os.path.join(out_dir, "encoder.onnx"), os.path.join(out_dir, "decoder.onnx")
    torch.onnx.export(enc, ex_enc, enc_path, opset_version=opset,
                      input_names=enc_in, output_names=["prefix_mask"] + kv_out, dynamic_axes=enc_dyn)
    kv_dims = {2: prefix, 3: head_dim} if fix_head_dim else {2: prefix}
    fix_dims(enc_path, {n: {1: prefix} if n == "prefix_mask" else kv_dims for n in ["prefix_mask"] + kv_out})
    past = [torch.zeros(1, heads, prefix, head_dim) for _ in range(2 * layers)]
    ex_dec = (torch.tensor([[start_token]]), torch.ones(1, prefix + 1, dtype=torch.int64), torch.tensor([[prefix]]), *past)
    dyn = {"input_ids": {0: "batch"}, "position_ids": {0: "batch"}, "logits": {0: "batch"},
           "attention_mask": {0: "batch", 1: "total"}}
    for n in kv_in:
        dyn[n] = {0: "batch", 2: "past"}
    for n in kv_out:
        dyn[n] = {0: "batch", 2: "total"}
    torch.onnx.export(dec, ex_dec, dec_path, opset_version=opset,
                      input_names=["input_ids", "attention_mask", "position_ids"] + kv_in,
                      output_names=["logits"] + kv_out, dynamic_axes=dyn)
    for p in (enc_path, dec_path):
        onnx.checker.check_model(onnx.load(p))


# --- torch blocks: the prefix-LM with a KV-cached decoder -------------------------
class KVBlock(nn.Module):
    """Pre-LayerNorm transformer block (fused qkv, GELU MLP) that takes and
    returns a KV cache."""

    def __init__(self, width, heads):
        super().__init__()
        self.width, self.heads, self.head_dim = width, heads, width // heads
        self.ln1 = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.ln2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, x, past_k, past_v, key_mask, causal):
        """x [B,S,E]; past_k/v [B,H,P,hd]; key_mask [B,P+S] (1 = attend);
        causal: whether new positions attend causally among themselves."""
        b, s, _ = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(self.width, dim=-1)
        q = q.view(b, s, self.heads, self.head_dim).transpose(1, 2)
        k = k.view(b, s, self.heads, self.head_dim).transpose(1, 2)
        v = v.view(b, s, self.heads, self.head_dim).transpose(1, 2)
        k = torch.cat([past_k, k], dim=2)
        v = torch.cat([past_v, v], dim=2)
        att = (q @ k.transpose(-1, -2)) / (self.head_dim ** 0.5)          # [B,H,S,P+S]
        bias = (1.0 - key_mask[:, None, None, :].to(att.dtype)) * -1e9
        if causal:
            total = k.shape[2]
            qpos = torch.arange(s)[:, None] + (total - s)
            kpos = torch.arange(total)[None, :]
            bias = bias + (kpos > qpos).to(att.dtype)[None, None] * -1e9
        att = torch.softmax(att + bias, dim=-1)
        y = (att @ v).transpose(1, 2).reshape(b, s, self.width)
        x = x + self.proj(y)
        x = x + self.mlp(self.ln2(x))
        return x, k, v


class KVCore(nn.Module):
    """The text side of a prefix-LM with a KV-cached decoder (efferent-fixture,
    efferent-fast-fixture, efferent-tiny): token and position embeddings,
    KVBlocks, a final LayerNorm and the logits head. A subclass calls
    add_stack where its random initialisation order wants them."""

    def add_stack(self, vocab, width, layers, heads, max_pos):
        self.tok = nn.Embedding(vocab, width)
        self.pos = nn.Embedding(max_pos, width)
        self.blocks = nn.ModuleList([KVBlock(width, heads) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab)

    def run_prefix(self, x, mask, b):
        """The blocks over the prefix x [b,P,E], bidirectional (prefix-LM),
        with the key mask [b,P]: the per-layer K and V."""
        kv = []
        blk0 = self.blocks[0]
        empty = torch.zeros(b, blk0.heads, 0, blk0.head_dim)
        for blk in self.blocks:
            x, k, v = blk(x, empty, empty, mask, causal=False)
            kv += [k, v]
        return kv

    def decode(self, input_ids, attention_mask, position_ids, past):
        """Decoder steps over the cache: (logits, present K/V)."""
        x = self.tok(input_ids) + self.pos(position_ids)
        presents = []
        for i, blk in enumerate(self.blocks):
            x, k, v = blk(x, past[2 * i], past[2 * i + 1], attention_mask, causal=True)
            presents += [k, v]
        return self.head(self.ln_f(x)), presents


class PatchCore(KVCore):
    """The random-weight core of efferent-fixture and efferent-fast-fixture:
    conv patches of two uint8 NHWC cameras (+ a per-camera embedding), a
    state token and the padded text make the prefix, whose K/V the decoder
    attends to."""

    def __init__(self, vocab, width, layers, heads, max_pos, img, patch, cams, state_dim, max_text):
        super().__init__()
        self.add_stack(vocab, width, layers, heads, max_pos)
        self.patch = nn.Conv2d(3, width, patch, stride=patch)
        self.cam = nn.Parameter(torch.randn(cams, width) * 0.1)
        self.state = nn.Linear(state_dim, width)
        self.n_fixed = cams * (img // patch) ** 2 + 1     # patches and the state token
        self.prefix_len = self.n_fixed + max_text
        nn.init.normal_(self.head.weight, std=1.0 / width ** 0.5)
        # With default initialisation the decoder's output depends almost only
        # on its own token and position, so every observation decodes to the
        # same tokens and a golden test could not tell whether the images,
        # state or prompt reached the model. Shrink the token/position
        # embeddings and sharpen attention so the prefix matters (the build
        # scripts check that the golden cases decode to different tokens).
        with torch.no_grad():
            self.tok.weight.mul_(0.05)
            self.pos.weight.mul_(0.05)
            for blk in self.blocks:
                blk.qkv.weight.mul_(5.0)
                blk.proj.weight.mul_(5.0)

    def prefix(self, images, state, input_ids, text_mask):
        """images (uint8 NHWC) + state + padded text -> (prefix mask, per-layer
        K/V, the batch size)."""
        feats = []
        for i, img in enumerate(images):
            x = img.permute(0, 3, 1, 2).to(torch.float32) / 127.5 - 1.0
            x = self.patch(x).flatten(2).transpose(1, 2) + self.cam[i]
            feats.append(x)
        feats.append(self.state(state)[:, None, :])
        feats.append(self.tok(input_ids))
        x = torch.cat(feats, dim=1)
        b = x.shape[0]
        x = x + self.pos(torch.arange(self.prefix_len))[None]
        mask = torch.cat([torch.ones(b, self.n_fixed, dtype=torch.int64), text_mask], dim=1)
        return mask, self.run_prefix(x, mask, b), b


class KVDecoder(nn.Module):
    """One step of a KVCore's decoder, Hugging Face/Optimum KV layout."""

    def __init__(self, core):
        super().__init__()
        self.c = core

    def forward(self, input_ids, attention_mask, position_ids, *past):
        logits, presents = self.c.decode(input_ids, attention_mask, position_ids, list(past))
        return (logits, *presents)


def kv_greedy(enc, dec, im0, im1, state, text, tmask, start_token, prefix_len, steps, pick, end=None):
    """Greedy constrained decoding, exactly as the Go runtime does it: the
    encoder once, then one decoder step per token over the KV cache. pick(step,
    logits) -> (token, top-2 margin or None). Stops after steps tokens or at
    end. Returns the encoder's outputs, the tokens and the margins."""
    with torch.no_grad():
        out = enc(torch.from_numpy(im0)[None], torch.from_numpy(im1)[None],
                  torch.tensor([state], dtype=torch.float32), torch.tensor([text]), torch.tensor([tmask]))
        mask, past = out[0], list(out[1:])
        tok, tokens, margins = start_token, [], []
        for s in range(steps):
            am = torch.cat([mask, torch.ones(1, s + 1, dtype=torch.int64)], dim=1)
            o = dec(torch.tensor([[tok]]), am, torch.tensor([[prefix_len + s]]), *past)
            logits, past = o[0][0, -1], list(o[1:])
            tok, margin = pick(s, logits)
            if margin is not None:
                margins.append(margin)
            tokens.append(tok)
            if tok == end:
                break
    return out, tokens, margins


def band_pick(logits, lo, hi):
    """argmax over the ids lo..hi and its top-2 margin."""
    band = logits[lo:hi + 1]
    top2 = torch.topk(band, 2).values
    return lo + int(torch.argmax(band)), float(top2[0] - top2[1])


def vq_band(g, token_base, codes):
    """The ids of residual-VQ level g: token = token_base - (g*codes + code)."""
    hi = token_base - g * codes
    return hi - codes + 1, hi


def vq_latent(codebook, tokens, token_base):
    """The residual-VQ latent of the tokens: the sum of each level's code."""
    levels, codes, latent = codebook.shape
    z = torch.zeros(latent)
    for g, t in enumerate(tokens):
        z += codebook[g, token_base - g * codes - t]
    return z


def unnormalise_bounds(x, q01, q99, mask):
    """bounds/bounds_q99 un-normalisation: 0.5 (x + 1) (q99 - q01) + q01 on
    the masked dims, x on the others."""
    q01, q99 = np.array(q01), np.array(q99)
    return np.where(mask, 0.5 * (x + 1.0) * (q99 - q01) + q01, x)


# --- torch blocks: Llama/Gemma-style decoders, ViT -----------------------------------
class RMSNorm(nn.Module):
    """x * rsqrt(mean(x^2) + eps) * w (Llama), or * (1 + w) with plus_one
    (Gemma). weight: the initial weight (default ones, zeros with plus_one)."""

    def __init__(self, dim, eps, weight=None, plus_one=False):
        super().__init__()
        self.eps, self.plus_one = eps, plus_one
        if weight is None:
            weight = torch.zeros(dim) if plus_one else torch.ones(dim)
        self.weight = nn.Parameter(weight)

    def forward(self, x):
        # x * x, not Hugging Face's x.pow(2): ONNX Runtime 1.24's CPU session
        # fails to initialise a float16 graph with Pow here (its
        # SimplifiedLayerNormFusion meets the float32 casts inserted around
        # Pow, which has no float16 CPU kernel: "Attempting to get index by a
        # name which does not exist: InsertedPrecisionFreeCast_...").
        y = x * torch.rsqrt(torch.mean(x * x, dim=-1, keepdim=True) + self.eps)
        return y * (1.0 + self.weight) if self.plus_one else y * self.weight


def rope_table(head_dim, max_pos, theta):
    """cos, sin [max_pos, head_dim] (Llama, half-split), in float64 then
    float32: a table indexed by position, so that a float16 graph rounds cos
    and sin once instead of computing the angles in float16 (at position ~120
    a float16 angle is off by up to 0.03 rad)."""
    inv = 1.0 / (theta ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim))
    ang = np.arange(max_pos, dtype=np.float64)[:, None] * inv[None, :]
    ang = np.concatenate([ang, ang], axis=1)
    return torch.from_numpy(np.cos(ang).astype(np.float32)), torch.from_numpy(np.sin(ang).astype(np.float32))


def rotate_half(x, head_dim):
    x1, x2 = x[..., :head_dim // 2], x[..., head_dim // 2:]
    return torch.cat([-x2, x1], dim=-1)


def apply_rope(x, cos, sin, head_dim):
    """x [B, heads, S, hd]; cos/sin [B, S, hd]."""
    return x * cos[:, None] + rotate_half(x, head_dim) * sin[:, None]


class GQALayer(nn.Module):
    """A Llama/Gemma decoder layer's modules, Hugging Face names: the two
    norms (made by norm(width)), q/k/v/o projections for grouped-query
    attention (heads query heads, kv_heads KV heads) and the gated MLP. The
    subclass's forward does the attention."""

    def __init__(self, width, mlp, heads, kv_heads, head_dim, norm):
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, head_dim
        self.input_layernorm = norm(width)
        self.q_proj = nn.Linear(width, heads * head_dim, bias=False)
        self.k_proj = nn.Linear(width, kv_heads * head_dim, bias=False)
        self.v_proj = nn.Linear(width, kv_heads * head_dim, bias=False)
        self.o_proj = nn.Linear(heads * head_dim, width, bias=False)
        self.post_attention_layernorm = norm(width)
        self.gate_proj = nn.Linear(width, mlp, bias=False)
        self.up_proj = nn.Linear(width, mlp, bias=False)
        self.down_proj = nn.Linear(mlp, width, bias=False)

    def project(self, x, b, s):
        """q [b,heads,s,hd], k and v [b,kv_heads,s,hd] of x [b,s,width] (before RoPE)."""
        h = self.input_layernorm(x)
        q = self.q_proj(h).view(b, s, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(h).view(b, s, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(h).view(b, s, self.kv_heads, self.head_dim).transpose(1, 2)
        return q, k, v

    def swiglu(self, h):
        return self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))


def vit_layer(x, norm1, qkv, proj, norm2, fc1, fc2, heads):
    """A pre-LayerNorm ViT encoder layer (SigLIP-like: fused qkv with biases,
    bidirectional attention, tanh-GELU MLP) given its modules, which keep
    each model's own names."""
    b, s, _ = x.shape
    width = qkv.in_features
    hd = width // heads
    q, k, v = qkv(norm1(x)).split(width, dim=-1)
    q = q.view(b, s, heads, hd).transpose(1, 2)
    k = k.view(b, s, heads, hd).transpose(1, 2)
    v = v.view(b, s, heads, hd).transpose(1, 2)
    att = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) * hd ** -0.5, dim=-1)
    x = x + proj(torch.matmul(att, v).transpose(1, 2).reshape(b, s, width))
    return x + fc2(F.gelu(fc1(norm2(x)), approximate="tanh"))


# --- manifest.yaml and the other outputs ------------------------------------------------
def fmt_list(xs, floats=False):
    """A YAML flow list: booleans as true/false, numbers as Python's repr
    (of float(v) with floats)."""
    return "[" + ", ".join(repr(v).lower() if isinstance(v, bool) else repr(float(v) if floats else v)
                           for v in xs) + "]"


def manifest_head(name, description, seed, opset, before="", after="", weights="random",
                  license="Apache-2.0", script="build.py", args=""):
    """The manifest from its first line to the end of provenance. description:
    the folded text, indented; before/after: provenance lines (indented, each
    ending in a newline) before the seed and after the opset."""
    return f"""# efferent model manifest (format efferent-model/1). Generated by {script}; edit that instead.
format: efferent-model/1
name: {name}
version: 0.1.0
description: >-
{description}
weights: {weights}
license: {license}
provenance:
  script: models/{name}/{script}
  command: /usr/bin/python3 models/{name}/{script}{args}
{before}  seed: {seed}
  torch: "{torch.__version__}"
  onnx: "{onnx.__version__}"
  opset: {opset}
{after}"""


TWO_CAMERAS = ["{key: observation/image, input: image_0}", "{key: observation/wrist_image, input: image_1}"]


def camera_entry(key, name, h, w, mean, std):
    """An observation.images entry with its own size and normalisation."""
    return (f"{{key: {key}, input: {name}, height: {h}, width: {w},\n"
            f"       normalize: {{mean: {fmt_list(mean)}, std: {fmt_list(std)}}}}}")


def observation_section(images, size, state_dim, state_note="", state_extra=""):
    """observation: images (entries), the resize size, state and prompt.
    state_note: comment lines before state; state_extra: more state fields."""
    entries = "".join(f"    - {e}\n" for e in images)
    return f"""observation:
  images:
{entries}  image_height: {size}
  image_width: {size}
  resize: resize_with_pad
{state_note}  state: {{key: observation/state, input: state, dim: {state_dim}{state_extra}}}
  prompt: {{key: prompt, required: true, max_bytes: 1024}}
"""


def text_section(max_tokens, pad_id, mask, add_special=True, template=None):
    return f"""text:
  tokenizer: tokenizer.json
  input_ids: input_ids
  mask: {mask}
  max_tokens: {max_tokens}
  pad_id: {pad_id}
  add_special: {"true" if add_special else "false"}
""" + (f"  template: {json.dumps(template)}\n" if template is not None else "")


def encoder_section(prefix_len):
    return f"""encoder:
  file: encoder.onnx
  prefix_len: {prefix_len}
  prefix_mask: prefix_mask
  present_key: present.%d.key
  present_value: present.%d.value
"""


def decoder_section(layers, heads, head_dim, vocab, start_token, position_ids=True, heads_note="", start_note=""):
    """decoder: the Hugging Face/Optimum names (position_ids: whether the
    graph takes them); *_note: comments after the heads and start_token."""
    pos = "  position_ids: position_ids\n" if position_ids else ""
    return f"""decoder:
  file: decoder.onnx
  layers: {layers}
  heads: {heads}{heads_note}
  head_dim: {head_dim}
  vocab_size: {vocab}
  start_token: {start_token}{start_note}
  input_ids: input_ids
  attention_mask: attention_mask
{pos}  past_key: past_key_values.%d.key
  past_value: past_key_values.%d.value
  logits: logits
  present_key: present.%d.key
  present_value: present.%d.value
"""


def action_section(dim, horizon, step_hz, body, model_dim=None, robot_dims=None, space=None, max_lag=None):
    """action: the chunk's geometry, what the actions mean (space: libero,
    quadruped_command), how many steps of a chunk the policy may start into
    (max_lag: its latency matrix measures it), then body (its tokenizer:,
    normalization: ...)."""
    return (f"action:\n  dim: {dim}\n"
            + (f"  model_dim: {model_dim}\n" if model_dim is not None else "")
            + (f"  robot_dims: {fmt_list(robot_dims)}\n" if robot_dims is not None else "")
            + f"  horizon: {horizon}\n  step_hz: {step_hz}\n"
            + (f"  # measured with the latency matrix (README, Latency)\n  max_lag_steps: {max_lag:g}\n"
               if max_lag is not None else "")
            + (f"  space: {space}\n" if space is not None else "") + body)


def vq_tokenizer_section(token_base, latent_decoder=None):
    """action.tokenizer for residual-VQ tokens (codebook.json, counting down
    from token_base)."""
    return ("  tokenizer:\n    kind: vq\n    codebook: codebook.json\n"
            f"    token_base: {token_base}\n    direction: down\n"
            + (f"    latent_decoder: {latent_decoder}\n" if latent_decoder else ""))


def normalization_section(q01, q99, mask=None, kind=None, floats=False):
    """action.normalization with q01/q99 (and mask)."""
    return ("  normalization:\n" + (f"    kind: {kind}\n" if kind else "")
            + f"    q01: {fmt_list(q01, floats)}\n    q99: {fmt_list(q99, floats)}\n"
            + (f"    mask: {fmt_list(mask)}\n" if mask is not None else ""))


def optimise(opt, loss, params, clip=1.0):
    """One optimiser step on loss, gradients clipped to norm clip; the
    loss's value."""
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, clip)
    opt.step()
    return loss.item()


def flow_step_section(steps, time_from, time_to, seed):
    """flow: with prefix.onnx and step.onnx (x_t, timestep -> v_t)."""
    return f"""flow:
  prefix:
    file: prefix.onnx
  step:
    file: step.onnx
    x: x_t
    time: timestep
    velocity: v_t
  steps: {steps}
  time_from: {time_from}
  time_to: {time_to}
  seed: {seed}
"""


def write_trained(out_dir, manifest, args, n_eps, n_samples, history):
    """A trained model's manifest.yaml and training.json (its arguments,
    data counts and loss history), then the directory's file sizes."""
    write_text(os.path.join(out_dir, "manifest.yaml"), manifest)
    write_json(os.path.join(out_dir, "training.json"),
               {"args": vars(args), "episodes": n_eps, "samples": n_samples, "history": history}, ensure_ascii=True)
    print_sizes(out_dir, 16, 9)


def write_json(path, obj, ensure_ascii=False, newline=False):
    """JSON with indent 1 (UTF-8 unless ensure_ascii), and a final newline if asked."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=ensure_ascii, indent=1)
        if newline:
            f.write("\n")


def write_text(path, text):
    with open(path, "w") as f:
        f.write(text)


def print_sizes(out_dir, name_width=16, size_width=8):
    """Each file in out_dir and its size, on stdout."""
    for n in sorted(os.listdir(out_dir)):
        print("%-*s %*d bytes" % (name_width, n, size_width, os.path.getsize(os.path.join(out_dir, n))))
