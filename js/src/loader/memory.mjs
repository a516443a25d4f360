// The memory a model needs on a backend, from its GGUF header, and what a backend can hold: checked before a
// download starts, so a model that cannot run is refused at once, with what would fit instead.
//
//   need = weights (the file's tensor data) + KV cache (keys and values of the cache's type, every layer,
//          every position of the context) + working memory (activations and logits for a batch, the tokenizer)
import { ModelLoadError, gb } from './errors.mjs';

const MIN_CONTEXT = 256;
// Bytes a cached value takes by KV cache type (q8_0: WebGPU's 36 bytes a block of 32, the CPU's are 34).
const KV_BYTES = { f32: 4, f16: 2, q8_0: 36 / 32 };
// wasm32: 4 GiB of linear memory, all of it for the model: its weights stream into heap pieces of 64 MB, so no
// block of their size is needed. Beside them bench/wasm-large-model.mjs measured, for Llama 3.2 3B Q4_K_M
// (Llama 3's vocabulary), 44 MB once loaded (header, tokenizer) and 145 MB more at the heap's peak in a short
// generation (activations, the first KV page, heap growth): well within the two allowances below.
const WASM_HEAP = 4 * 2 ** 30;
const WASM_RESERVED = 256 * 2 ** 20;  // code, stacks, allocator slack
const WORKING_MEMORY = 64 * 2 ** 20;  // activations of a batch and the tokenizer, beside the logits

function metaInt(metadata, key) {
  const v = metadata.get(key);
  return typeof v === 'number' ? v : null;
}

/** The shape that decides the memory need, from a parsed header (readGgufHeader) and the model's size in bytes. */
export function modelShape(header, totalSize) {
  const m = header.metadata;
  const arch = m.get('general.architecture') ?? 'llama';
  const key = (k) => metaInt(m, `${arch}.${k}`);
  const heads = key('attention.head_count') ?? 0;
  const dim = key('embedding_length') ?? 0;
  // head_count_kv may be an array (one per layer); it is decoded as {arrayType, length}: take head_count then.
  const kvHeads = key('attention.head_count_kv') ?? heads;
  const headDim = heads ? dim / heads : 0;
  const vocab = key('vocab_size') ?? m.get('tokenizer.ggml.tokens')?.length ?? 0;
  return {
    arch,
    layers: key('block_count') ?? 0,
    kvHeads,
    keyLength: key('attention.key_length') ?? headDim,
    valueLength: key('attention.value_length') ?? headDim,
    trainedContext: key('context_length') ?? null,
    vocab,
    weights: Math.max(0, totalSize - header.dataOffset),
  };
}

/** KV cache bytes per position of the context, for a cache of kvType ('f16', the engine's default, 'q8_0', 'f32'). */
export const kvBytesPerToken = (s, kvType = 'f16') => s.layers * s.kvHeads * (s.keyLength + s.valueLength) * KV_BYTES[kvType];

/**
 * What the model needs at a context: {context, kvPositions, weights, kvCache, working, total} in bytes. The
 * context is the one the engine will use: the one asked for, else the model's own up to 4096. Under a
 * kvBudget the cache holds the positions the budget holds (kvPositions; the rest is paged out).
 */
export function memoryNeed(shape, contextSize, kvType = 'f16', kvBudget = 0) {
  const trained = shape.trainedContext ?? 4096;
  const context = Math.min(contextSize || Math.min(trained, 4096), trained);
  const perToken = kvBytesPerToken(shape, kvType);
  const kvPositions = kvBudget && perToken ? Math.min(context, Math.floor(kvBudget / perToken)) : context;
  const kvCache = Math.ceil(kvPositions * perToken);
  const working = WORKING_MEMORY + 2 * shape.vocab * 4 * 8;
  return { context, kvPositions, kvType, weights: shape.weights, kvCache, working, total: shape.weights + kvCache + working };
}

/**
 * What each backend can hold, in bytes ({wasm, webgpu}; webgpu null when unknown) and the WebGPU adapter's
 * one-buffer limit. The WebAssembly engine keeps the weights in its heap; WebGPU keeps them in GPU buffers,
 * whose total browsers do not report: `gpuMemory` (bytes, when the caller knows) or the device memory the
 * browser reports (navigator.deviceMemory, which Chromium caps at 8 GB) stands for it.
 */
export function backendCapacity(report, { gpuMemory } = {}) {
  const limits = report?.webgpu?.limits ?? {};
  const deviceMemory = typeof navigator !== 'undefined' && navigator.deviceMemory ? navigator.deviceMemory * 2 ** 30 : null;
  return {
    wasm: WASM_HEAP - WASM_RESERVED,
    webgpu: gpuMemory ?? (report?.webgpu?.available ? deviceMemory : null),
    webgpuBuffer: Math.min(limits.maxBufferSize ?? Infinity, limits.maxStorageBufferBindingSize ?? Infinity),
  };
}

/** Why `need` does not fit on `backend`, or null when it fits. */
export function whyNotFit(shape, need, backend, capacity) {
  if (backend === 'webgpu') {
    const layerKv = need.kvPositions * shape.kvHeads * Math.max(shape.keyLength, shape.valueLength) * KV_BYTES[need.kvType];
    if (layerKv > capacity.webgpuBuffer) {
      return `one layer's KV cache of ${need.kvPositions} positions (${gb(layerKv)}) exceeds the adapter's largest buffer (${gb(capacity.webgpuBuffer)})`;
    }
    if (capacity.webgpu != null && need.total > capacity.webgpu) return `it needs ${describeNeed(need)}, more than this device's estimated ${gb(capacity.webgpu)}`;
    return null;
  }
  return need.total > capacity.wasm ? `it needs ${describeNeed(need)}, more than the ${gb(capacity.wasm)} the WebAssembly heap can hold` : null;
}

export function describeNeed(need) {
  const window = need.kvPositions < need.context ? `, a window of ${need.kvPositions} positions under the kvBudget` : '';
  return `${gb(need.total)} (weights ${gb(need.weights)} + KV cache ${gb(need.kvCache)} at context ${need.context}${window})`;
}

/** What would fit in `room` bytes: the longest context for these weights, and the largest file at a short context. */
export function whatWouldFit(shape, need, room) {
  const perToken = kvBytesPerToken(shape, need.kvType);
  const hints = [];
  const maxContext = perToken ? Math.floor((room - need.weights - need.working) / perToken) : 0;
  if (need.kvPositions < need.context) {  // under a kvBudget the context is not what takes the room
    if (maxContext >= MIN_CONTEXT) hints.push(`a smaller kvBudget: ${Math.floor(maxContext * perToken)} bytes fit`);
  } else if (maxContext >= MIN_CONTEXT && maxContext < need.context) {
    hints.push(`a shorter context: contextSize ${2 ** Math.floor(Math.log2(maxContext))} fits`);
  }
  const shortContext = Math.min(need.context, 2048);
  const weightsRoom = room - need.working - shortContext * perToken;
  if (weightsRoom > 0) hints.push(`a smaller quantization: a file of at most ${gb(weightsRoom)} fits at context ${shortContext} (a lower-bit quantization of this model, or a smaller model)`);
  else hints.push('a smaller model');
  return hints.join('; or ');
}

/**
 * Checks the backend chosen for a model before it loads: the choice when the model fits; under 'auto', the
 * WebAssembly backend when only WebGPU is too small; else a ModelLoadError (code 'memory') that says what
 * would fit.
 * @param {{backend: 'webgpu'|'wasm', reason: string}} choice
 * @param {{header: object, size: number}} model the parsed header and the model's size in bytes
 * @param {{auto?: boolean, report?: object|null, contextSize?: number, kvType?: string, kvBudget?: number, gpuMemory?: number}} options
 */
export function fitBackend(choice, { header, size }, { auto = false, report = null, contextSize, kvType, kvBudget, gpuMemory } = {}) {
  const shape = modelShape(header, size);
  const need = memoryNeed(shape, contextSize, kvType, kvBudget);
  const capacity = backendCapacity(report, { gpuMemory });
  const why = whyNotFit(shape, need, choice.backend, capacity);
  if (!why) return choice;
  if (choice.backend === 'webgpu' && auto) {
    const cpuWhy = whyNotFit(shape, need, 'wasm', capacity);
    if (!cpuWhy) return { backend: 'wasm', reason: `WebGPU cannot hold the model (${why}); running on the WebAssembly CPU backend instead` };
    throw new ModelLoadError(`this model does not fit on this device. WebGPU: ${why}. WebAssembly: ${cpuWhy}. Choose ${whatWouldFit(shape, need, Math.max(capacity.wasm, capacity.webgpu ?? 0))}.`, { code: 'memory' });
  }
  const room = choice.backend === 'webgpu' ? (capacity.webgpu ?? capacity.wasm) : capacity.wasm;
  const bufferContext = Math.floor(capacity.webgpuBuffer / (shape.kvHeads * Math.max(shape.keyLength, shape.valueLength) * KV_BYTES[need.kvType]));
  const hint = choice.backend === 'webgpu' && why.includes('largest buffer')
    ? `a shorter context: contextSize ${2 ** Math.floor(Math.log2(Math.max(1, bufferContext)))} fits`
    : whatWouldFit(shape, need, room);
  throw new ModelLoadError(`this model does not fit in the ${choice.backend === 'webgpu' ? 'WebGPU' : 'WebAssembly'} backend: ${why}. Choose ${hint}.`, { code: 'memory' });
}
