// gen_golden.mjs writes golden.json: for every fixture and every sentence
// below, the ids Hugging Face's own JS tokenizer computes (with and without
// special tokens), its tokens and its decode. The Go tests only read
// golden.json; node is needed only to regenerate it.
//
// Reference: npm package @huggingface/tokenizers@0.2.0 (tokenizers.js, the
// pure-JS port used by transformers.js), installed outside the repository:
//
//   mkdir -p /tmp/tokref && cd /tmp/tokref && npm init -y && npm install @huggingface/tokenizers@0.2.0
//   cd <repo>/tokenizer/text/testdata && TOKREF=/tmp/tokref node gen_golden.mjs
//
// The JS port is checked against the Rust library that trained models use
// (huggingface/tokenizers, tokenizers/src). Where the two differ on what our
// fixtures exercise, the fixtures avoid the difference (asserted below) or
// the reference is patched to the Rust behaviour (patchRustSemantics), so
// that golden.json holds what, by that reading, the Rust library computes.

import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const VERSION = "0.2.0";
const dir = process.env.TOKREF ?? "/tmp/tokref";
const req = createRequire(join(dir, "package.json"));
const pkg = JSON.parse(readFileSync(join(dir, "node_modules/@huggingface/tokenizers/package.json"), "utf8"));
if (pkg.version !== VERSION) throw new Error(`want @huggingface/tokenizers@${VERSION}, found ${pkg.version}`);
const { Tokenizer } = req("@huggingface/tokenizers");

// Fixture paths are relative to the Go package directory (tokenizer/text).
// config is the tokenizer_config.json the JS port also wants; it only reads
// unk_token from it for a WordLevel model (which it runs as "Legacy").
const FIXTURES = [
  { path: "testdata/bytelevel_bpe.json", config: {} },
  { path: "testdata/wordpiece_bert.json", config: {} },
  { path: "testdata/wordlevel_whitespace.json", config: { unk_token: "[UNK]" } },
  { path: "testdata/metaspace_bpe.json", config: {} },
  // The bundled model's Llama-2 style tokenizer (Prepend + Replace).
  { path: "../../models/efferent-fixture/tokenizer.json", config: {} },
];

// One table for the golden test and the benchmark: [name, text].
const SENTENCES = [
  ["robot", "put the red block in the blue bowl"],
  ["robot_long", "pick up the green cup and place it on the plate, then push the plate to the left"],
  ["punct", "move the arm to the left, then stop."],
  ["contractions", "it's the robot's cup; don't drop it!"],
  ["digits", "rotate 90 degrees and move 12.5 cm"],
  ["symbols", "go to x=0.25, y=-1.5 (fast) #3 @home"],
  ["quotes", 'say "hello" -- then \'wave\''],
  ["multi_space", "close the drawer   slowly"],
  ["lead_trail", "  stack the blocks  "],
  ["spaces_only", "   "],
  ["newline_tab", "line one\nline two\tdone"],
  ["bullets", "- pick the cup\n* place it\n\u00a0-\u2003wipe it"],
  ["upper", "PUT THE RED BLOCK IN THE BLUE BOWL"],
  ["mixed_case", "Pick Up The Cup"],
  ["cafe", "push the plate to the left, café!"],
  ["emoji", "wipe the table 🤖👍"],
  ["zwj_emoji", "hand the 👩‍🔧 a wrench"],
  ["cjk", "把红色方块放进碗里"],
  ["nbsp", "open\u00a0the door"],
  ["zero_width", "pick\u200bup the cup\u00ad now"],
  ["unicode_numbers", "pour ½cup into the x² bowl"],
  ["arabic_digit", "move ٣ cm"],
  ["dotted_i", "İstanbul"],
  ["long_word", "supercalifragilisticexpialidocious"],
  ["empty", ""],
  ["added_llama", "<s>put the block</s>"],
  ["added_obj", "pick up the <obj> and place it"],
  ["added_obj_tight", "pick up the<obj>and place it"],
  ["added_obj_edges", " <obj>  <obj><obj> near the bowl <obj>"],
  ["added_bert", "[CLS] grab the [MASK] [SEP]"],
  ["added_bert_norm", "move [OBJ] and [obj] left"],
  ["added_gpt", "stop now<|endoftext|>start again<|bos|>"],
];

// patchRustSemantics replaces parts of the JS port that differ from the
// Rust library on inputs in SENTENCES.
function patchRustSemantics(tok) {
  const pre = tok.pre_tokenizer;
  if (pre?.constructor?.name === "Whitespace") {
    // tokenizers.js matches \w+|[^\w\s]+ without the u flag, so \w is ASCII
    // and "café" splits; the Rust library compiles it with the regex crate,
    // whose \w is Unicode: Alphabetic, M, Nd, Pc, Join_Control.
    const w = "\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\p{Join_Control}";
    const re = new RegExp(`[${w}]+|[^${w}\\p{White_Space}]+`, "gu");
    pre.pre_tokenize_text = (text) => text.match(re) ?? [];
  }
}

// checkInvariants asserts what makes the JS port agree with Rust on a
// fixture: JS's Metaspace never splits the word at "▁" (Rust splits before
// each), which only matters if a merge can join across a "▁"; JS applies
// byte fallback after the merges (Rust before), which only matters if a
// merge involves a byte token; JS ignores single_word.
function checkInvariants(path, json) {
  const merges = (json.model.merges ?? []).map((m) => (Array.isArray(m) ? m : m.split(" ")));
  for (const [a, b] of merges) {
    if (b.startsWith("\u2581")) throw new Error(`${path}: merge ${a} ${b} joins across ▁`);
    if (/^<0x[0-9A-F]{2}>$/.test(a) || /^<0x[0-9A-F]{2}>$/.test(b)) throw new Error(`${path}: merge on a byte token`);
  }
  for (const t of json.added_tokens) if (t.single_word) throw new Error(`${path}: ${t.content} is single_word`);
}

const pkgDir = new URL("../", import.meta.url); // tokenizer/text/
const fixtures = [];
for (const { path, config } of FIXTURES) {
  const json = JSON.parse(readFileSync(new URL(path, pkgDir), "utf8"));
  checkInvariants(path, json);
  const tok = new Tokenizer(json, config);
  patchRustSemantics(tok);
  const cases = SENTENCES.map(([name, text]) => {
    const plain = tok.encode(text, { add_special_tokens: false });
    const special = tok.encode(text, { add_special_tokens: true });
    const decoded =
      plain.ids.length === 0 ? "" : tok.decode(plain.ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
    return { name, text, ids: plain.ids, tokens: plain.tokens, ids_special: special.ids, decoded };
  });
  fixtures.push({ path, cases });
}

// One line per case, so a regenerated file diffs case by case.
const body = fixtures
  .map((f) => `  {"path": ${JSON.stringify(f.path)}, "cases": [\n${f.cases.map((c) => "    " + JSON.stringify(c)).join(",\n")}\n  ]}`)
  .join(",\n");
const out = `{"reference": ${JSON.stringify(`@huggingface/tokenizers@${VERSION}`)}, "fixtures": [\n${body}\n]}\n`;
JSON.parse(out);
writeFileSync(new URL("golden.json", import.meta.url), out);
console.log(`golden.json: ${fixtures.length} fixtures x ${SENTENCES.length} sentences`);
