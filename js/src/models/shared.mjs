// What the models of one engine share: one WebAssembly module per build (its heap holds every model that
// runs on that build), one GPU device, and the loader's stores. A second model costs its own weights and
// KV cache, not a second module, device or store.
import { startWasm } from '../wasm_module.mjs';

export class SharedMachinery {
  #modules = new Map();  // build key → {started: Promise, wasm, users}
  #device;               // the caller's GPUDevice (the device option), until it is lost
  #gpu = null;           // Promise<{device, limits}> of the device requested here, until it is lost
  #stores = null;        // Promise<object[]>: the loader's stores, opened once

  constructor({ device } = {}) {
    this.#device = device;
  }

  /**
   * A lease on the WebAssembly module of a build: {tabllm, module, threads, variant, release()}. The module
   * starts with its first lease and shuts down (its workers end) when the last one is released. Each session
   * of a threaded module keeps its threads, so a model joining one first adds the idle workers its session
   * takes to the pthread pool.
   * @param {{threads?: number, variant?: 'threaded'|'single'}} options
   */
  async wasm({ threads, variant } = {}) {
    const key = `${variant ?? 'default'}/${threads ?? 'default'}`;
    let entry = this.#modules.get(key);
    if (!entry) {
      entry = { started: startWasm({ threads, variant }), users: 0, wasm: null };
      this.#modules.set(key, entry);
    }
    entry.users++;
    let wasm;
    try {
      wasm = entry.wasm = await entry.started;
      if (entry.users > 1) await growPool(wasm);
    } catch (e) {
      if (--entry.users === 0) {
        this.#modules.delete(key);
        wasm?.tabllm.shutdown();
      }
      throw e;
    }
    let held = true;
    return {
      ...wasm,
      release: () => {
        if (!held) return;
        held = false;
        if (--entry.users > 0) return;
        this.#modules.delete(key);
        wasm.tabllm.shutdown();
      },
    };
  }

  /** Each started module's heap: {variant, threads, heapBytes (its size: it only grows), inUseBytes (allocated, not freed), models}. */
  heaps() {
    return [...this.#modules.values()].filter((e) => e.wasm).map(({ wasm, users }) => {
      const { heap_bytes: heapBytes, in_use_bytes: inUseBytes } = wasm.tabllm.heapStats();
      return { variant: wasm.variant, threads: wasm.threads, heapBytes, inUseBytes, models: users };
    });
  }

  /**
   * The GPU device the engine's WebGPU models share: {device, limits} (limits undefined for the caller's).
   * The adapter is asked for with the powerPreference of the model that first needs it (its energy profile's).
   */
  async gpu({ powerPreference } = {}) {
    if (this.#device) return { device: this.#device, limits: undefined };
    this.#gpu ??= (async () => {
      const { requestWebgpuDevice } = await import('../capabilities.mjs');
      return requestWebgpuDevice({ powerPreference });
    })();
    let gpu;
    try {
      gpu = await this.#gpu;
    } catch (e) {
      this.#gpu = null;
      throw e;
    }
    return gpu;
  }

  /** A device was lost: the models loaded next get a new one. */
  deviceLost(device) {
    if (device === this.#device) this.#device = undefined;
    const current = this.#gpu;
    current?.then((gpu) => { if (gpu.device === device && this.#gpu === current) this.#gpu = null; }, () => {});
  }

  /** The loader's stores (loader/index.mjs openStores), opened by the first model and reused by the others. */
  stores(options) {
    this.#stores ??= import('../loader/index.mjs').then(({ openStores }) => openStores(options));
    this.#stores.catch(() => { this.#stores = null; });
    return this.#stores;
  }
}

// Adds workers to a threaded module's pthread pool until it has the idle ones a session of its thread count
// takes (the workers of freed sessions go back to the pool, so later loads find them there).
async function growPool({ module, threads, variant }) {
  const pool = module.PThread;
  if (variant === 'single' || !pool) return;
  const missing = threads - 1 - pool.unusedWorkers.length;
  await Promise.all(Array.from({ length: Math.max(0, missing) }, () => new Promise((resolve) => {
    pool.allocateUnusedWorker();
    pool.loadWasmModuleToWorker(pool.unusedWorkers[pool.unusedWorkers.length - 1], resolve);
  })));
}
