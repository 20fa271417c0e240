// gen_unigram_fixture.mjs trains two small SentencePiece unigram models on
// a deterministic robot-instruction corpus with Debian's sentencepiece
// (spm_train 0.1.97: apt-get install sentencepiece) and converts each to a
// tokenizer.json as Hugging Face's converters (transformers'
// convert_slow_tokenizer) lay one out, into testdata/real/:
//
//   - unigram_t5style.json: T5's layout on the Hub: the nmt_nfkc
//     precompiled charsmap, Replace(" {2,}", " "), WhitespaceSplit then
//     Metaspace, unk for uncovered characters, "$A </s>", Metaspace decoder;
//   - unigram_bytefallback.json: the newer SpmConverter layout with
//     byte_fallback: the nmt_nfkc_cf charsmap (case folding), Strip(right),
//     Replace(" {2,}", "▁"), Metaspace, byte tokens, "<s> $A", a
//     Replace/ByteFallback/Fuse/Strip decoder.
//
// No real Unigram tokenizer.json was found on the npm registry (T5's and
// SigLIP's are not published there), so these stand in: real SentencePiece
// models and real precompiled charsmaps, trained here, small. The files
// are efferent's (Apache-2.0). gen_real_golden.mjs then writes their
// goldens with the Rust library, like the npm ones.
//
//   cd <repo>/tokenizer/text/testdata && node gen_unigram_fixture.mjs

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const here = new URL("./", import.meta.url);

function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = rng(1234);
const pick = (a) => a[Math.floor(rand() * a.length)];

const VERBS = ["pick up", "put", "place", "push", "open", "close", "turn on", "move", "stack", "wipe", "Pick up", "Put", "Open"];
const THINGS = ["the black bowl", "the plate", "the ramekin", "the cookie box", "the wooden cabinet", "the top drawer", "the stove", "the moka pot", "the white mug", "the basket", "the alphabet soup", "the cream cheese", "the ketchup", "the wine bottle", "the microwave", "the caddy", "the book", "la tasse", "le bol", "die Flasche", "das Regal", "el tazón", "café crème", "naïve robot"];
const PREPS = ["on", "in", "next to", "between", "on top of", "into", "behind", "to the left of", "in front of"];
const EXTRA = ["", "", "", " slowly", " carefully", " and close it", " then stop.", ", please!", " 12 cm", " 3 times", " (fast)", " #2", " — now", " 90°", " x=0.5"];

const lines = [];
for (let i = 0; i < 4000; i++) lines.push(`${pick(VERBS)} ${pick(THINGS)} ${pick(PREPS)} ${pick(THINGS)}${pick(EXTRA)}`);
// Pseudo-words, so the vocabulary has pieces of many lengths that overlap.
const SYL = ["ka", "ro", "bo", "ti", "ne", "sa", "lu", "mi", "pe", "do", "qu", "ar", "en", "st", "th", "ing", "er", "on", "é", "ü", "ß", "ø"];
for (let i = 0; i < 3000; i++) {
  const words = [];
  for (let w = 0; w < 1 + Math.floor(rand() * 8); w++) {
    let word = "";
    for (let k = 0; k < 1 + Math.floor(rand() * 4); k++) word += pick(SYL);
    words.push(rand() < 0.2 ? word.toUpperCase() : word);
  }
  lines.push(words.join(" "));
}
lines.push("把红色方块放进碗里", "ロボット", "빨간 블록", "ＦＵＬＬ ｗｉｄｔｈ ①②③", "ﬁnd ﬂask");

// ---------------------------------------------------------- protobuf (proto2)

function* fields(buf) {
  let i = 0;
  const varint = () => {
    let v = 0n, s = 0n;
    for (;;) {
      const b = buf[i++];
      v |= BigInt(b & 0x7f) << s;
      if (!(b & 0x80)) return v;
      s += 7n;
    }
  };
  while (i < buf.length) {
    const key = Number(varint());
    const field = key >> 3, wire = key & 7;
    if (wire === 0) yield [field, varint()];
    else if (wire === 1) { yield [field, buf.subarray(i, i + 8)]; i += 8; }
    else if (wire === 2) { const n = Number(varint()); yield [field, buf.subarray(i, i + n)]; i += n; }
    else if (wire === 5) { yield [field, buf.subarray(i, i + 4)]; i += 4; }
    else throw new Error(`wire type ${wire}`);
  }
}

function readModel(buf) {
  const m = { pieces: [], trainer: {}, normalizer: {} };
  for (const [f, v] of fields(buf)) {
    if (f === 1) {
      const p = { piece: "", score: 0, type: 1 };
      for (const [g, w] of fields(v)) {
        if (g === 1) p.piece = Buffer.from(w).toString("utf8");
        else if (g === 2) p.score = Buffer.from(w).readFloatLE(0);
        else if (g === 3) p.type = Number(w);
      }
      m.pieces.push(p);
    } else if (f === 2) {
      for (const [g, w] of fields(v)) {
        if (g === 40) m.trainer.unk_id = Number(w);
        else if (g === 35) m.trainer.byte_fallback = w === 1n;
      }
    } else if (f === 3) {
      for (const [g, w] of fields(v)) {
        if (g === 1) m.normalizer.name = Buffer.from(w).toString("utf8");
        else if (g === 2) m.normalizer.charsmap = Buffer.from(w);
        else if (g === 3) m.normalizer.add_dummy_prefix = w === 1n;
      }
    }
  }
  m.trainer.unk_id ??= 0;
  m.normalizer.add_dummy_prefix ??= true;
  return m;
}

// ------------------------------------------------------------------ train

const work = mkdtempSync(join(tmpdir(), "spm-"));
writeFileSync(join(work, "corpus.txt"), lines.join("\n") + "\n");

function train(name, args) {
  execFileSync("spm_train", [
    `--input=${join(work, "corpus.txt")}`, `--model_prefix=${join(work, name)}`, "--model_type=unigram",
    "--vocab_size=1500", "--hard_vocab_limit=false", "--seed_sentencepiece_size=20000", "--num_threads=1",
    "--minloglevel=2", ...args,
  ], { stdio: "inherit" });
  return readModel(readFileSync(join(work, name + ".model")));
}

const added = (pieces) =>
  pieces.flatMap((p, id) => (p.type === 2 || p.type === 3 ? [{ id, content: p.piece, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }] : []));

// T5's layout on the Hub (t5-small's tokenizer.json).
const t5 = train("t5style", ["--normalization_rule_name=nmt_nfkc", "--character_coverage=0.995", "--pad_id=0", "--eos_id=1", "--unk_id=2", "--bos_id=-1"]);
const t5json = {
  version: "1.0",
  truncation: null,
  padding: null,
  added_tokens: added(t5.pieces),
  normalizer: {
    type: "Sequence",
    normalizers: [
      { type: "Precompiled", precompiled_charsmap: t5.normalizer.charsmap.toString("base64") },
      { type: "Replace", pattern: { Regex: " {2,}" }, content: " " },
    ],
  },
  pre_tokenizer: {
    type: "Sequence",
    pretokenizers: [{ type: "WhitespaceSplit" }, { type: "Metaspace", replacement: "▁", add_prefix_space: true, prepend_scheme: "always" }],
  },
  post_processor: {
    type: "TemplateProcessing",
    single: [{ Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "</s>", type_id: 0 } }],
    pair: [{ Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "</s>", type_id: 0 } }, { Sequence: { id: "B", type_id: 0 } }, { SpecialToken: { id: "</s>", type_id: 0 } }],
    special_tokens: { "</s>": { id: "</s>", ids: [1], tokens: ["</s>"] } },
  },
  decoder: { type: "Metaspace", replacement: "▁", add_prefix_space: true, prepend_scheme: "always" },
  model: { type: "Unigram", unk_id: t5.trainer.unk_id, vocab: t5.pieces.map((p) => [p.piece, p.score]), byte_fallback: false },
};

// SpmConverter's newer layout, with byte fallback.
const bf = train("bytefallback", ["--normalization_rule_name=nmt_nfkc_cf", "--character_coverage=0.99", "--byte_fallback=true", "--unk_id=0", "--bos_id=1", "--eos_id=2"]);
const bfjson = {
  version: "1.0",
  truncation: null,
  padding: null,
  added_tokens: added(bf.pieces),
  normalizer: {
    type: "Sequence",
    normalizers: [
      { type: "Precompiled", precompiled_charsmap: bf.normalizer.charsmap.toString("base64") },
      { type: "Strip", strip_left: false, strip_right: true },
      { type: "Replace", pattern: { Regex: " {2,}" }, content: "▁" },
    ],
  },
  pre_tokenizer: { type: "Metaspace", replacement: "▁", prepend_scheme: "always", split: true },
  post_processor: {
    type: "TemplateProcessing",
    single: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
    pair: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { Sequence: { id: "B", type_id: 1 } }],
    special_tokens: { "<s>": { id: "<s>", ids: [1], tokens: ["<s>"] } },
  },
  decoder: {
    type: "Sequence",
    decoders: [
      { type: "Replace", pattern: { String: "▁" }, content: " " },
      { type: "ByteFallback" },
      { type: "Fuse" },
      { type: "Strip", content: " ", start: 1, stop: 0 },
    ],
  },
  model: { type: "Unigram", unk_id: bf.trainer.unk_id, vocab: bf.pieces.map((p) => [p.piece, p.score]), byte_fallback: true },
};

writeFileSync(new URL("real/unigram_t5style.json", here), JSON.stringify(t5json) + "\n");
writeFileSync(new URL("real/unigram_bytefallback.json", here), JSON.stringify(bfjson) + "\n");
console.log(`unigram_t5style.json: ${t5.pieces.length} pieces; unigram_bytefallback.json: ${bf.pieces.length} pieces`);
rmSync(work, { recursive: true });
