// engine.metrics(): what the engine measured of itself. The engine hands it each finished request's core
// results (a speculative fallback among them), each model load, each backend fallback; the rest is read from the runner when asked (resources,
// cache counters, the GPU timer). docs/metrics.md says what each figure means and how it is measured.
import { cacheRates, resources } from './resources.mjs';
import { HistoryStore } from './history_store.mjs';
import { Recorder, sampleOf } from './recorder.mjs';

export class EngineMetrics {
  #recorder;
  #history = null;
  #opening = null;
  #where = null;    // the history's encryption and cacheDir, when it persists
  #reopen = false;  // forget() removed the history (and its key): the next request opens a new one
  #loads = { loads: 0, loadsFromStore: 0 };
  #fallbacks = { backend: 0, speculative: 0 };

  /** @param {{window?: number, persist?: boolean}} options the engine option `metrics`; plus the engine's encryption and cacheDir */
  constructor({ window, persist = false, encryption, cacheDir } = {}) {
    this.#recorder = new Recorder({ window });
    if (persist) {
      this.#where = { encryption, cacheDir };
      this.#opening = this.#openHistory();
    }
  }

  async #openHistory() {
    const history = await HistoryStore.open(this.#where);
    const stored = await history.load();
    // Requests recorded while the history loaded come after it.
    const fresh = this.#recorder.samples.splice(0);
    for (const s of [...stored, ...fresh]) this.#recorder.add(s);
    this.#history = history;
    if (fresh.length) history.save(this.#recorder.samples);
  }

  /** Resolves once a persisted history is loaded (a failure to open it is thrown here). */
  ready() {
    return this.#opening ?? Promise.resolve();
  }

  /** A model load finished (its loader's 'ready' progress event: fromCache says the store served it). */
  observeLoad(event) {
    this.#loads.loads++;
    if (event.fromCache) this.#loads.loadsFromStore++;
  }

  /** The requested backend could not run the model and another ran it. */
  observeFallback() {
    this.#fallbacks.backend++;
  }

  /** A request finished: its core results (one per choice) and where it ran. */
  record(results, where) {
    if (!results.length) return;
    if (this.#reopen) {
      this.#reopen = false;
      this.#opening = this.#openHistory();
    }
    if (results.some((r) => r.speculative?.fallback)) this.#fallbacks.speculative++;
    this.#recorder.add(sampleOf(results, where));
    this.#history?.save(this.#recorder.samples);
  }

  /**
   * The snapshot engine.metrics() returns.
   * @param {object|null} runner the loaded runner
   * @param {object|null} cloud the engine's Cloud (cloud.mjs), for its fallback count
   * @param {{model: string, backend: string|null, profile: object}} state the engine's model, backend and profile (EngineProfile.describe())
   */
  snapshot(runner, cloud, { profile, model, backend }) {
    const samples = this.#recorder.samples;
    return {
      model, backend, profile,
      window: { size: this.#recorder.window, since: samples[0]?.at ?? null },
      ...this.#recorder.summary(),
      gpu: gpuTime(runner, samples),
      memory: resources(runner),
      cache: cacheRates(this.#loads, runner, samples),
      fallbacks: { backend: this.#fallbacks.backend, speculative: this.#fallbacks.speculative, cloud: cloud ? cloud.log().filter((e) => e.sent).length : 0 },
      history: samples.map((s) => ({ ...s })),
      persisted: !!this.#history,
    };
  }

  /** Forgets the window and the stored history (engine.forget() removes the stored folder and the key too,
   * so a persisting engine keeps the next requests under a new key). */
  async forget() {
    this.#recorder.clear();
    await this.#opening?.catch(() => {});
    await this.#history?.clear();
    this.#history = null;
    this.#opening = null;
    this.#reopen = !!this.#where;
  }

  /** Waits until the history (when it persists) is opened and written. */
  async flush() {
    await this.#opening?.catch(() => {});
    await this.#history?.flush();
  }
}

// The GPU's time per decode step: per kind of dispatch from the timer where the device has timestamps;
// otherwise the window's mean wall-clock decode step (decode_ms / tokens), labelled as an estimate. None on
// the WebAssembly backend.
function gpuTime(runner, samples) {
  if (runner?.backend !== 'webgpu') return null;
  const timer = runner.gpu.executor.timer;
  if (timer?.steps) return timer.summary();
  const decoding = samples.filter((s) => s.backend === 'webgpu' && s.decode_tokens > 1 && s.decode_ms > 0);
  const ms = decoding.reduce((t, s) => t + s.decode_ms, 0);
  const tokens = decoding.reduce((t, s) => t + s.decode_tokens - 1, 0);
  return { source: 'wall-clock estimate', steps: tokens, step_us: tokens ? (ms * 1000) / tokens : null, kinds: null,
    note: timer ? 'no decode step timed yet' : 'the adapter has no timestamp-query: the wall-clock time of a decode step, GPU and host together' };
}
