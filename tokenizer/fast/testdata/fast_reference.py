#!/usr/bin/python3
"""Reference implementation of the FAST action tokenizer, for efferent's
Go tests (tokenizer/fast). numpy + scipy only (Debian's python3-numpy and
python3-scipy); no Hugging Face libraries, which this machine cannot fetch.

Written from reading (not copying) these sources:

  * physical-intelligence/fast, processing_action_tokenizer.py (the
    UniversalActionProcessor that AutoProcessor loads with
    trust_remote_code; published on the Hugging Face hub, read here as
    vendored on GitHub, e.g. huggingface/lerobot
    src/lerobot/policies/molmoact2/molmoact2_hf_model/action_tokenizer.py)
    and its processor_config.json (scale 10, min_token -354, vocab_size
    2048, time_horizon/action_dim null);
  * Physical-Intelligence/openpi, src/openpi/models/tokenizer.py
    (FASTTokenizer: FAST ids -> PaliGemma ids, "Action: " ... "|" framing),
    src/openpi/transforms.py (quantile normalisation with +1e-6),
    src/openpi/models/pi0_fast.py (greedy decoding until EOS);
  * Hugging Face tokenizers' BpeTrainer and ByteLevel pre-tokenizer /
    decoder semantics (which the processor's fit and decode go through).

The pipeline, per chunk a[H, D] in robot units:

  1. quantile normalisation (openpi): x = (a - q01) / (q99 - q01 + eps)*2 - 1,
     eps = 1e-6, no clipping;
  2. DCT-II, orthonormal, over time, per action dim (scipy.fft.dct, axis 0,
     norm="ortho");
  3. q = around(coef * scale) (numpy's round half to even), scale 10;
  4. flatten row-major: index k*D + d, i.e. all dims' frequency 0, then all
     dims' frequency 1, ...;
  5. each integer becomes one character, chr(q - min_token) (the
     processor clamps q - min_token at 0 first: np.maximum(..., 0));
  6. the string goes through a byte-level BPE (GPT-2 regex split, UTF-8
     bytes mapped to the byte-level alphabet, merges by rank): FAST ids;
  7. openpi maps each FAST id t into PaliGemma's vocabulary as
     vocab_size - 1 - 128 - t (the last 128 ids are special tokens and are
     skipped) and frames them as "Action: " + tokens + "|" + EOS.

Decoding inverts it: BPE ids -> byte-level decode (bytes, then UTF-8 with
replacement) -> ord(c) + min_token -> reshape(-1, D); if that is not
(H, D) the processor prints an error and returns ZEROS; else
idct(q / scale, axis 0, norm="ortho"), then un-normalise.

fit (the processor's classmethod) learns min_token = min(around(coef *
scale)) over a data set and trains the BPE with initial_alphabet =
chr(0..max-min), min_frequency 2, vocab_size, max_token_length 10000, no
special tokens. train_bpe below reproduces the trainer's order: alphabet
sorted by code point, then at each step the most frequent adjacent pair
(ties: the smallest (id, id) pair), merged left to right inside each word,
until the vocabulary is full or the best count is below min_frequency.

Run from the repository root:

    /usr/bin/python3 tokenizer/fast/testdata/fast_reference.py

It writes tokenizer.json (the BPE, in the Hugging Face tokenizer.json form
the real FAST tokenizer is saved in), processor_config.json and
golden.json next to itself. Deterministic for SEED.
"""
import heapq
import json
import os
import sys
import unicodedata

import numpy as np
from scipy.fft import dct, idct

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 0
SCALE = 10.0
VOCAB_SIZE = 1024
MIN_FREQUENCY = 2
MAX_TOKEN_LENGTH = 10000
NORM_EPS = 1e-6           # openpi's quantile normalisation
SHAPES = [(10, 7), (50, 7), (10, 32), (50, 32)]
TRAIN_PER_SHAPE = 150

# Where FAST ids land in a language model's vocabulary for the goldens:
# openpi's PaliGemma mapping, lm = 257152 - 1 - 128 - t.
PALIGEMMA_VOCAB = 257152
PALIGEMMA_SKIP = 128
LM_BASE = PALIGEMMA_VOCAB - 1 - PALIGEMMA_SKIP   # 257023, direction down
LM_END = 235371   # stands for PaliGemma's "|" (the id is illustrative)


# --- byte level -------------------------------------------------------------
def byte_level_alphabet():
    """GPT-2's byte -> character table: printable Latin-1 bytes map to
    themselves, the other 68 to U+0100 upwards in byte order."""
    printable = set(range(0x21, 0x7F)) | set(range(0xA1, 0xAD)) | set(range(0xAE, 0x100))
    table, n = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(0x100 + n)
            n += 1
    return table


BYTE_TO_CHAR = byte_level_alphabet()
CHAR_TO_BYTE = {c: b for b, c in BYTE_TO_CHAR.items()}

# Unicode White_Space (what Oniguruma's \s matches on Unicode text).
WHITE_SPACE = {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2028, 0x2029,
               0x202F, 0x205F, 0x3000} | set(range(0x2000, 0x200B))


def is_space(c):
    return ord(c) in WHITE_SPACE


def is_letter(c):
    return unicodedata.category(c)[0] == "L"


def is_number(c):
    return unicodedata.category(c)[0] == "N"


def is_other(c):
    return not (is_space(c) or is_letter(c) or is_number(c))


CONTRACTIONS = ("s", "t", "re", "ve", "m", "ll", "d")


def gpt2_split(s):
    """The ByteLevel pre-tokenizer's split (use_regex), the GPT-2 pattern
    's|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+
    matched leftmost-first at each position, written out by hand."""
    out, i, n = [], 0, len(s)
    while i < n:
        j = match_at(s, i)
        out.append(s[i:j])
        i = j
    return out


def match_at(s, i):
    n, c = len(s), s[i]
    if c == "'":
        for suf in CONTRACTIONS:
            if s.startswith(suf, i + 1):
                return i + 1 + len(suf)
    # " ?class+": the optional space is U+0020 only; a space is in none of
    # the classes, so without it the match would have to start at a class
    # character.
    j = i + 1 if c == " " else i
    for cls in (is_letter, is_number, is_other):
        k = j
        while k < n and cls(s[k]):
            k += 1
        if k > j:
            return k
    # \s+(?!\S) then \s+
    k = i
    while k < n and is_space(s[k]):
        k += 1
    if k == i:
        raise AssertionError("unreachable: every character is in some class")
    if k == n or k - 1 == i:
        return k
    return k - 1


def words_of(s):
    """Pre-tokenised words, each as its byte-level string."""
    return ["".join(BYTE_TO_CHAR[b] for b in w.encode("utf-8")) for w in gpt2_split(s)]


# --- BPE trainer (HF BpeTrainer's order) -------------------------------------
def train_bpe(texts, vocab_size, min_frequency, initial_alphabet):
    counts = {}
    for t in texts:
        for w in words_of(t):
            counts[w] = counts.get(w, 0) + 1
    alphabet = set(initial_alphabet)
    for w in counts:
        alphabet.update(w)
    id_to_tok = sorted(alphabet, key=ord)
    vocab = {t: i for i, t in enumerate(id_to_tok)}
    keys = sorted(counts)
    words = [[vocab[c] for c in w] for w in keys]
    freq = [counts[w] for w in keys]
    pair_counts, where = {}, {}
    for wi, w in enumerate(words):
        for p in zip(w, w[1:]):
            pair_counts[p] = pair_counts.get(p, 0) + freq[wi]
            where.setdefault(p, set()).add(wi)
    heap = [(-c, p) for p, c in pair_counts.items() if c > 0]
    heapq.heapify(heap)
    merges = []
    while len(vocab) < vocab_size and heap:
        negc, p = heapq.heappop(heap)
        c = pair_counts.get(p, 0)
        if -negc != c:
            if c > 0:
                heapq.heappush(heap, (-c, p))
            continue
        if c < min_frequency:
            break
        a, b = p
        new = id_to_tok[a] + id_to_tok[b]
        assert len(new) <= MAX_TOKEN_LENGTH
        nid = vocab.get(new)
        if nid is None:
            nid = len(id_to_tok)
            id_to_tok.append(new)
            vocab[new] = nid
        merges.append((id_to_tok[a], id_to_tok[b]))
        before = dict()
        for wi in sorted(where.pop(p, ())):
            w, f = words[wi], freq[wi]
            for q in zip(w, w[1:]):
                pair_counts[q] -= f
                before[q] = True
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                    out.append(nid)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            words[wi] = out
            for q in zip(out, out[1:]):
                pair_counts[q] = pair_counts.get(q, 0) + f
                where.setdefault(q, set()).add(wi)
                before[q] = True
        for q in before:
            if pair_counts.get(q, 0) > 0:
                heapq.heappush(heap, (-pair_counts[q], q))
    return vocab, merges


# --- BPE model ---------------------------------------------------------------
def bpe_word(word, vocab, ranks):
    """HF's BPE on one word: repeatedly merge the adjacent pair of lowest
    merge rank, the leftmost first."""
    sym = list(word)
    for ch in sym:
        if ch not in vocab:
            raise ValueError("byte-level character %r is not in the vocabulary" % ch)
    heap = []
    for i in range(len(sym) - 1):
        r = ranks.get((sym[i], sym[i + 1]))
        if r is not None:
            heap.append((r, i, sym[i], sym[i + 1]))
    heapq.heapify(heap)
    nxt = list(range(1, len(sym) + 1))
    prv = list(range(-1, len(sym) - 1))
    alive = [True] * len(sym)
    while heap:
        r, i, a, b = heapq.heappop(heap)
        if not alive[i] or sym[i] != a:
            continue
        j = nxt[i]
        if j >= len(sym) or sym[j] != b:
            continue
        sym[i] = a + b
        alive[j] = False
        nxt[i] = nxt[j]
        if nxt[j] < len(sym):
            prv[nxt[j]] = i
        if prv[i] >= 0:
            rr = ranks.get((sym[prv[i]], sym[i]))
            if rr is not None:
                heapq.heappush(heap, (rr, prv[i], sym[prv[i]], sym[i]))
        if nxt[i] < len(sym):
            rr = ranks.get((sym[i], sym[nxt[i]]))
            if rr is not None:
                heapq.heappush(heap, (rr, i, sym[i], sym[nxt[i]]))
    return [vocab[sym[i]] for i in range(len(sym)) if alive[i]]


def bpe_encode(s, vocab, ranks):
    ids = []
    for w in words_of(s):
        ids.extend(bpe_word(w, vocab, ranks))
    return ids


def bpe_decode(ids, id_to_tok):
    """HF's ByteLevel decoder: each token's characters back to bytes (a
    token with a character outside the byte-level alphabet contributes its
    own UTF-8 bytes), then UTF-8 with U+FFFD for invalid sequences."""
    out = bytearray()
    for i in ids:
        t = id_to_tok[i]
        if all(c in CHAR_TO_BYTE for c in t):
            out.extend(CHAR_TO_BYTE[c] for c in t)
        else:
            out.extend(t.encode("utf-8"))
    return out.decode("utf-8", errors="replace")


# --- normalisation, DCT ---------------------------------------------------------
def normalize(a, q01, q99, eps=NORM_EPS):
    return (a - q01) / (q99 - q01 + eps) * 2.0 - 1.0


def unnormalize(x, q01, q99, eps=NORM_EPS):
    return (x + 1.0) / 2.0 * (q99 - q01 + eps) + q01


class Processor:
    """The UniversalActionProcessor, as far as efferent needs it."""

    def __init__(self, vocab, merges, scale, min_token):
        self.vocab, self.scale, self.min_token = vocab, scale, min_token
        self.id_to_tok = [None] * len(vocab)
        for t, i in vocab.items():
            self.id_to_tok[i] = t
        self.ranks = {p: i for i, p in enumerate(merges)}
        self.merges = merges

    def encode_trace(self, x):
        """x: normalised chunk [H, D]."""
        coef = dct(x, axis=0, norm="ortho")
        q = np.around(coef * self.scale)
        chars = np.maximum(q.flatten() - self.min_token, 0).astype(int)
        s = "".join(map(chr, chars))
        ids = bpe_encode(s, self.vocab, self.ranks)
        return coef, q.astype(int), chars, ids

    def decode(self, ids, H, D):
        """Returns (normalised chunk, ok). ok is False where the processor
        prints an error and substitutes zeros."""
        try:
            s = bpe_decode(ids, self.id_to_tok)
            q = np.array(list(map(ord, s))) + self.min_token
            q = q.reshape(-1, D)
            assert q.shape == (H, D)
            ok = True
        except Exception:  # the processor's behaviour: zeros
            q, ok = np.zeros((H, D)), False
        return idct(q / self.scale, axis=0, norm="ortho"), ok


def fit(chunks, scale, vocab_size):
    coefs = [dct(a, axis=0, norm="ortho").flatten() for a in chunks]
    allq = np.around(np.concatenate(coefs) * scale)
    max_token, min_token = int(allq.max()), int(allq.min())
    assert max_token - min_token <= vocab_size
    texts = ["".join(map(chr, (np.around(c * scale) - min_token).astype(int))) for c in coefs]
    alphabet = [chr(i) for i in range(max_token - min_token + 1)]
    vocab, merges = train_bpe(texts, vocab_size, MIN_FREQUENCY, alphabet)
    return Processor(vocab, merges, scale, min_token), max_token


def tokenizer_json(p):
    """The Hugging Face tokenizer.json of a ByteLevelBPETokenizer, as
    PreTrainedTokenizerFast.save_pretrained writes the FAST tokenizer."""
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {
            "type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
            "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
            "vocab": p.vocab, "merges": [[a, b] for a, b in p.merges],
        },
    }


# --- synthetic action data -------------------------------------------------------
def unit_scales(D):
    """Robot units per dim: positions (m), rotations (rad), gripper (-1/1)."""
    if D == 7:
        return np.array([0.05, 0.05, 0.05, 0.2, 0.2, 0.2, 1.0])
    arm = [0.4, 0.4, 0.4, 0.6, 0.6, 0.6, 1.0]
    rest = [0.1] * 18
    return np.array(arm + arm + rest)


def gripper_dims(D):
    return [6] if D == 7 else [6, 13]


def synth_chunk(rng, H, D):
    """A smooth chunk in robot units: offsets, low-frequency sines and
    ramps, a little noise, grippers that switch at most once; some dims
    nearly still (their DCT is mostly zeros, as FAST expects)."""
    u = unit_scales(D)
    t = np.arange(H)[:, None] / 10.0                 # 10 steps per second-ish
    off = rng.uniform(-0.6, 0.6, D)
    amp = rng.uniform(0.0, 0.5, D) * (rng.uniform(size=D) < 0.7)
    freq = rng.uniform(0.05, 0.6, D)
    phase = rng.uniform(0, 2 * np.pi, D)
    ramp = rng.uniform(-0.4, 0.4, D) * (rng.uniform(size=D) < 0.5)
    x = off + amp * np.sin(2 * np.pi * freq * t + phase) + ramp * t / max(1.0, H / 10.0)
    x = x + rng.normal(0, 0.01, (H, D))
    for g in gripper_dims(D):
        level = rng.choice([-1.0, 1.0])
        switch = rng.integers(0, 2 * H)
        col = np.full(H, level)
        if switch < H:
            col[switch:] = -level
        x[:, g] = col
    return x * u


def stats(chunks):
    allv = np.concatenate(chunks, axis=0)
    return np.quantile(allv, 0.01, axis=0), np.quantile(allv, 0.99, axis=0)


# --- goldens --------------------------------------------------------------------
def half_margin(v):
    """Distance of v from the nearest x.5 (rounding ties)."""
    return float(np.min(np.abs(np.abs(v - np.floor(v)) - 0.5)))


def make_case(p, name, a, q01, q99, lm_base, lm_end, direction="down"):
    H, D = a.shape
    x = normalize(a, q01, q99)
    coef, q, chars, ids = p.encode_trace(x)
    margin = half_margin(coef * p.scale)
    assert margin > 1e-6, f"{name}: a coefficient is {margin} from a rounding tie"
    flat = q.flatten() - p.min_token
    assert flat.min() >= 0, f"{name}: a coefficient below min_token (the processor would clamp it)"
    sign = -1 if direction == "down" else 1
    lm = [lm_base + sign * t for t in ids] + [lm_end]
    xhat, ok = p.decode(ids, H, D)
    assert ok, name
    ahat = unnormalize(xhat, q01, q99)
    # The reconstruction error bound: each quantised coefficient is within
    # 0.5/scale of the true one; an orthonormal inverse DCT spreads that to
    # at most (0.5/scale) * sum_k |C[k, n]| at step n.
    err = np.abs(xhat - x)
    C = idct(np.eye(H), axis=0, norm="ortho")      # C[k, n]
    bound = 0.5 / p.scale * np.abs(C).sum(axis=0)[:, None]
    assert np.all(err <= bound + 1e-12), name
    return {
        "name": name, "horizon": H, "dim": D,
        "q01": q01.tolist(), "q99": q99.tolist(), "norm_eps": NORM_EPS,
        "actions": a.tolist(),
        "normalized": x.tolist(),
        "dct": coef.tolist(),
        "quantized": q.flatten().tolist(),
        "chars": flat.tolist(),
        "bpe_ids": ids,
        "lm_tokens": lm,
        "decoded_normalized": xhat.tolist(),
        "decoded_actions": ahat.tolist(),
        "round_margin": margin,
        "max_abs_error_normalized": float(err.max()),
    }


def main():
    rng = np.random.default_rng(SEED)
    train, held = {}, {}
    for H, D in SHAPES:
        train[(H, D)] = [synth_chunk(rng, H, D) for _ in range(TRAIN_PER_SHAPE)]
        held[(H, D)] = [synth_chunk(rng, H, D) for _ in range(8)]
    # One normalisation per robot (D), from its training chunks of every H.
    norm = {}
    for D in sorted({d for _, d in SHAPES}):
        chunks = [c for (h, d), cs in train.items() if d == D for c in cs]
        norm[D] = stats(chunks)
    data = [normalize(c, *norm[D]) for (H, D), cs in train.items() for c in cs]
    p, max_token = fit(data, SCALE, VOCAB_SIZE)
    print("min_token", p.min_token, "max_token", max_token, "vocab", len(p.vocab), "merges", len(p.merges))

    with open(os.path.join(HERE, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer_json(p), f, ensure_ascii=False)
    with open(os.path.join(HERE, "processor_config.json"), "w") as f:
        json.dump({"action_dim": None, "auto_map": {"AutoProcessor": "processing_action_tokenizer.UniversalActionProcessor"},
                   "min_token": p.min_token, "processor_class": "UniversalActionProcessor", "scale": SCALE,
                   "time_horizon": None, "vocab_size": VOCAB_SIZE}, f, indent=2)

    cases = []
    for H, D in SHAPES:
        q01, q99 = norm[D]
        n = 0
        for i, a in enumerate(held[(H, D)]):
            try:
                cases.append(make_case(p, f"H{H}xD{D}#{i}", a, q01, q99, LM_BASE, LM_END))
            except (AssertionError, ValueError) as e:
                print("skip", f"H{H}xD{D}#{i}", e)
                continue
            n += 1
            if n == 2:
                break
        assert n == 2, (H, D)

    # Sequences the processor cannot reshape to (H, D): it returns zeros;
    # efferent refuses them.
    c0 = cases[0]
    H, D = c0["horizon"], c0["dim"]
    ids = c0["bpe_ids"]
    refused = []

    def refuse(name, bad):
        _, ok = p.decode(bad, H, D)
        assert not ok, name
        refused.append({"name": name, "horizon": H, "dim": D, "bpe_ids": bad,
                        "lm_tokens": [LM_BASE - t for t in bad] + [LM_END], "reference": "zeros"})

    refuse("last token dropped", ids[:-1])
    refuse("first token dropped", ids[1:])
    refuse("token repeated", ids + ids[-1:])
    refuse("empty", [])
    # A token whose bytes end inside a UTF-8 character, alone: the
    # replacement character makes the count (or the values) wrong.
    lead = [i for i, t in enumerate(p.id_to_tok) if t and CHAR_TO_BYTE.get(t[-1], 0) >= 0xC2 and CHAR_TO_BYTE.get(t[-1], 0) < 0xF0
            and all(c in CHAR_TO_BYTE for c in t)]
    if lead:
        refuse("dangling UTF-8 lead byte", ids[:-1] + [lead[0]])

    # Coefficient strings straight into the BPE: mostly near zero, some
    # anywhere in the alphabet (spaces, digits, punctuation, controls,
    # apostrophes: the GPT-2 split's corners).
    import random
    rnd = random.Random(SEED)
    strings, unrepresentable = [], []
    alpha = max_token - p.min_token
    while len(strings) < 200:
        n = rnd.randint(1, 80)
        chars = [min(alpha, max(0, -p.min_token + int(rnd.gauss(0, 3)))) if rnd.random() < 0.7 else rnd.randint(0, alpha)
                 for _ in range(n)]
        s = "".join(map(chr, chars))
        try:
            strings.append({"chars": chars, "bpe_ids": bpe_encode(s, p.vocab, p.ranks)})
        except ValueError:
            if len(unrepresentable) < 10:
                unrepresentable.append({"chars": chars})

    golden = {
        "bpe_strings": strings,
        "bpe_unrepresentable": unrepresentable,
        "about": "FAST reference outputs (tokenizer/fast/testdata/fast_reference.py, numpy + scipy)",
        "seed": SEED,
        "scale": SCALE, "min_token": p.min_token, "max_token": max_token, "vocab_size": len(p.vocab),
        "lm_base": LM_BASE, "lm_direction": "down", "lm_end": LM_END,
        "norm_eps": NORM_EPS,
        "numpy": np.__version__, "scipy": __import__("scipy").__version__,
        "cases": cases,
        "refused": refused,
    }
    with open(os.path.join(HERE, "golden.json"), "w") as f:
        json.dump(golden, f)
    for c in cases:
        print("%-12s %4d coefficients -> %3d FAST tokens, max |err| %.4f (normalised), round margin %.2g"
              % (c["name"], c["horizon"] * c["dim"], len(c["bpe_ids"]), c["max_abs_error_normalized"], c["round_margin"]))
    for r in refused:
        print("refused:", r["name"], len(r["bpe_ids"]), "tokens")


if __name__ == "__main__":
    sys.exit(main())
