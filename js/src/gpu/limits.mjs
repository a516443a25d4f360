// The device limits the WebGPU plan reads (core/backend/webgpu/plan.h DeviceLimits), and those a device is
// requested with at the adapter's maximum (the defaults are far lower, e.g. 128 MiB bindings).
export const REQUESTED_LIMITS = [
  'maxStorageBufferBindingSize', 'maxBufferSize', 'maxStorageBuffersPerShaderStage', 'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX',
];
export const PLAN_LIMITS = [
  'maxStorageBufferBindingSize', 'maxBufferSize', 'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupsPerDimension', 'minStorageBufferOffsetAlignment', 'minUniformBufferOffsetAlignment',
  'maxComputeWorkgroupStorageSize',
];

/** Limits of an adapter or device as a plain object of the keys the planner reads. */
export function planLimits(limits) {
  return Object.fromEntries(PLAN_LIMITS.map((k) => [k, Number(limits[k])]));
}

/** The requiredLimits to ask a device for: every limit the engine benefits from, at the adapter's maximum. */
export function requiredLimits(adapter) {
  const out = {};
  for (const k of REQUESTED_LIMITS) if (adapter.limits[k] !== undefined) out[k] = adapter.limits[k];
  return out;
}

// Features asked for where the adapter offers them: the kernels' (the plan's `subgroups` option follows the
// device), and timestamps for engine.metrics()'s GPU time per kind of dispatch (gpu/dispatch_timer.mjs).
export const OPTIONAL_FEATURES = ['subgroups', 'timestamp-query'];

/** The requiredFeatures to ask a device for: those of OPTIONAL_FEATURES the adapter offers. */
export function requiredFeatures(adapter) {
  return OPTIONAL_FEATURES.filter((f) => adapter.features.has(f));
}

// WGSL language features of a device's GPU instance: in a browser navigator.gpu's; in Node the instance
// that made the device records its own (node_device.mjs), since Node has no navigator.gpu.
const languageFeatures = new WeakMap();

/** Records the WGSL language features of the GPU instance that made `device`. */
export function recordLanguageFeatures(device, features) {
  if (features) languageFeatures.set(device, features);
}

/**
 * The plan options that follow what a device offers: `subgroups` (the feature) and `dot8` (WGSL's
 * packed_4x8_integer_dot_product: one-token products over 8-bit x).
 */
export function planFeatures(device) {
  const wgsl = languageFeatures.get(device) ?? globalThis.navigator?.gpu?.wgslLanguageFeatures;
  return { subgroups: device.features.has('subgroups'), dot8: !!wgsl?.has('packed_4x8_integer_dot_product') };
}
