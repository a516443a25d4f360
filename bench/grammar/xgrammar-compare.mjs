// Side-by-side benchmark of tabllm's grammar engine (its WebAssembly build) and @mlc-ai/web-xgrammar in
// one Node process: same grammar text (or the same JSON Schemas), same vocabulary, same token sequences.
// Prints one JSON object.
//
//   node bench/grammar/xgrammar-compare.mjs [--wasm build-wasm/tabllm-dev.mjs] [--vocab llama3,qwen3]
//        [--compiles 5] [--grammars json,arithmetic,csv-records]
//   node bench/grammar/xgrammar-compare.mjs --schemas ../shared/schemas [--every K] [--limit N] [--compiles 3] ...
//
// --out FILE writes the JSON there instead (XGrammar prints its warnings on stdout); --slow-us N lists
// tabllm's mask fills slower than N µs on stderr.
// Times: compile = parse + compile with the mask cache (XGrammar's compiler cache disabled); mask = one
// call that fills the next-token bitmask (tabllm: tabllm_grammar_matcher_fill_mask into a preallocated
// buffer; XGrammar: its binding's GetNextTokenBitmask, and separately its public async
// getNextTokenBitmask()). In grammar mode the masks of both engines are compared bit by bit on every step
// (special tokens and tokens with bytes that never occur in UTF-8 left out). Schema mode: see
// compare-schemas.mjs.
import fs from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";

import { compareSchemas } from "./compare-schemas.mjs";
import { cstr as cstrIn, loadEngines, loadVocab, openVocab, root, round, stats } from "./compare-common.mjs";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, a, i, all) => (a.startsWith("--") ? [...pairs, [a.slice(2), all[i + 1]]] : pairs), []),
);
const wasmPath = path.resolve(root, args.wasm ?? "build-wasm/tabllm-dev.mjs");
const vocabNames = (args.vocab ?? "llama3,qwen3").split(",");
const compiles = Number(args.compiles ?? (args.schemas ? 3 : 5));
const grammarNames = (args.grammars ?? "json,arithmetic,csv-records").split(",");

const data = path.join(root, "bench/grammar/data");
function grammarCase(name) {
  if (name === "json") {
    return { name, text: null, docs: fs.readFileSync(path.join(data, "json-docs.jsonl"), "utf8").split("\n").filter(Boolean) };
  }
  return {
    name,
    text: fs.readFileSync(path.join(data, `${name}.gbnf`), "utf8"),
    docs: fs.readFileSync(path.join(data, `${name}-docs.txt`), "utf8").split("\n").filter(Boolean).map((l) => l.replaceAll("\\n", "\n")),
  };
}

const fail = (e) => { console.error(e?.stack ?? String(e)); process.exit(1); };
process.on("uncaughtException", fail);
process.on("unhandledRejection", fail);
const { M, xg } = await loadEngines(wasmPath);
const cstr = (s) => cstrIn(M, s);
function check(ok, what) {
  if (!ok) throw new Error(`${what}: ${M.UTF8ToString(M._tabllm_last_error())}`);
}

const print = (report) => {
  const text = JSON.stringify(report, null, 2);
  if (args.out) fs.writeFileSync(args.out, `${text}\n`);
  else console.log(text);
};
if (args.schemas) {
  const options = { dir: path.resolve(root, args.schemas), every: Number(args.every ?? 1), limit: Number(args.limit ?? 0), compiles,
                    slowUs: Number(args["slow-us"] ?? 0) };
  print(await compareSchemas(M, xg, vocabNames, options));
  process.exit(0);
}

const builtinName = cstr("json");
const report = { engine: "tabllm (wasm, single thread) vs @mlc-ai/web-xgrammar 0.1.27", node: process.version, results: [] };
for (const vocabName of vocabNames) {
  const v = loadVocab(vocabName);
  const opened = await openVocab(M, xg, v);
  const { ours: ourVocab, words, maskPtr, compiler, tokenizer } = opened;

  for (const gname of grammarNames) {
    const g = grammarCase(gname);
    // The same text for both: the built-in JSON grammar is written in the common subset of both dialects.
    const grammarText = g.text ?? M.UTF8ToString(M._tabllm_grammar_builtin(builtinName));
    const textPtr = cstr(grammarText), dialectPtr = cstr("gbnf");
    const ours = [], theirs = [];
    let ourCompiled = 0, xgCompiled = null;
    for (let i = 0; i < compiles; ++i) {
      if (ourCompiled) M._tabllm_grammar_compiled_free(ourCompiled);
      let t0 = performance.now();
      ourCompiled = M._tabllm_grammar_compile(ourVocab, textPtr, dialectPtr, 0);
      ours.push(performance.now() - t0);
      check(ourCompiled, `compile ${gname}`);
      if (xgCompiled) xgCompiled.dispose();
      t0 = performance.now();
      xgCompiled = await compiler.compileGrammar(grammarText);
      theirs.push(performance.now() - t0);
    }
    M._free(textPtr); M._free(dialectPtr);

    const ourMask = [], xgMask = [], xgMaskPublic = [];
    let tokens = 0, mismatches = 0, ourRejected = 0, xgRejected = 0;
    for (const doc of g.docs) {
      const ids = tokenizer.encode(doc, { add_special_tokens: false });
      const om = M._tabllm_grammar_matcher_create(ourCompiled);
      const xm = await xg.GrammarMatcher.createGrammarMatcher(xgCompiled);
      let ourOk = true, xgOk = true;
      for (const id of ids) {
        let t0 = performance.now();
        M._tabllm_grammar_matcher_fill_mask(om, maskPtr, words);
        ourMask.push((performance.now() - t0) * 1000);
        t0 = performance.now();
        const vec = xm.handle.GetNextTokenBitmask(v.strings.length);
        xgMask.push((performance.now() - t0) * 1000);
        vec.delete();
        t0 = performance.now();
        const xgBitmask = await xm.getNextTokenBitmask();
        xgMaskPublic.push((performance.now() - t0) * 1000);
        // Compare masks on text tokens (special tokens are handled differently by design).
        const ourWords = new Uint32Array(M.HEAPU32.buffer, maskPtr, words);
        for (let w = 0; w < words; ++w) {
          let diff = (ourWords[w] ^ (xgBitmask[w] >>> 0)) >>> 0;
          while (diff) {
            const b = 31 - Math.clz32(diff);
            diff &= ~(1 << b);
            const tid = w * 32 + b;
            if (tid < v.strings.length && !v.special.has(tid) && !v.neverUtf8.has(tid)) {
              if (process.env.SHOW_MISMATCH && mismatches < 5)
                console.error(`step ${tokens} of ${JSON.stringify(doc.slice(0, 40))}: token ${tid} ${JSON.stringify(v.strings[tid])} tabllm ${(ourWords[w] >>> b) & 1} xgrammar ${(xgBitmask[w] >>> b) & 1}`);
              mismatches++;
              w = words;
              break;
            }
          }
        }
        ++tokens;
        if (ourOk && M._tabllm_grammar_matcher_accept_token(om, id) !== 1) ourOk = false;
        if (xgOk && !xm.acceptToken(id)) xgOk = false;
        if (!ourOk || !xgOk) break;
      }
      if (!ourOk || !M._tabllm_grammar_matcher_can_terminate(om)) ourRejected++;
      if (!xgOk) xgRejected++;
      M._tabllm_grammar_matcher_free(om);
      xm.dispose();
    }
    const oc = stats(ours), xc = stats(theirs), om = stats(ourMask), xmr = stats(xgMask), xmp = stats(xgMaskPublic);
    report.results.push({
      vocab: vocabName, vocab_size: v.strings.length, grammar: gname, docs: g.docs.length, tokens,
      compile_ms: { tabllm: round({ median: oc.median, p95: oc.p95 }), xgrammar: round({ median: xc.median, p95: xc.p95 }),
                    ratio_median: Number((oc.median / xc.median).toFixed(4)) },
      mask_us: { tabllm: round({ median: om.median, p99: om.p99, mean: om.mean }, 2),
                 xgrammar: round({ median: xmr.median, p99: xmr.p99, mean: xmr.mean }, 2),
                 xgrammar_public_api: round({ median: xmp.median, p99: xmp.p99, mean: xmp.mean }, 2) },
      bars: { mask_median: om.median <= xmr.median, mask_p99: om.p99 <= xmr.p99, compile_fifth: oc.median <= xc.median / 5 },
      mask_mismatch_steps: mismatches, docs_rejected: { tabllm: ourRejected, xgrammar: xgRejected },
      cache: JSON.parse(M.UTF8ToString(M._tabllm_grammar_compiled_stats(ourCompiled))),
    });
    M._tabllm_grammar_compiled_free(ourCompiled);
    xgCompiled.dispose();

    if (gname === "json") {
      // Reference point: XGrammar with its own built-in JSON grammar (a different grammar text).
      const bc = [];
      let compiled = null;
      for (let i = 0; i < compiles; ++i) {
        if (compiled) compiled.dispose();
        const t0 = performance.now();
        compiled = await compiler.compileBuiltinJSONGrammar();
        bc.push(performance.now() - t0);
      }
      const bm = [];
      for (const doc of g.docs) {
        const ids = tokenizer.encode(doc, { add_special_tokens: false });
        const xm = await xg.GrammarMatcher.createGrammarMatcher(compiled);
        for (const id of ids) {
          const t0 = performance.now();
          xm.handle.GetNextTokenBitmask(v.strings.length).delete();
          bm.push((performance.now() - t0) * 1000);
          if (!xm.acceptToken(id)) break;
        }
        xm.dispose();
      }
      compiled.dispose();
      const c = stats(bc), m = stats(bm);
      report.results.push({
        vocab: vocabName, grammar: "json, XGrammar's own built-in grammar (reference only)",
        compile_ms: { xgrammar: round({ median: c.median, p95: c.p95 }) },
        mask_us: { xgrammar: round({ median: m.median, p99: m.p99, mean: m.mean }, 2) },
      });
    }
  }
  opened.close();
}
print(report);
