// Where the WebAssembly tests find things, and how they load the engine. Paths can be overridden:
// TABLLM_SHARED (shared data, default ../shared), TABLLM_BUILD_DIR (the native build, default build),
// TABLLM_MODELS_DIR (converted models, default build/models), TABLLM_WASM_DIR (the Emscripten output,
// default build-wasm).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { bindTabllm } from '../../js/src/core/wasm.mjs';
import './dawn_polling.mjs';  // Dawn waits for the GPU on a timer, not in a busy loop (see there)

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const sharedDir = process.env.TABLLM_SHARED ?? path.join(root, '../shared');
export const nativeBuildDir = process.env.TABLLM_BUILD_DIR ?? path.join(root, 'build');
export const modelsDir = process.env.TABLLM_MODELS_DIR ?? path.join(nativeBuildDir, 'models');
export const wasmDir = process.env.TABLLM_WASM_DIR ?? path.join(root, 'build-wasm');
const storiesDir = path.join(sharedDir, 'models/stories260K');

// {prompt, prompt_ids, ids, text} for each prompt, computed by an independent float32 implementation.
export function greedyReference() {
  const lines = fs.readFileSync(path.join(storiesDir, 'greedy_reference.jsonl'), 'utf8').split('\n');
  return lines.filter((line) => line.trim()).map((line) => JSON.parse(line));
}

// The stories260K GGUF of `type` (f32, f16, q8_0, q4_0), converted with the native CLI when missing.
export function storiesModel(type) {
  const file = path.join(modelsDir, `stories260K-${type}.gguf`);
  if (!fs.existsSync(file)) {
    const cli = path.join(nativeBuildDir, 'bin/tabllm');
    if (!fs.existsSync(cli)) throw new Error(`${file} is missing and so is ${cli} to convert it: run scripts/setup.sh`);
    fs.mkdirSync(modelsDir, { recursive: true });
    execFileSync(cli, ['convert-llama2c', path.join(storiesDir, 'stories260K.bin'), path.join(storiesDir, 'tok512.bin'), file, '--type', type]);
  }
  return fs.readFileSync(file);
}

// The synthetic model SHAPE-TYPE.gguf (tools/CMakeLists.txt), synthesized with the native CLI when missing.
export function synthModel(shape, type) {
  const file = path.join(modelsDir, `${shape}-${type}.gguf`);
  if (!fs.existsSync(file)) {
    const cli = path.join(nativeBuildDir, 'bin/tabllm');
    if (!fs.existsSync(cli)) throw new Error(`${file} is missing and so is ${cli} to synthesize it: run scripts/setup.sh`);
    fs.mkdirSync(modelsDir, { recursive: true });
    const vocab = path.join(modelsDir, 'stories260K-f32.gguf');
    if (!fs.existsSync(vocab)) storiesModel('f32');
    execFileSync(cli, ['synth', shape, file, '--type', type, '--vocab', vocab, '--seed', '1']);
  }
  return fs.readFileSync(file);
}

// The engine from build-wasm: 'tabllm' (threads) or 'tabllm-st' (single-threaded).
export async function loadEngine(name, options = {}) {
  const file = path.join(wasmDir, `${name}.mjs`);
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: run scripts/build-wasm.sh`);
  const { default: createTabllmModule } = await import(pathToFileURL(file));
  return bindTabllm(await createTabllmModule(options));
}

// A test that cannot run here skips with its reason; with TABLLM_TEST_STRICT=1 (scripts/test.sh, CI) it
// fails instead, so a missing build or GPU adapter can never pass as green.
export function skipOrFail(t, reason) {
  if (process.env.TABLLM_TEST_STRICT === '1') throw new Error(`cannot run: ${reason}`);
  return t.skip(reason);
}
