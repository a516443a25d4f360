// Schema mode of xgrammar-compare.mjs: for each JSON Schema NAME.json of a directory (with its
// NAME.tests.json), both engines compile the schema (tabllm: tabllm_grammar_compile_json_schema with its
// defaults, properties in schema order; XGrammar: compileJSONSchema with any whitespace and
// strictMode=false, which like tabllm lets objects have properties the schema does not declare), then
// both walk the valid test documents, written as compact JSON and tokenized with the vocabulary's
// tokenizer, timing every mask fill. A document stops at the first token either engine refuses (e.g.
// keys in another order than the schema's). Schemas that either engine cannot compile are listed and left
// out of the figures.
import fs from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";

import { cstr, loadVocab, openVocab, round, stats } from "./compare-common.mjs";

function schemaNames({ dir, every, limit }) {
  const all = fs.readdirSync(dir).filter((f) => f.endsWith(".json") && !f.endsWith(".tests.json")).map((f) => f.slice(0, -5)).sort();
  const picked = all.filter((_, i) => i % Math.max(1, every) === 0);
  return limit > 0 ? picked.slice(0, limit) : picked;
}

const median = (values) => stats(values).median;

export async function compareSchemas(M, xg, vocabNames, options) {
  const names = schemaNames(options);
  const report = {
    engine: "tabllm (wasm, single thread) vs @mlc-ai/web-xgrammar 0.1.27", node: process.version,
    schemas: { dir: options.dir, every: options.every, limit: options.limit, picked: names.length }, results: [],
  };
  for (const vocabName of vocabNames) {
    const v = loadVocab(vocabName);
    const opened = await openVocab(M, xg, v);
    const { ours: ourVocab, words, maskPtr, compiler, tokenizer } = opened;
    const ourCompile = [], xgCompile = [], ratios = [], ourMask = [], xgMask = [];
    const failed = { tabllm: [], xgrammar: [] };
    let docs = 0, tokens = 0, ourRejected = 0, xgRejected = 0, compared = 0;
    for (const name of names) {
      const schemaText = fs.readFileSync(path.join(options.dir, `${name}.json`), "utf8");
      const schemaPtr = cstr(M, schemaText);
      const ours = [], theirs = [];
      let ourCompiled = 0, xgCompiled = null;
      for (let i = 0; i < options.compiles && !failed.tabllm.includes(name); ++i) {
        if (ourCompiled) M._tabllm_grammar_compiled_free(ourCompiled);
        const t0 = performance.now();
        ourCompiled = M._tabllm_grammar_compile_json_schema(ourVocab, schemaPtr, 0);
        ours.push(performance.now() - t0);
        if (!ourCompiled) failed.tabllm.push({ schema: name, error: M.UTF8ToString(M._tabllm_last_error()).slice(0, 200) });
        if (!ourCompiled) break;
      }
      M._free(schemaPtr);
      for (let i = 0; i < options.compiles; ++i) {
        if (xgCompiled) xgCompiled.dispose();
        try {
          const t0 = performance.now();
          xgCompiled = await compiler.compileJSONSchema(schemaText, true, -1, undefined, false);
          theirs.push(performance.now() - t0);
        } catch (e) {
          failed.xgrammar.push({ schema: name, error: String(e?.message ?? e).slice(0, 200) });
          xgCompiled = null;
          break;
        }
      }
      if (!ourCompiled || !xgCompiled) {
        if (ourCompiled) M._tabllm_grammar_compiled_free(ourCompiled);
        xgCompiled?.dispose();
        continue;
      }
      ++compared;
      ourCompile.push(median(ours));
      xgCompile.push(median(theirs));
      ratios.push(median(ours) / median(theirs));

      const tests = JSON.parse(fs.readFileSync(path.join(options.dir, `${name}.tests.json`), "utf8"));
      for (const test of tests.filter((t) => t.valid)) {
        ++docs;
        const ids = tokenizer.encode(JSON.stringify(test.data), { add_special_tokens: false });
        const om = M._tabllm_grammar_matcher_create(ourCompiled);
        const xm = await xg.GrammarMatcher.createGrammarMatcher(xgCompiled);
        let ourOk = true, xgOk = true;
        for (const id of ids) {
          let t0 = performance.now();
          M._tabllm_grammar_matcher_fill_mask(om, maskPtr, words);
          ourMask.push((performance.now() - t0) * 1000);
          if (options.slowUs && ourMask.at(-1) > options.slowUs)
            console.error(`${vocabName} ${name}: tabllm mask ${ourMask.at(-1).toFixed(0)} us before ${JSON.stringify(v.strings[id])}`);
          t0 = performance.now();
          xm.handle.GetNextTokenBitmask(v.strings.length).delete();
          xgMask.push((performance.now() - t0) * 1000);
          ++tokens;
          ourOk = M._tabllm_grammar_matcher_accept_token(om, id) === 1;
          xgOk = xm.acceptToken(id);
          if (!ourOk || !xgOk) break;
        }
        // A document the other engine refused first is left out of this one's count.
        const whole = ourOk && xgOk;
        if (!ourOk || (whole && !M._tabllm_grammar_matcher_can_terminate(om))) ourRejected++;
        if (!xgOk || (whole && !xm.acceptToken(v.stops[0]))) xgRejected++;  // an end token is accepted once the text is complete
        M._tabllm_grammar_matcher_free(om);
        xm.dispose();
      }
      M._tabllm_grammar_compiled_free(ourCompiled);
      xgCompiled.dispose();
      if (process.env.PROGRESS) console.error(`${vocabName} ${name}: compile ms ${median(ours).toFixed(1)} / ${median(theirs).toFixed(1)}`);
    }
    const oc = stats(ourCompile), xc = stats(xgCompile), om = stats(ourMask), xmr = stats(xgMask);
    report.results.push({
      vocab: vocabName, vocab_size: v.strings.length, schemas_compared: compared, docs, tokens,
      compile_ms: { tabllm: round({ median: oc.median, p95: oc.p95, mean: oc.mean }), xgrammar: round({ median: xc.median, p95: xc.p95, mean: xc.mean }),
                    ratio_of_medians: Number((oc.median / xc.median).toFixed(4)), median_ratio: Number(median(ratios).toFixed(4)) },
      mask_us: { tabllm: round({ median: om.median, p99: om.p99, mean: om.mean }, 2), xgrammar: round({ median: xmr.median, p99: xmr.p99, mean: xmr.mean }, 2) },
      bars: { mask_median: om.median <= xmr.median, mask_p99: om.p99 <= xmr.p99, compile_fifth: oc.median <= xc.median / 5 },
      docs_rejected: { tabllm: ourRejected, xgrammar: xgRejected }, failed,
    });
    opened.close();
  }
  return report;
}
