// hf_crosscheck.mjs checks the reference's BPE against Hugging Face's own
// tokenizer code: it loads testdata/tokenizer.json with the npm package
// @huggingface/tokenizers@0.2.0 (tokenizers.js, the pure-JS port used by
// transformers.js; the Rust library is not installable here) and compares,
// for every golden chunk and every string of golden.json's bpe_strings,
// the ids of encode (no special tokens) and the string of decode with
// what fast_reference.py computed. The Go tests only read golden.json;
// node is needed only for this check:
//
//   mkdir -p /tmp/tokref && cd /tmp/tokref && npm init -y && npm install @huggingface/tokenizers@0.2.0
//   cd <repo>/tokenizer/fast/testdata && TOKREF=/tmp/tokref node hf_crosscheck.mjs

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const dir = process.env.TOKREF ?? "/tmp/tokref";
const { Tokenizer } = createRequire(join(dir, "package.json"))("@huggingface/tokenizers");
const tok = new Tokenizer(JSON.parse(readFileSync("tokenizer.json", "utf8")), {});
const g = JSON.parse(readFileSync("golden.json", "utf8"));
let n = 0, bad = 0;
for (const c of [...g.cases, ...g.bpe_strings]) {
  const s = String.fromCodePoint(...c.chars);
  const ids = Array.from(tok.encode(s, { add_special_tokens: false }).ids);
  const dec = tok.decode(c.bpe_ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
  n++;
  if (JSON.stringify(ids) !== JSON.stringify(c.bpe_ids) || dec !== s) {
    bad++;
    console.log("DIFF", c.name ?? JSON.stringify(c.chars), ids, c.bpe_ids);
  }
}
console.log(`${n - bad}/${n} sequences: tokenizers.js encodes and decodes as fast_reference.py`);
process.exit(bad ? 1 : 0);
