// What this host can run: the WebGPU adapter (if any) with its features and limits, cross-origin isolation,
// hardware threads and WebAssembly SIMD/threads, and from that the backend to use. Works in pages, workers
// and Node (Node gets WebGPU from the npm `webgpu` package through ./gpu/node_device.mjs).
//
//   const report = await capabilityReport();
//   const { backend, reason } = chooseBackend('auto', report);   // 'webgpu' | 'wasm', and why

import { REQUESTED_LIMITS, requiredFeatures, requiredLimits } from './gpu/limits.mjs';
import { importNodeOnly } from './node_only.mjs';

const isNode = typeof process !== 'undefined' && !!process.versions?.node && typeof window === 'undefined';

// The limits the report shows: those requested, plus the rest the plan reads.
const REPORTED_LIMITS = [
  ...REQUESTED_LIMITS, 'maxComputeWorkgroupsPerDimension', 'minStorageBufferOffsetAlignment', 'minUniformBufferOffsetAlignment',
];

// A module whose one function returns a v128 (i32.const 0; i8x16.splat): valid only where SIMD128 is supported.
const SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,  // magic, version
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b,        // type section: () -> v128
  0x03, 0x02, 0x01, 0x00,                          // function section: one function of type 0
  0x0a, 0x08, 0x01, 0x06, 0x00, 0x41, 0x00, 0xfd, 0x0f, 0x0b,  // code: i32.const 0, i8x16.splat, end
]);

function hostKind() {
  if (isNode) return 'node';
  if (typeof window !== 'undefined' && typeof document !== 'undefined') return 'browser';
  return 'worker';
}

function wasmSupport() {
  const wasm = typeof WebAssembly === 'object';
  let simd = false;
  let sharedMemory = false;
  if (wasm) {
    try {
      simd = WebAssembly.validate(SIMD_PROBE);
    } catch {
      simd = false;
    }
    try {
      sharedMemory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }).buffer instanceof SharedArrayBuffer;
    } catch {
      sharedMemory = false;
    }
  }
  const isolated = isNode ? true : globalThis.crossOriginIsolated === true;
  // Threads need shared memory, which browsers allow only on cross-origin isolated pages, and workers to run on.
  const workers = isNode || typeof Worker === 'function';
  return { webassembly: wasm, simd, threads: wasm && sharedMemory && isolated && workers };
}

function hardwareThreads() {
  if (typeof navigator !== 'undefined' && navigator.hardwareConcurrency) return navigator.hardwareConcurrency;
  return null;
}

async function nodeHardwareThreads() {
  const os = await importNodeOnly('node:os');
  return os.availableParallelism?.() ?? os.cpus().length;
}

/** Whether an adapter is a CPU implementation (SwiftShader, llvmpipe/lavapipe, WARP) rather than a GPU. */
export function isSoftwareAdapter(info = {}) {
  if (info.isFallbackAdapter) return true;
  const text = `${info.vendor ?? ''} ${info.architecture ?? ''} ${info.device ?? ''} ${info.description ?? ''}`.toLowerCase();
  return /swiftshader|llvmpipe|lavapipe|softpipe|microsoft basic render|warp/.test(text);
}

function adapterInfo(adapter) {
  const info = adapter.info ?? {};
  const out = {};
  for (const k of ['vendor', 'architecture', 'device', 'description']) out[k] = String(info[k] ?? '');
  out.isFallbackAdapter = Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter ?? false);
  out.software = isSoftwareAdapter(out);
  return out;
}

/**
 * The adapter of this host: navigator.gpu in pages and workers, Dawn (npm `webgpu`) in Node.
 * @returns {Promise<{adapter: GPUAdapter | null, reason: string}>}
 */
export async function requestWebgpuAdapter({ powerPreference = 'high-performance' } = {}) {
  if (isNode) {
    // The npm `webgpu` package, with SwiftShader as the driver when no other is configured. node_device.mjs
    // keeps the GPU instance alive for the process (see the pitfall it describes); the device it opens is
    // not needed for a report.
    try {
      const { requestNodeDevice } = await import(/* webpackIgnore: true */ './gpu/node_device.mjs');
      const { adapter, device } = await requestNodeDevice();
      device.destroy();
      return { adapter, reason: '' };
    } catch (e) {
      return { adapter: null, reason: e.message };
    }
  }
  if (typeof navigator === 'undefined' || !navigator.gpu) {
    const why = globalThis.isSecureContext === false ? ' (the page is not a secure context: serve it over https or from localhost)' : '';
    return { adapter: null, reason: `this browser does not expose WebGPU (navigator.gpu is missing)${why}` };
  }
  try {
    const adapter = await navigator.gpu.requestAdapter({ powerPreference });
    return adapter ? { adapter, reason: '' } : { adapter: null, reason: 'navigator.gpu.requestAdapter() returned no adapter (WebGPU disabled or the GPU is blocklisted)' };
  } catch (e) {
    return { adapter: null, reason: `requestAdapter failed: ${e.message}` };
  }
}

/**
 * A device with the plan's limits at the adapter's maximum.
 * @returns {Promise<{adapter: GPUAdapter, device: GPUDevice, limits: Record<string, number>}>}
 * @throws when there is no adapter, saying why
 */
export async function requestWebgpuDevice({ powerPreference } = {}) {
  if (isNode) {
    const { requestNodeDevice } = await import(/* webpackIgnore: true */ './gpu/node_device.mjs');
    const { adapter, device, limits } = await requestNodeDevice();
    return { adapter, device, limits };
  }
  const { adapter, reason } = await requestWebgpuAdapter({ powerPreference });
  if (!adapter) throw new Error(`WebGPU is not available: ${reason}`);
  const device = await adapter.requestDevice({ requiredLimits: requiredLimits(adapter), requiredFeatures: requiredFeatures(adapter) });
  return { adapter, device, limits: Object.fromEntries(REPORTED_LIMITS.map((k) => [k, Number(device.limits[k])])) };
}

/**
 * What this host offers.
 * @param {{adapter?: GPUAdapter | null}} [options] an adapter already requested (skips requesting one)
 * @returns {Promise<{host: 'browser'|'worker'|'node', webgpu: {available: boolean, reason: string,
 *   adapter: object|null, features: string[], subgroups: boolean, shaderF16: boolean, limits: Record<string, number>},
 *   crossOriginIsolated: boolean, hardwareThreads: number|null, wasm: {webassembly: boolean, simd: boolean, threads: boolean}}>}
 */
export async function capabilityReport({ adapter } = {}) {
  let reason = '';
  if (adapter === undefined) ({ adapter, reason } = await requestWebgpuAdapter());
  else if (!adapter) reason = 'no adapter was given';
  const webgpu = { available: !!adapter, reason, adapter: null, features: [], subgroups: false, shaderF16: false, limits: {} };
  if (adapter) {
    webgpu.adapter = adapterInfo(adapter);
    webgpu.features = [...adapter.features].sort();
    webgpu.subgroups = adapter.features.has('subgroups');
    webgpu.shaderF16 = adapter.features.has('shader-f16');
    for (const k of REPORTED_LIMITS) if (adapter.limits[k] !== undefined) webgpu.limits[k] = Number(adapter.limits[k]);
  }
  return {
    host: hostKind(),
    webgpu,
    crossOriginIsolated: isNode ? true : globalThis.crossOriginIsolated === true,
    hardwareThreads: isNode ? await nodeHardwareThreads() : hardwareThreads(),
    wasm: wasmSupport(),
  };
}

function describeAdapter(a) {
  const name = [a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' ');
  return name || 'unnamed adapter';
}

/**
 * The backend to run on.
 * @param {'auto'|'webgpu'|'wasm'} preference
 * @param {Awaited<ReturnType<typeof capabilityReport>>} report
 * @param {{allowSoftwareAdapter?: boolean}} [options] auto normally prefers the CPU over a software WebGPU
 *   adapter (SwiftShader emulates the GPU on the CPU and is far slower than the WebAssembly kernels)
 * @returns {{backend: 'webgpu'|'wasm', reason: string}}
 * @throws when WebGPU is asked for and not available, or the preference is unknown
 */
export function chooseBackend(preference = 'auto', report, { allowSoftwareAdapter = false } = {}) {
  if (!report) throw new Error('chooseBackend needs a capability report: chooseBackend(preference, await capabilityReport())');
  const { webgpu, wasm } = report;
  const cpu = `WebAssembly CPU (${wasm.simd ? 'SIMD' : 'no SIMD'}, ${wasm.threads ? `threads, ${report.hardwareThreads ?? '?'} hardware threads` : 'single thread'})`;
  switch (preference) {
    case 'wasm':
      if (!wasm.webassembly) throw new Error('the WebAssembly backend was asked for, but this host has no WebAssembly');
      return { backend: 'wasm', reason: `asked for the ${cpu} backend` };
    case 'webgpu':
      if (!webgpu.available) {
        throw new Error(`the WebGPU backend was asked for, but WebGPU is not available: ${webgpu.reason}. Use backend "auto" or "wasm" to run on the CPU.`);
      }
      return { backend: 'webgpu', reason: `asked for WebGPU; adapter: ${describeAdapter(webgpu.adapter)}` };
    case 'auto':
      if (!webgpu.available) {
        if (!wasm.webassembly) throw new Error(`no backend can run here: WebGPU is not available (${webgpu.reason}) and there is no WebAssembly`);
        return { backend: 'wasm', reason: `WebGPU is not available (${webgpu.reason}); using the ${cpu}` };
      }
      if (webgpu.adapter.software && !allowSoftwareAdapter && wasm.webassembly) {
        return { backend: 'wasm', reason: `the only WebGPU adapter is a software one (${describeAdapter(webgpu.adapter)}), slower than the ${cpu}; ask for "webgpu" to use it anyway` };
      }
      return { backend: 'webgpu', reason: `WebGPU adapter found: ${describeAdapter(webgpu.adapter)}` };
    default:
      throw new Error(`unknown backend "${preference}": use auto, webgpu or wasm`);
  }
}
