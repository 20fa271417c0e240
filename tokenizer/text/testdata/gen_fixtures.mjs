// gen_fixtures.mjs writes the four small tokenizer.json fixtures in this
// directory. No real model can be downloaded here, so each is built from a
// short corpus of robot instructions: the two BPE fixtures learn their
// merges with a tiny BPE trainer (so the merges fire on the test sentences),
// the WordPiece and WordLevel vocabularies are picked from the same corpus.
//
// Plain Node, no packages:   cd tokenizer/text/testdata && node gen_fixtures.mjs
//
// The output is deterministic; the fixtures are committed, so the Go tests
// never run this. After changing it, regenerate golden.json (gen_golden.mjs).

import { writeFileSync } from "node:fs";

const CORPUS = `put the red block in the blue bowl
pick up the green cup and place it on the plate
put the blue block on the red block
move the arm to the left, then stop.
move the arm to the right and open the gripper
open the top drawer and put the cup in the drawer
close the drawer slowly
stack the blocks on the plate
push the plate to the left
pick up the red cup and put it in the bowl
place the green block next to the blue bowl
rotate the gripper 90 degrees and grasp the handle
it's the robot's cup; don't drop it!
wipe the table with the towel
put the towel in the top drawer
turn the knob to the right then push the button
put the spoon in the bowl and the fork on the plate
pick the block up, then put it down gently.
move 10 cm forward and 5 cm to the left
open the door and close it again
the robot picks up the blocks and places them in the bowl
slide the plate to the right slowly`.split("\n");

// GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to
// U+0100 upwards. The order is GPT-2's, which gives the byte tokens ids 0-255.
function byteChars() {
  const bs = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const map = {};
  bs.forEach((b, i) => (map[b] = String.fromCodePoint(cs[i])));
  return { order: bs.map((b) => map[b]), map };
}

// trainBPE learns n merges over words (arrays of symbols): the most frequent
// adjacent pair each round, ties broken by the pair's text so the output is
// stable.
function trainBPE(words, n) {
  const counts = new Map();
  for (const w of words) counts.set(w.join("\u0000"), (counts.get(w.join("\u0000")) ?? 0) + 1);
  let entries = [...counts].map(([k, c]) => [k.split("\u0000"), c]);
  const merges = [];
  for (let round = 0; round < n; round++) {
    const pairs = new Map();
    for (const [syms, c] of entries) {
      for (let i = 0; i + 1 < syms.length; i++) {
        const key = syms[i] + "\u0000" + syms[i + 1];
        pairs.set(key, (pairs.get(key) ?? 0) + c);
      }
    }
    let best = null;
    for (const [k, c] of pairs) {
      if (best === null || c > best[1] || (c === best[1] && k < best[0])) best = [k, c];
    }
    if (best === null || best[1] < 2) break;
    const [a, b] = best[0].split("\u0000");
    merges.push([a, b]);
    entries = entries.map(([syms, c]) => {
      const out = [];
      for (let i = 0; i < syms.length; i++) {
        if (i + 1 < syms.length && syms[i] === a && syms[i + 1] === b) {
          out.push(a + b);
          i++;
        } else out.push(syms[i]);
      }
      return [out, c];
    });
  }
  return merges;
}

const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

function write(name, obj) {
  writeFileSync(new URL(name, import.meta.url), JSON.stringify(obj, null, 1) + "\n");
}

function addedToken(id, content, opts = {}) {
  return {
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
    ...opts,
  };
}

// (a) GPT-2 style byte-level BPE; merges as "a b" strings; a Llama-3 style
// post-processor (ByteLevel, then a template that prepends <|bos|>).
function bytelevel() {
  const { order, map } = byteChars();
  const enc = new TextEncoder();
  const words = CORPUS.flatMap((line) =>
    (line.match(GPT2_SPLIT) ?? []).map((w) => Array.from(enc.encode(w), (b) => map[b])),
  );
  const merges = trainBPE(words, 160);
  const vocab = {};
  order.forEach((c, i) => (vocab[c] = i));
  for (const [a, b] of merges) vocab[a + b] ??= Object.keys(vocab).length;
  const n = Object.keys(vocab).length;
  write("bytelevel_bpe.json", {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [
      addedToken(n, "<|endoftext|>", { normalized: true }),
      addedToken(n + 1, "<|bos|>"),
    ],
    normalizer: null,
    pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: {
      type: "Sequence",
      processors: [
        { type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true },
        {
          type: "TemplateProcessing",
          single: [{ SpecialToken: { id: "<|bos|>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
          pair: [{ Sequence: { id: "A", type_id: 0 } }, { Sequence: { id: "B", type_id: 1 } }],
          special_tokens: { "<|bos|>": { id: "<|bos|>", ids: [n + 1], tokens: ["<|bos|>"] } },
        },
      ],
    },
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: "",
      end_of_word_suffix: "",
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: merges.map(([a, b]) => `${a} ${b}`),
    },
  });
}

// (b) BERT-style uncased WordPiece: BertNormalizer (lowercase, accents
// stripped by default), BertPreTokenizer, [CLS] $A [SEP] template, and a
// user-added, normalised token [OBJ] (matched after lowercasing, as
// tokenizer.add_tokens makes it).
function wordpiece() {
  const specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
  const vocab = {};
  const add = (t) => (vocab[t] ??= Object.keys(vocab).length);
  specials.forEach(add);
  const chars = "abcdefghijklmnopqrstuvwxyz0123456789";
  for (const c of chars) add(c);
  for (const c of "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") add(c);
  for (const c of chars) add("##" + c);
  // Whole words seen at least twice; "blocks", "slowly", "gripper" and
  // "drawer" are left out so they split into pieces.
  const freq = new Map();
  for (const line of CORPUS)
    for (const w of line.toLowerCase().match(/[a-z]+/g) ?? []) freq.set(w, (freq.get(w) ?? 0) + 1);
  const skip = new Set(["blocks", "slowly", "gripper", "drawer"]);
  [...freq]
    .filter(([w, c]) => c >= 2 && !skip.has(w))
    .map(([w]) => w)
    .sort()
    .forEach(add);
  ["slow", "grip", "draw", "##s", "##ly", "##per", "##er", "##ing", "##ed", "robot", "cafe", "obj"].forEach(add);
  const n = Object.keys(vocab).length;
  write("wordpiece_bert.json", {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [
      ...specials.map((s) => addedToken(vocab[s], s)),
      addedToken(n, "[OBJ]", { special: false, normalized: true }),
    ],
    normalizer: { type: "BertNormalizer", clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: "BertPreTokenizer" },
    post_processor: {
      type: "TemplateProcessing",
      single: [
        { SpecialToken: { id: "[CLS]", type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: "[SEP]", type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: "[CLS]", type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: "[SEP]", type_id: 0 } },
        { Sequence: { id: "B", type_id: 1 } },
        { SpecialToken: { id: "[SEP]", type_id: 1 } },
      ],
      special_tokens: {
        "[CLS]": { id: "[CLS]", ids: [vocab["[CLS]"]], tokens: ["[CLS]"] },
        "[SEP]": { id: "[SEP]", ids: [vocab["[SEP]"]], tokens: ["[SEP]"] },
      },
    },
    decoder: { type: "WordPiece", prefix: "##", cleanup: true },
    model: { type: "WordPiece", unk_token: "[UNK]", continuing_subword_prefix: "##", max_input_chars_per_word: 100, vocab },
  });
}

// (c) WordLevel with the Whitespace pre-tokenizer. The normalizer strips
// "- "/"* " bullets at line starts (Oniguruma's ^ is a line anchor, its \s
// Unicode), masks digit runs (\d is Unicode too), then lowercases without
// stripping accents, so non-ASCII text is tokenized rather than refused;
// BertProcessing adds [CLS]/[SEP]. "i̇stanbul" is there because Unicode
// lowercases İ to i + U+0307.
function wordlevel() {
  const vocab = {};
  const add = (t) => (vocab[t] ??= Object.keys(vocab).length);
  ["[PAD]", "[UNK]", "[CLS]", "[SEP]"].forEach(add);
  const words = new Set();
  for (const line of CORPUS) for (const w of line.toLowerCase().match(/\w+|[^\w\s]+/g) ?? []) words.add(w);
  // Rare words stay out so [UNK] is exercised.
  for (const w of ["towel", "spoon", "fork", "knob", "gently"]) words.delete(w);
  [...words].sort().forEach(add);
  ["0", "café", "碗", "line", "one", "two", "done", "👍", "🤖", "i\u0307stanbul"].forEach(add);
  write("wordlevel_whitespace.json", {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: ["[PAD]", "[UNK]", "[CLS]", "[SEP]"].map((s) => addedToken(vocab[s], s)),
    normalizer: {
      type: "Sequence",
      normalizers: [
        { type: "Replace", pattern: { Regex: "^\\s*[-*]\\s+" }, content: "" },
        { type: "Replace", pattern: { Regex: "\\d+" }, content: "0" },
        { type: "BertNormalizer", clean_text: true, handle_chinese_chars: true, strip_accents: false, lowercase: true },
      ],
    },
    pre_tokenizer: { type: "Whitespace" },
    post_processor: { type: "BertProcessing", sep: ["[SEP]", vocab["[SEP]"]], cls: ["[CLS]", vocab["[CLS]"]] },
    decoder: null,
    model: { type: "WordLevel", vocab, unk_token: "[UNK]" },
  });
}

// (d) Llama-3/Mistral style SentencePiece BPE: Metaspace (prepend "first",
// split), byte fallback, <unk>/<s>/</s> specials, merges as [a, b] pairs,
// and a non-special added token <obj> that eats the spaces around it.
function metaspace() {
  const vocab = { "<unk>": 0, "<s>": 1, "</s>": 2 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`] = 3 + b;
  // The characters of the corpus, as SentencePiece keeps them; "!" and
  // digits other than 0, 1, 5 and 9 are dropped so ASCII byte fallback fires.
  const words = CORPUS.flatMap((line) => line.split(" ").map((w) => ["\u2581", ...w]));
  const chars = new Set(words.flat());
  for (const c of "!2346789") chars.delete(c);
  [...chars].sort().forEach((c) => (vocab[c] ??= Object.keys(vocab).length));
  const known = words.map((w) => w.filter((c) => chars.has(c)));
  const merges = trainBPE(known, 120);
  for (const [a, b] of merges) vocab[a + b] ??= Object.keys(vocab).length;
  const n = Object.keys(vocab).length;
  write("metaspace_bpe.json", {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [
      addedToken(0, "<unk>"),
      addedToken(1, "<s>"),
      addedToken(2, "</s>"),
      addedToken(n, "<obj>", { special: false, lstrip: true, rstrip: true }),
    ],
    normalizer: null,
    pre_tokenizer: { type: "Metaspace", replacement: "\u2581", prepend_scheme: "first", split: true },
    post_processor: {
      type: "TemplateProcessing",
      single: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
      pair: [
        { SpecialToken: { id: "<s>", type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: "<s>", type_id: 1 } },
        { Sequence: { id: "B", type_id: 1 } },
      ],
      special_tokens: { "<s>": { id: "<s>", ids: [1], tokens: ["<s>"] } },
    },
    decoder: {
      type: "Sequence",
      decoders: [
        { type: "Replace", pattern: { String: "\u2581" }, content: " " },
        { type: "ByteFallback" },
        { type: "Fuse" },
        { type: "Strip", content: " ", start: 1, stop: 0 },
      ],
    },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: "<unk>",
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab,
      merges,
    },
  });
}

bytelevel();
wordpiece();
wordlevel();
metaspace();
