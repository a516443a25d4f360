// backend 'auto' when WebGPU fails: the device lost while the model uploads, a tensor type its kernels cannot
// read, a model beyond the device's limits, no adapter at all (Vulkan driver missing), and a model neither backend can run (the error carries both
// reasons).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';

import { createEngine } from '../../js/src/index.mjs';
import { missingBuild, reference, storiesPath } from './api-env.mjs';
import { nativeBuildDir, skipOrFail } from './wasm_env.mjs';

const skip = missingBuild();
const ask = { messages: [{ role: 'user', content: reference().prompt }], temperature: 0, max_tokens: 8 };

test('auto: the GPU device lost during the upload → the model runs on WebAssembly and backendReason says why', async (t) => {
  if (skip) return skipOrFail(t, skip);
  let device;
  try {
    ({ device } = await (await import('../../js/src/gpu/node_device.mjs')).requestNodeDevice());
  } catch (e) {
    return skipOrFail(t, `no WebGPU device: ${e.message}`);
  }
  const phases = [];
  const engine = await createEngine({
    model: storiesPath(), backend: 'auto', allowSoftwareAdapter: true, wasmVariant: 'single', device, contextSize: 256,
    onProgress: (p) => {
      phases.push(p.phase);
      if (p.phase === 'upload' && phases.filter((x) => x === 'upload').length === 1) device.destroy();
    },
  });
  try {
    assert.ok(phases.includes('upload') && phases.includes('load'), 'WebGPU was tried first, then WebAssembly loaded the model');
    assert.equal(engine.backend, 'wasm');
    assert.match(engine.backendReason, /^WebGPU could not load the model \(.*device was lost.*\); running on the WebAssembly CPU backend instead$/);
    const r = await engine.chat.completions.create(ask);
    assert.ok(reference().text.startsWith(r.choices[0].message.content) && r.choices[0].message.content.length > 15, r.choices[0].message.content);
  } finally {
    await engine.unload();
  }
});

test('auto: a model with a tensor type the WebGPU kernels cannot read runs on WebAssembly, naming the type', async (t) => {
  if (skip) return skipOrFail(t, skip);
  let device;
  try {
    ({ device } = await (await import('../../js/src/gpu/node_device.mjs')).requestNodeDevice());
  } catch (e) {
    return skipOrFail(t, `no WebGPU device: ${e.message}`);
  }
  // The first of these types that the WebGPU backend refuses (the CPU reads them all). The probes share one
  // device: the kernels they have in common are compiled once.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tabllm-fallback-'));
  let refused = null;
  for (const type of ['q5_0', 'q4_1', 'q5_1']) {
    const file = path.join(dir, `tiny-llama-${type}.gguf`);
    execFileSync(path.join(nativeBuildDir, 'bin/tabllm'), ['synth', 'tiny-llama', file, '--type', type, '--vocab', storiesPath(), '--seed', '1']);
    try {
      const gpu = await createEngine({ model: file, backend: 'webgpu', contextSize: 64, device });
      await gpu.unload();
    } catch (e) {
      if (!/cannot read/.test(e.message)) throw e;
      refused = { type, file };
      break;
    }
  }
  device.destroy();
  if (!refused) {
    // WebGPU reads them all: then auto must not fall back for them either.
    t.diagnostic('the WebGPU backend reads q5_0, q4_1 and q5_1: checking that auto keeps WebGPU');
    const engine = await createEngine({ model: path.join(dir, 'tiny-llama-q5_0.gguf'), backend: 'auto', allowSoftwareAdapter: true, contextSize: 64 });
    assert.equal(engine.backend, 'webgpu', engine.backendReason);
    await engine.unload();
    return;
  }
  const engine = await createEngine({ model: refused.file, backend: 'auto', allowSoftwareAdapter: true, wasmVariant: 'single', contextSize: 64 });
  try {
    assert.equal(engine.backend, 'wasm');
    assert.match(engine.backendReason, new RegExp(`^WebGPU could not load the model \\(.*has type ${refused.type}, which the WebGPU backend cannot read.*\\); running on the WebAssembly CPU backend instead$`));
    const r = await engine.completions.create({ prompt: 'Once', max_tokens: 4, temperature: 0 });
    assert.equal(r.usage.completion_tokens, 4);
  } finally {
    await engine.unload();
  }
});

test('auto: a model beyond the device\'s limits is refused by the WebGPU planner and runs on WebAssembly, saying what it needs', async (t) => {
  if (skip) return skipOrFail(t, skip);
  let device, PLAN_LIMITS;
  try {
    ({ device, PLAN_LIMITS } = await (async () => {
      const nodeDevice = await import('../../js/src/gpu/node_device.mjs');
      return { ...(await nodeDevice.requestNodeDevice()), PLAN_LIMITS: nodeDevice.PLAN_LIMITS };
    })());
  } catch (e) {
    return skipOrFail(t, `no WebGPU device: ${e.message}`);
  }
  // The planner reads the limits of the device it is given: bindings of 1 KiB refuse stories260K before
  // anything is created on the GPU. (Every tensor type and architecture the CPU runs, WebGPU runs too.)
  const limits = { ...Object.fromEntries(PLAN_LIMITS.map((k) => [k, device.limits[k]])), maxStorageBufferBindingSize: 1024, maxBufferSize: 1024 };
  const small = new Proxy(device, { get: (target, key) => (key === 'limits' ? limits : Reflect.get(target, key)) });
  const engine = await createEngine({ model: storiesPath(), backend: 'auto', allowSoftwareAdapter: true, wasmVariant: 'single', device: small, contextSize: 64 });
  try {
    assert.equal(engine.backend, 'wasm');
    assert.match(engine.backendReason, /^WebGPU could not load the model \(.*needs .*bytes.*this device allows.*\); running on the WebAssembly CPU backend instead$/);
    const r = await engine.completions.create({ prompt: 'Once', max_tokens: 4, temperature: 0 });
    assert.equal(r.usage.completion_tokens, 4);
  } finally {
    await engine.unload();
    device.destroy();
  }
});

test('auto with no WebGPU adapter (no Vulkan driver) answers on WebAssembly and says why', (t) => {
  if (skip) return skipOrFail(t, skip);
  // A process of its own: the driver is chosen when Dawn starts.
  const script = `
    const { createEngine } = await import(${JSON.stringify(pathToFileURL(path.resolve(import.meta.dirname, '../../js/src/index.mjs')).href)});
    const engine = await createEngine({ model: ${JSON.stringify(storiesPath())}, backend: 'auto', allowSoftwareAdapter: true, wasmVariant: 'single' });
    const r = await engine.chat.completions.create(${JSON.stringify(ask)});
    console.log(JSON.stringify({ backend: engine.backend, reason: engine.backendReason, text: r.choices[0].message.content }));
    await engine.unload();
    process.exit(0);`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, VK_ICD_FILENAMES: path.join(os.tmpdir(), 'no-such-vulkan-driver.json') }, encoding: 'utf8',
  });
  const result = JSON.parse(out.trim().split('\n').at(-1));
  assert.equal(result.backend, 'wasm');
  assert.match(result.reason, /^WebGPU is not available \(.+\); using the WebAssembly CPU/);
  assert.ok(reference().text.startsWith(result.text) && result.text.length > 15, result.text);
});

test('auto with a model neither backend can run: one error with both reasons', async (t) => {
  if (skip) return skipOrFail(t, skip);
  const bytes = fs.readFileSync(storiesPath());
  const at = bytes.indexOf('general.architecture');
  const value = bytes.indexOf('llama', at);
  assert.ok(at > 0 && value > at && value - at < 40);
  bytes.write('llamX', value);  // an architecture no backend knows
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tabllm-fallback-')), 'unknown-arch.gguf');
  fs.writeFileSync(file, bytes);
  let device;
  try {
    ({ device } = await (await import('../../js/src/gpu/node_device.mjs')).requestNodeDevice());
  } catch (e) {
    return skipOrFail(t, `no WebGPU device: ${e.message}`);
  }
  await assert.rejects(createEngine({ model: file, backend: 'auto', allowSoftwareAdapter: true, wasmVariant: 'single', device }),
    /^Error: neither backend can run this model\. WebGPU could not load the model \(.*llamX.*\)\. WebAssembly: .*llamX/s);
  device.destroy();
});
