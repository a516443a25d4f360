// The forced-acceptance benchmark of speculative decoding on WebGPU (bench/speculative/forced-webgpu.mjs)
// runs as one command and prints one JSON object with a row per acceptance rate and the time of one call
// per token count: on SwiftShader, a tiny synthetic target with itself as the draft, a few tokens (the
// figures come from a GPU machine).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { requestNodeDevice } from '../../js/src/gpu/node_device.mjs';
import { skipOrFail, synthModel } from './wasm_env.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const wasmDir = process.env.TABLLM_WASM_DIR ?? path.join(root, 'build-wasm');

test('forced-webgpu.mjs: plain and forced-acceptance decode of a tiny target with a draft, as JSON', async (t) => {
  if (!fs.existsSync(path.join(wasmDir, 'tabllm-st.mjs'))) return skipOrFail(t, `${wasmDir}/tabllm-st.mjs is missing: run scripts/build-wasm.sh`);
  try {
    (await requestNodeDevice()).device.destroy();
  } catch (e) {
    return skipOrFail(t, `no WebGPU device: ${e.message}`);
  }
  synthModel('tiny-llama', 'q4_0');  // synthesized when missing
  const model = path.join(root, 'build/models/tiny-llama-q4_0.gguf');
  const { stdout } = await promisify(execFile)(process.execPath, [path.join(root, 'bench/speculative/forced-webgpu.mjs'), model, '--draft', model,
    '--acceptance', '0,1', '--k', '2', '--prompt-tokens', '4', '--gen-tokens', '6', '--call-reps', '1'], { encoding: 'utf8', timeout: 150_000 });
  const out = JSON.parse(stdout);
  t.diagnostic(stdout.trim());
  assert.equal(out.bench, 'speculative-forced-acceptance');
  assert.match(out.label, /^forced acceptance/);
  assert.ok(out.plain_decode_tokens_per_s > 0);
  assert.deepEqual(out.results.map((r) => r.forced_acceptance), [0, 1]);
  const [none, all] = out.results;
  assert.equal(none.accepted, 0);
  assert.equal(none.verify_passes, 6);  // nothing kept: one pass per token
  assert.equal(all.measured_acceptance, 1);
  assert.equal(all.verify_passes, 2);  // 3 tokens a pass (k = 2)
  for (const r of out.results) assert.ok(r.decode_tokens_per_s > 0 && r.speedup > 0);
  // The bound at each rate, from the draft's measured cost: with nothing kept, the best is k = 1 at 1 / (1 + cost).
  const cost = out.draft_token_cost_in_target_steps;
  assert.ok(cost > 0 && out.draft_decode_tokens_per_s > 0);
  assert.ok(Math.abs(none.ceiling_one_step_verify - 1 / (1 + cost)) < 2e-3, JSON.stringify(none));
  assert.ok(all.ceiling_one_step_verify > none.ceiling_one_step_verify);
  // One call of n tokens timed through the verify list (and the prefill list for n > 1, the decode list for 1).
  assert.deepEqual(out.calls.map((c) => c.tokens), [1, 2, 3]);
  for (const c of out.calls) assert.ok(c.verify_ms > 0 && (c.tokens === 1 ? c.decode_list_ms > 0 : c.prefill_list_ms > 0), JSON.stringify(c));
});
