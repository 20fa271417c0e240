// ref_tokenize.mjs: the reference encoding of prompts for build.py.
// stdin: {"tokenizer": PATH, "config": PATH, "texts": [...]}; stdout: one
// array of ids per text (with the tokenizer's special tokens, as
// add_special: true), as JSON.
//
// Reference: tokenizers.js, npm @huggingface/tokenizers@0.2.0 (the pure-JS
// port of Hugging Face tokenizers that tokenizer/text/testdata/gen_golden.mjs
// also uses), installed by build.py outside the repository; TOKREF names
// that directory.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

const VERSION = "0.2.0";
const dir = process.env.TOKREF;
if (!dir) throw new Error("TOKREF is not set");
const req = createRequire(join(dir, "package.json"));
const pkg = JSON.parse(readFileSync(join(dir, "node_modules/@huggingface/tokenizers/package.json"), "utf8"));
if (pkg.version !== VERSION) throw new Error(`want @huggingface/tokenizers@${VERSION}, found ${pkg.version}`);
const { Tokenizer } = req("@huggingface/tokenizers");

const input = JSON.parse(readFileSync(0, "utf8"));
const tok = new Tokenizer(JSON.parse(readFileSync(input.tokenizer, "utf8")), JSON.parse(readFileSync(input.config, "utf8")));
const out = input.texts.map((t) => Array.from(tok.encode(t, { add_special_tokens: true }).ids));
process.stdout.write(JSON.stringify(out) + "\n");
