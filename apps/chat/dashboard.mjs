// The dashboard view: engine.metrics() as figures and charts, refreshed while the view is open (and after
// each reply). Every figure shown has a data-figure attribute naming where it comes from in the snapshot,
// so what the page shows can be checked against engine.metrics() itself.
import { drawBars, drawLines } from './dashboard_charts.mjs';

const REFRESH_MS = 1000;

const ms = (v) => (v === null || v === undefined ? '–' : v < 1000 ? `${v.toFixed(1)} ms` : `${(v / 1000).toFixed(2)} s`);
const rate = (v) => (v === null || v === undefined ? '–' : v.toFixed(1));
const bytes = (v) => (v >= 1e9 ? `${(v / 1e9).toFixed(2)} GB` : v >= 1e6 ? `${(v / 1e6).toFixed(1)} MB` : v >= 1e3 ? `${(v / 1e3).toFixed(1)} kB` : `${v} B`);
const share = (r) => (!r ? 'n/a' : r.rate === null ? '–' : `${(r.rate * 100).toFixed(0)} % (${r.hits}/${r.of})`);
const at = (object, path) => path.split('.').reduce((o, k) => o?.[k], object);

// [section title, [label, snapshot path, format]…]
const CARDS = [
  ['Time to first token', [['p50', 'ttft_ms.p50', ms], ['p90', 'ttft_ms.p90', ms], ['p99', 'ttft_ms.p99', ms]]],
  ['Decode tokens/s', [['p50', 'decode_tokens_per_s.p50', rate], ['p90', 'decode_tokens_per_s.p90', rate], ['p99', 'decode_tokens_per_s.p99', rate]]],
  ['Prefill tokens/s', [['p50', 'prefill_tokens_per_s.p50', rate], ['p90', 'prefill_tokens_per_s.p90', rate], ['p99', 'prefill_tokens_per_s.p99', rate]]],
  ['Memory', [['GPU buffers', 'memory.gpu_buffer_bytes', bytes], ['WASM heap', 'memory.wasm_heap_bytes', bytes],
    ['KV hot', 'memory.kv_hot_bytes', bytes], ['KV cold', 'memory.kv_cold_bytes', bytes]]],
  ['Cache hits', [['weights store', 'cache.weights_store', share], ['prefix cache', 'cache.prefix_cache', share],
    ['KV pages', 'cache.kv_pages', share], ['KV reuse', 'cache.kv_reuse', share]]],
  ['Fallbacks, speculation', [['backend', 'fallbacks.backend', String], ['cloud', 'fallbacks.cloud', String],
    ['acceptance', 'speculative.acceptance_rate', (v) => (v === undefined || v === null ? 'n/a' : `${(v * 100).toFixed(0)} %`)]]],
];

const FORMATS = new Map(CARDS.flatMap(([, rows]) => rows.map(([, path, format]) => [path, format])));

/** The text a figure of the snapshot `m` is shown as (path: its data-figure). */
export function figureText(m, path) {
  return FORMATS.get(path)(at(m, path));
}

export class Dashboard {
  #root;
  #engine = () => null;
  #timer = 0;
  #refreshing = null;

  /** @param {HTMLElement} root the view's element; @param {() => object|null} engine the engine now loaded */
  constructor(root, engine) {
    this.#root = root;
    this.#engine = engine;
    this.summary = root.querySelector('.dash-summary');
    this.cards = root.querySelector('.dash-cards');
    this.charts = {
      decode: root.querySelector('#dash-decode'), ttft: root.querySelector('#dash-ttft'), gpu: root.querySelector('#dash-gpu'),
    };
    this.gpuNote = root.querySelector('.dash-gpu-note');
    this.cards.replaceChildren(...CARDS.map(([title, rows]) => {
      const card = document.createElement('section');
      card.className = 'dash-card';
      const h = document.createElement('h2');
      h.textContent = title;
      const dl = document.createElement('dl');
      for (const [label, path] of rows) {
        const dt = document.createElement('dt');
        dt.textContent = label;
        const dd = document.createElement('dd');
        dd.dataset.figure = path;
        dd.textContent = '–';
        dl.append(dt, dd);
      }
      card.append(h, dl);
      return card;
    }));
    /** The snapshot last shown and the points each chart drew (tests read them). */
    this.shown = null;
    this.drawn = {};
  }

  get visible() {
    return !this.#root.hidden;
  }

  show() {
    this.#root.hidden = false;
    clearInterval(this.#timer);
    this.#timer = setInterval(() => this.refresh(), REFRESH_MS);
    return this.refresh();
  }

  hide() {
    this.#root.hidden = true;
    clearInterval(this.#timer);
  }

  /** Reads engine.metrics() and redraws (one refresh at a time). */
  refresh() {
    this.#refreshing ??= this.#refresh().finally(() => { this.#refreshing = null; });
    return this.#refreshing;
  }

  async #refresh() {
    const engine = this.#engine();
    if (!engine?.metrics) {
      this.summary.textContent = 'Load a model to see its figures.';
      return;
    }
    const m = await engine.metrics();
    this.shown = m;
    const profile = m.profile.active === m.profile.profile ? m.profile.profile : `${m.profile.profile} → ${m.profile.active}`;
    this.summary.textContent = `${m.model} on ${m.backend ?? 'no local backend'} · profile ${profile} · ${m.requests} requests in the window`
      + `${m.persisted ? ' (kept on this device, encrypted)' : ''} · percentiles from the engine's own timings`;
    for (const path of FORMATS.keys()) this.cards.querySelector(`[data-figure="${path}"]`).textContent = figureText(m, path);
    const groups = m.by_model.map((g) => ({ ...g, name: `${g.model} · ${g.backend}` }));
    const seriesOf = (key) => groups.map((g) => ({
      name: g.name,
      points: m.history.map((s) => (s.model === g.model && s.backend === g.backend ? s[key] : null)),
    }));
    this.drawn.decode = drawLines(this.charts.decode, seriesOf('decode_tokens_per_s'), 'no requests yet');
    this.drawn.ttft = drawLines(this.charts.ttft, seriesOf('ttft_ms'), 'no requests yet');
    const gpu = m.gpu;
    const bars = gpu?.kinds ? Object.entries(gpu.kinds).map(([name, k]) => ({ name, value: k.us_per_step })).sort((a, b) => b.value - a.value) : [];
    this.drawn.gpu = drawBars(this.charts.gpu, bars, 'µs', gpu ? 'no per-dispatch GPU timestamps on this adapter' : 'the WebAssembly backend does no GPU work');
    this.gpuNote.dataset.figure = 'gpu.step_us';
    this.gpuNote.textContent = !gpu ? 'GPU time: none (the model runs on the CPU).'
      : `GPU time per decode step: ${gpu.step_us === null ? '–' : `${gpu.step_us.toFixed(0)} µs`} (${gpu.source}${gpu.steps ? `, ${gpu.steps} steps` : ''}).`;
  }
}
