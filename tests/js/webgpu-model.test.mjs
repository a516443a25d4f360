// Whole models on WebGPU in Node (Dawn; SwiftShader without a GPU), planned by the core and run by the
// executor (the cases: tests/webgpu-cases/model.mjs, shared with the Chromium tests): stories260K F32/Q8_0
// greedy tokens equal greedy_reference.jsonl; synthetic qwen2/qwen3 equal the WebAssembly CPU engine for 32
// greedy steps; synthetic phi3 (LongRoPE short and long, partial rotary), gemma, gemma2 and gemma3 (sliding
// windows that slide) give the CPU's greedy tokens with logits close to the CPU's; a lowered binding limit (split output, embedding and FFN matrices) changes nothing; no
// buffer, pipeline or bind group is created per token; a lost device is reported and a reload works;
// greedy under a JSON Schema and under a regex (the masked argmax on the GPU, through the engine's WebGPU
// runner) gives the WebAssembly CPU engine's tokens and valid output. Needs a
// development module of the WebAssembly build (TABLLM_WASM_DIR, default build-wasm: tabllm-dev.mjs) and the converted models.
import { skipOrFail } from './wasm_env.mjs';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { DevAbi, hasDevExports } from '../../js/src/core/dev.mjs';
import { nodeFileReader } from '../../js/src/gpu/model_runner.mjs';
import { requestNodeDevice } from '../../js/src/gpu/node_device.mjs';
import {
  MissingInput, archParityCase, cannotFitCase, constrainedCase, cpuParityCase, deviceLossCase, splitCase, storiesGreedyCase,
} from '../webgpu-cases/model.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const wasmDir = process.env.TABLLM_WASM_DIR ?? path.join(root, 'build-wasm');
const modelsDir = process.env.TABLLM_MODELS_DIR ?? path.join(root, 'build/models');
const sharedDir = process.env.TABLLM_SHARED ?? path.join(root, '../shared');

let skip = null;
let ctx;

before(async () => {
  const file = path.join(wasmDir, 'tabllm-dev.mjs');
  if (!fs.existsSync(file)) return void (skip = `${file} is missing: run scripts/build-wasm.sh`);
  const { default: createModule } = await import(pathToFileURL(file));
  const module = await createModule();
  if (!hasDevExports(module)) return void (skip = `${file} is not the development module: run scripts/build-wasm.sh`);
  let device, limits;
  try {
    ({ device, limits } = await requestNodeDevice());
  } catch (e) {
    return void (skip = `no WebGPU device: ${e.message}`);
  }
  const modelPath = (name) => {
    const p = path.join(modelsDir, `${name}.gguf`);
    return fs.existsSync(p) ? p : null;
  };
  ctx = {
    abi: new DevAbi(module),
    module,
    device,
    limits,
    openModel: async (name) => (modelPath(name) ? nodeFileReader(modelPath(name)) : null),
    modelBytes: async (name) => (modelPath(name) ? new Uint8Array(fs.readFileSync(modelPath(name))) : null),
    reference: async () => fs.readFileSync(path.join(sharedDir, 'models/stories260K/greedy_reference.jsonl'), 'utf8')
      .split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l)),
    requestDevice: requestNodeDevice,
  };
});

after(() => ctx?.device.destroy());

const cases = [
  storiesGreedyCase('f32', 64), storiesGreedyCase('q8_0', 64), storiesGreedyCase('q8_0', 24, { dot8: true }), splitCase, cannotFitCase,
  cpuParityCase('qwen2'), cpuParityCase('qwen3', { countObjects: true }), deviceLossCase,
  cpuParityCase('llama', { type: 'q4_k_m' }), cpuParityCase('llama', { type: 'q3_k' }), cpuParityCase('llama', { type: 'iq4_xs' }),
  constrainedCase('json_schema'), constrainedCase('regex', { again: true }),
  archParityCase('phi3', { context: 256, what: ' (LongRoPE short factors: context 256)' }),
  archParityCase('phi3', { context: 512, what: ' (LongRoPE long factors: context 512)' }),
  archParityCase('gemma'), archParityCase('gemma2'), archParityCase('gemma3'),
];
for (const { name, run } of cases) {
  test(name, async (t) => {
    if (skip) return skipOrFail(t, skip);
    try {
      await run({ ...ctx, note: (line) => t.diagnostic(line) });
    } catch (e) {
      if (e instanceof MissingInput) return skipOrFail(t, e.message);
      throw e;
    }
  });
}
