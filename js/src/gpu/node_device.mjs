// A WebGPU device in Node through the npm `webgpu` package (Dawn). On machines without a GPU, Dawn runs on
// SwiftShader when VK_ICD_FILENAMES points at its Vulkan driver; this module points it at Debian
// Chromium's copy when nothing else is configured (set TABLLM_WEBGPU_ADAPTER=native to keep the system's).

import { importNodeOnly } from '../node_only.mjs';
import { planLimits, recordLanguageFeatures, requiredFeatures, requiredLimits } from './limits.mjs';

export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

export { PLAN_LIMITS, planLimits } from './limits.mjs';

// Dawn's GPU instance must outlive its devices: if the object `create()` returns is garbage-collected, the
// instance is torn down under live devices and the process dies in native code (futex / pthread
// assertions) or pending promises never settle. Every instance made here is kept for the process's life.
const instances = new Set();

/**
 * @param {{features?: string[], dawnFlags?: string[]}} [options] more features to ask for where the adapter
 *   offers them (the kernels' own, OPTIONAL_FEATURES, always are), and Dawn instance flags
 *   (e.g. 'disable-dawn-features=timestamp_quantization' for a profiler)
 * @returns {Promise<{gpu: GPU, adapter: GPUAdapter, device: GPUDevice, limits: Record<string, number>}>}
 */
export async function requestNodeDevice({ features = [], dawnFlags = [] } = {}) {
  const fs = await importNodeOnly('node:fs');
  if (!process.env.VK_ICD_FILENAMES && process.env.TABLLM_WEBGPU_ADAPTER !== 'native' && fs.existsSync(SWIFTSHADER_ICD)) {
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  }
  let webgpu;
  try {
    webgpu = await importNodeOnly('webgpu');
  } catch (e) {
    throw new Error(`the npm package "webgpu" is not installed (npm install at the repository root): ${e.message}`);
  }
  Object.assign(globalThis, webgpu.globals);
  const gpu = webgpu.create(dawnFlags);
  instances.add(gpu);
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new Error('no WebGPU adapter (is a Vulkan driver installed? VK_ICD_FILENAMES=' + (process.env.VK_ICD_FILENAMES ?? '') + ')');
  const device = await adapter.requestDevice({
    requiredLimits: requiredLimits(adapter),
    requiredFeatures: [...requiredFeatures(adapter), ...features.filter((f) => adapter.features.has(f))],
  });
  instances.add(adapter);
  recordLanguageFeatures(device, gpu.wgslLanguageFeatures);
  return { gpu, adapter, device, limits: planLimits(device.limits) };
}
