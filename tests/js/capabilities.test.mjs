// js/src/capabilities.mjs in Node: the report (adapter from the npm `webgpu` package, SwiftShader here),
// and chooseBackend's rules on real and made-up reports. The same report in a page:
// tests/browser/webgpu.test.mjs ("capability report and backend choice").
import { skipOrFail } from './wasm_env.mjs';
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { capabilityReport, chooseBackend, isSoftwareAdapter } from '../../js/src/capabilities.mjs';

const fakeReport = (webgpu) => ({
  host: 'browser', crossOriginIsolated: false, hardwareThreads: 8,
  wasm: { webassembly: true, simd: true, threads: false },
  webgpu: { available: false, reason: 'navigator.gpu is missing', adapter: null, features: [], subgroups: false, shaderF16: false, limits: {}, ...webgpu },
});
const gpuAdapter = { vendor: 'nvidia', architecture: 'hopper', device: '', description: 'NVIDIA H100', isFallbackAdapter: false, software: false };

test('capabilityReport in Node: the Dawn adapter, its features and limits, threads and WebAssembly support', async (t) => {
  const report = await capabilityReport();
  if (!report.webgpu.available) return skipOrFail(t, `no WebGPU adapter: ${report.webgpu.reason}`);
  t.diagnostic(JSON.stringify({ adapter: report.webgpu.adapter, subgroups: report.webgpu.subgroups, shaderF16: report.webgpu.shaderF16, limits: report.webgpu.limits }));
  assert.equal(report.host, 'node');
  assert.ok(report.webgpu.limits.maxStorageBufferBindingSize >= 128 << 20);
  assert.ok(report.webgpu.limits.maxBufferSize >= 256 << 20);
  assert.equal(typeof report.webgpu.subgroups, 'boolean');
  assert.equal(report.webgpu.subgroups, report.webgpu.features.includes('subgroups'));
  assert.equal(report.webgpu.shaderF16, report.webgpu.features.includes('shader-f16'));
  assert.deepEqual(report.wasm, { webassembly: true, simd: true, threads: true });
  assert.ok(report.hardwareThreads >= 1);
  assert.equal(report.crossOriginIsolated, true);
  const { backend, reason } = chooseBackend('webgpu', report);
  assert.equal(backend, 'webgpu');
  assert.match(reason, /adapter/);
});

test('chooseBackend: auto takes a GPU, falls back to the CPU saying why; webgpu without an adapter is a clear error', () => {
  const none = fakeReport({});
  assert.deepEqual(chooseBackend('auto', none), { backend: 'wasm', reason: 'WebGPU is not available (navigator.gpu is missing); using the WebAssembly CPU (SIMD, single thread)' });
  assert.throws(() => chooseBackend('webgpu', none), /WebGPU backend was asked for, but WebGPU is not available: navigator.gpu is missing\. Use backend "auto" or "wasm"/);
  const gpu = fakeReport({ available: true, reason: '', adapter: gpuAdapter });
  assert.equal(chooseBackend('auto', gpu).backend, 'webgpu');
  assert.match(chooseBackend('auto', gpu).reason, /NVIDIA H100/);
  assert.equal(chooseBackend('wasm', gpu).backend, 'wasm');
  const software = fakeReport({ available: true, reason: '', adapter: { ...gpuAdapter, vendor: 'google', architecture: 'swiftshader', description: '', software: true } });
  assert.equal(chooseBackend('auto', software).backend, 'wasm');
  assert.match(chooseBackend('auto', software).reason, /software/);
  assert.equal(chooseBackend('auto', software, { allowSoftwareAdapter: true }).backend, 'webgpu');
  assert.throws(() => chooseBackend('cuda', gpu), /unknown backend "cuda": use auto, webgpu or wasm/);
  assert.throws(() => chooseBackend('auto'), /needs a capability report/);
  assert.ok(isSoftwareAdapter({ description: 'llvmpipe (LLVM 15.0.6, 256 bits)' }));
  assert.ok(!isSoftwareAdapter(gpuAdapter));
});
