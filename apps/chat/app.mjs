// The chat page: all model work happens in a Web Worker (createWorkerEngine), so this thread only moves
// text into the page, and it stays responsive while a reply streams.
import { RateChart } from './chart.mjs';
import { Dashboard } from './dashboard.mjs';
import { HUGGING_FACE_MODELS, STORIES_NOTE, repositoryPage } from './models.mjs';
import { NotesView } from './notes.mjs';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const ui = {
  modelSelect: $('model-select'), modelUrl: $('model-url'), modelFile: $('model-file'), backend: $('backend'),
  form: $('model-form'), load: $('load'), loading: $('loading'), progress: $('progress'), progressText: $('progress-text'),
  error: $('error'), errorText: $('error-text'), messages: $('messages'), prompt: $('prompt'), composer: $('composer'),
  send: $('send'), stop: $('stop'), clear: $('clear'), forget: $('forget'), mode: $('mode'), temperature: $('temperature'),
  temperatureValue: $('temperature-value'), maxTokens: $('max-tokens'), ttft: $('ttft'), tps: $('tps'), tokens: $('tokens'),
  engineStatus: $('engine-status'), capabilities: $('capabilities'), cached: $('cached'),
  modelNote: $('model-note'), modelWarning: $('model-warning'), profile: $('profile'), viewChat: $('view-chat'), viewDashboard: $('view-dashboard'),
  viewNotes: $('view-notes'),
};
const chart = new RateChart($('chart'));
const LIVE_RATE_AFTER_MS = 250;

// What the tests (and a curious developer in the console) can read.
// history: the chat's messages, each with the element that shows it (item); outOfView: how many of them the
// last reply's prompt left out (truncation "auto" drops the oldest turns once the chat outgrows the context).
const app = window.tabllmChat = {
  state: 'starting', loads: 0, progress: [], engine: null, backend: null, history: [], outOfView: 0, replies: [], lastStats: null,
  stopLatencyMs: null, errors: [],
};
app.dashboard = new Dashboard($('dashboard'), () => app.engine);
app.notes = new NotesView($('notes'), { engine: () => app.engine, similarity: () => tabllm.similarity, describeProgress, errorMessage });

let tabllm = null;
const builtInSha256 = new Map();  // built-in model URL → SHA-256 from the build, checked on download
const hubModels = new Map(HUGGING_FACE_MODELS.map((m) => [m.model, m]));
let controller = null;
let stopPressedAt = null;

function setState(state) {
  app.state = state;
  document.body.dataset.state = state;
  const busy = state === 'loading' || state === 'generating';
  ui.send.disabled = state !== 'ready';
  ui.stop.disabled = state !== 'generating';
  ui.load.disabled = busy;
  ui.clear.disabled = state === 'generating';
}

// An engine error (OpenAI's {error: {message}}), an Error, or a string, as the text shown.
function errorMessage(error) {
  return error?.error?.message ?? error?.message ?? String(error);
}

function showError(error) {
  const message = errorMessage(error);
  app.errors.push(message);
  ui.errorText.textContent = message;
  ui.error.hidden = false;
  console.warn(`tabllm chat: ${message}`);
}

const mb = (bytes) => `${(bytes / 1e6).toFixed(bytes < 1e7 ? 2 : 1)} MB`;
const seconds = (ms) => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`);

const PHASES = {
  download: 'downloading', verify: 'checking SHA-256', load: 'loading into WebAssembly', upload: 'uploading to the GPU', ready: 'ready',
};

// A load progress event as a progress bar's value (null: unknown) and a line of text.
function describeProgress(p) {
  const total = p.total ?? 0;
  const value = p.phase === 'ready' && !total ? 1 : total > 0 ? Math.min(1, (p.loaded ?? 0) / total) : null;
  const parts = [PHASES[p.phase] ?? p.phase ?? 'loading'];
  if (p.loaded !== undefined) parts.push(total ? `${mb(p.loaded)} of ${mb(total)}` : mb(p.loaded));
  if (p.bytesPerSecond) parts.push(`${mb(p.bytesPerSecond)}/s`);
  if (p.fromCache) parts.push('stored on this device');
  return { value, text: parts.join(' · ') };
}

function showProgress(p) {
  // The engine has one onProgress for all its models: the notes model's load is shown in its own view.
  if (app.notes.loadingModel) return app.notes.showProgress(p);
  app.progress.push({ ...p, at: Math.round(performance.now()) });
  ui.loading.hidden = false;
  const { value, text } = describeProgress(p);
  if (value === null) ui.progress.removeAttribute('value');
  else ui.progress.value = value;
  ui.progressText.textContent = text;
}

// ---- models --------------------------------------------------------------------------------------------

async function fillModelList() {
  let builtIn = [];
  try {
    builtIn = await (await fetch('models/models.json')).json();
  } catch {
    showError('models/models.json is missing: build the demo with node apps/chat/build.mjs');
  }
  for (const m of builtIn) {
    const href = new URL(m.url, location.href).href;
    builtInSha256.set(href, m.sha256);
    ui.modelSelect.add(new Option(`${m.name} (${mb(m.size)})`, href, m.default, m.default));
  }
  // Instruct models from Hugging Face, with their download size and what they need at the demo's context.
  const hub = document.createElement('optgroup');
  hub.label = 'Instruct models (Hugging Face, Q4_K_M)';
  for (const m of HUGGING_FACE_MODELS) {
    const need = tabllm?.memoryNeed ? tabllm.memoryNeed({ ...m.shape, weights: m.size }, m.contextSize) : null;
    m.needBytes = need?.total ?? null;
    hub.append(new Option(`${m.name} · ${gbText(m.size)}${need ? ` · needs ${gbText(need.total)}` : ''}`, m.model));
  }
  ui.modelSelect.add(hub);
  ui.modelSelect.add(new Option('a GGUF file by URL or hf: reference…', 'url'));
  ui.modelSelect.add(new Option('a GGUF file on this device…', 'file'));
  const wanted = params.get('model');
  if (wanted) {
    const href = new URL(wanted, location.href).href;
    if (hubModels.has(wanted)) ui.modelSelect.value = wanted;
    else if (![...ui.modelSelect.options].some((o) => o.value === href)) {
      ui.modelSelect.value = 'url';
      ui.modelUrl.value = href;
    } else ui.modelSelect.value = href;
  }
  syncModelInputs();
}

function syncModelInputs() {
  ui.modelUrl.hidden = ui.modelSelect.value !== 'url';
  ui.modelFile.hidden = ui.modelSelect.value !== 'file';
  ui.modelNote.replaceChildren(...modelNote(ui.modelSelect.value));
}

const gbText = (bytes) => `${(bytes / 1e9).toFixed(2)} GB`;

// What the chosen model is: the story model's nature, or a Hugging Face model's download, need and page.
function modelNote(choice) {
  const hubModel = hubModels.get(choice);
  if (hubModel) {
    const link = Object.assign(document.createElement('a'), { href: repositoryPage(hubModel.model), textContent: repositoryPage(hubModel.model).replace('https://', ''), target: '_blank', rel: 'noopener' });
    const need = hubModel.needBytes ? `, needs about ${gbText(hubModel.needBytes)} of memory at a context of ${hubModel.contextSize} tokens` : '';
    return [`${hubModel.name}: a download of about ${gbText(hubModel.size)} (kept on this device afterwards)${need}. From `, link, '.'];
  }
  if (builtInSha256.has(choice) && /stories260K/.test(choice)) return [STORIES_NOTE];
  return [];
}

// A model's name on the page: a URL's or reference's file name, a file's name, a split model's first part.
function modelLabel(model) {
  if (Array.isArray(model)) return `${[...model].sort((a, b) => a.name.localeCompare(b.name))[0].name} (${model.length} parts)`;
  return typeof model === 'string' ? decodeURIComponent(model.split('/').pop()) : model.name;
}

function chosenModel() {
  const choice = ui.modelSelect.value;
  if (choice === 'url') {
    if (!ui.modelUrl.value.trim()) throw new Error('enter the URL of a .gguf file');
    return ui.modelUrl.value.trim();
  }
  if (choice === 'file') {
    const files = [...(ui.modelFile.files ?? [])];
    if (files.length === 0) throw new Error('choose a .gguf file (all its parts, for a split model)');
    return files.length === 1 ? files[0] : files;  // several: the parts of a split model
  }
  return choice;
}

async function refreshCached() {
  if (!tabllm) return;
  try {
    const models = await tabllm.listCachedModels();
    ui.cached.replaceChildren(...models.map((m) => {
      const li = document.createElement('li');
      const name = decodeURIComponent(new URL(m.url).pathname.split('/').pop() || m.url);
      li.textContent = `${name} · ${m.complete ? mb(m.size) : `partial, ${mb(m.stored ?? 0)}`} · ${m.storage}`;
      li.title = m.url;
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.textContent = 'delete';
      remove.addEventListener('click', async () => {
        await tabllm.deleteCachedModel(m.url);
        refreshCached();
      });
      li.append(remove);
      return li;
    }));
    if (models.length === 0) ui.cached.replaceChildren(Object.assign(document.createElement('li'), { textContent: 'none yet' }));
  } catch (error) {
    ui.cached.textContent = `storage unavailable: ${error.message}`;
  }
}

// The capability report (js/src/capabilities.mjs) in one line.
function describeCapabilities(c) {
  const adapter = c.webgpu?.adapter;
  const gpu = c.webgpu?.available ? [adapter?.vendor, adapter?.architecture, adapter?.description].filter(Boolean).join(' ') || 'yes' : `no (${c.webgpu?.reason})`;
  return [`WebGPU: ${gpu}`, `cross-origin isolated: ${c.crossOriginIsolated ? 'yes' : 'no'}`,
    `threads: ${c.wasm?.threads ? c.hardwareThreads ?? 'yes' : 'no'}`, `SIMD: ${c.wasm?.simd ? 'yes' : 'no'}`].join(' · ');
}

async function disposeEngine(engine) {
  if (!engine) return;
  try {
    await engine.unload?.();
    await engine.terminate?.();
  } catch (error) {
    console.warn(`tabllm chat: disposing the previous engine failed: ${error.message}`);
  }
}

async function loadEngine() {
  let model;
  try {
    model = chosenModel();
  } catch (error) {
    showError(error);
    app.loads++;
    return;
  }
  ui.error.hidden = true;
  app.progress = [];
  const previousState = app.engine ? 'ready' : 'idle';
  setState('loading');
  const backend = ui.backend.value;
  const started = performance.now();
  ui.engineStatus.textContent = `loading ${modelLabel(model)}…`;
  try {
    const sha256 = typeof model === 'string' ? builtInSha256.get(model) : undefined;
    // One core stays free for the page (and the browser): WebAssembly threads spin while they wait.
    const threads = Math.max(1, (navigator.hardwareConcurrency || 2) - 1);
    const contextSize = typeof model === 'string' ? hubModels.get(model)?.contextSize : undefined;
    // engine=sw: one model for all the demo's tabs, hosted by one of them and reached through the Service
    // Worker (docs/service-worker.md); otherwise this tab's own worker.
    const create = params.get('engine') === 'sw' ? tabllm.createServiceWorkerEngine : tabllm.createWorkerEngine;
    // metrics.persist: the dashboard's history outlives the page, sealed on this device (docs/metrics.md).
    // The chat model's own options go in its entry of `models`: given beside `model`, they would be the
    // engine's, and the notes model loaded into it later would get them too (its file checked against this
    // one's SHA-256).
    const chatModel = { model, prefixCache: true, ...(sha256 ? { sha256 } : {}), ...(contextSize ? { contextSize } : {}) };
    const engine = await create({ models: [chatModel], backend, threads, metrics: { persist: true }, onProgress: showProgress });
    const previous = app.engine;
    app.engine = engine;
    app.backend = engine.backend ?? backend;
    app.loadMs = performance.now() - started;
    await disposeEngine(previous);
    ui.engineStatus.textContent = `${modelLabel(model)} on ${app.backend} · loaded in ${seconds(app.loadMs)}`;
    if (engine.backendReason) ui.engineStatus.title = engine.backendReason;
    ui.engineStatus.textContent += engine.backendReason ? ` (${engine.backendReason})` : '';
    ui.loading.hidden = true;
    // Without a chat template, chat messages reach the model as plain text: say so.
    const template = engine.modelInfo?.chat_template;
    ui.modelWarning.hidden = !!template;
    ui.modelWarning.textContent = template ? '' : 'This model has no chat template: chat messages reach it as plain text, and it may not answer as an assistant. '
      + 'Use "continue text" mode, or load an instruct model.';
    app.chatTemplate = !!template;
    setState('ready');
  } catch (error) {
    ui.loading.hidden = true;
    showError(error);
    ui.engineStatus.textContent = app.engine ? `kept the previous model (${app.backend})` : 'not loaded';
    setState(previousState);
  }
  app.loads++;
  refreshCached();
}

// ---- chat ----------------------------------------------------------------------------------------------

// The chat thread survives a reload (localStorage, sealed with the package's at-rest key: no plain text of
// the chat is stored); with the engine's prefix cache, its KV cache does too (sealed as well), so the next
// turn after a reload does not prefill the whole thread again.
const THREAD_KEY = 'tabllm-chat-thread';
let sealer = null;  // tabllm.createSealer's, once the package is loaded
let saving = Promise.resolve();

// Saves run one after another, so that the last thread is the one kept.
function saveThread() {
  const thread = JSON.stringify(app.history.map(({ role, content }) => ({ role, content })));
  const empty = app.history.length === 0;
  saving = saving.then(async () => {
    if (empty) return localStorage.removeItem(THREAD_KEY);
    if (!sealer) throw new Error('the tabllm package is not loaded');
    localStorage.setItem(THREAD_KEY, await sealer.sealText('thread', thread));
  }).catch((error) => console.warn(`tabllm chat: the thread is not saved (${error.message})`));
  app.saved = saving;
}

async function restoreThread() {
  const stored = localStorage.getItem(THREAD_KEY);
  if (stored === null || !sealer) return;
  let saved = [];
  try {
    saved = JSON.parse(await sealer.openText('thread', stored));
  } catch (error) {
    console.warn(`tabllm chat: the saved thread was discarded (${error.message})`);
    localStorage.removeItem(THREAD_KEY);  // unreadable: start afresh
  }
  for (const { role, content } of Array.isArray(saved) ? saved : []) {
    if ((role !== 'user' && role !== 'assistant') || typeof content !== 'string') continue;
    app.history.push({ role, content, item: addMessage(role, content) });
  }
}

function addMessage(role, text) {
  const li = document.createElement('li');
  li.className = role;
  li.append(document.createTextNode(text));
  ui.messages.append(li);
  li.scrollIntoView({ block: 'end' });
  return li;
}

// The marker before the first message the model still sees: the messages above it left its view.
const outOfViewMarker = Object.assign(document.createElement('li'), {
  className: 'out-of-view', textContent: 'the messages above are out of the model\'s view (its context is full)',
});

function markOutOfView(count) {
  app.outOfView = count;
  const first = app.history[count]?.item;
  if (count > 0 && first) first.before(outOfViewMarker);
  else outOfViewMarker.remove();
}

async function send(text) {
  const mode = ui.mode.value;
  const temperature = Number(ui.temperature.value);
  const maxTokens = Math.max(1, Math.floor(Number(ui.maxTokens.value) || 1));
  const userItem = addMessage('user', text);
  if (mode === 'chat') app.history.push({ role: 'user', content: text, item: userItem });
  const bubble = addMessage('assistant streaming', '');
  const textNode = bubble.firstChild;
  setState('generating');
  controller = new AbortController();
  stopPressedAt = null;
  chart.reset();
  ui.ttft.textContent = ui.tps.textContent = ui.tokens.textContent = '…';

  const started = performance.now();
  let firstAt = null;
  let pieces = 0;
  let reply = '';
  let pending = '';
  let frame = 0;
  let usage = null;
  let finishReason = null;
  let liveRate = null;
  // All page updates of a frame at once: the text, the counters, the chart.
  const flush = () => {
    frame = 0;
    textNode.appendData(pending);
    pending = '';
    ui.tokens.textContent = String(pieces);
    if (liveRate !== null) {
      ui.tps.textContent = liveRate.toFixed(1);
      chart.add(liveRate);
    }
  };
  // truncation "auto": a chat longer than the context loses its oldest turns (marked in the thread), and a
  // text longer than the context keeps its end.
  const request = { stream: true, stream_options: { include_usage: true }, temperature, max_tokens: maxTokens, truncation: 'auto', profile: ui.profile.value };
  try {
    // Stop ends the reply on the page at once; the engine stops at the end of the token it is computing.
    const stopped = new Promise((resolve) => controller.signal.addEventListener('abort', () => resolve(null), { once: true }));
    const messages = app.history.map(({ role, content }) => ({ role, content }));
    const creating = mode === 'chat'
      ? app.engine.chat.completions.create({ ...request, messages }, { signal: controller.signal })
      : app.engine.completions.create({ ...request, prompt: text }, { signal: controller.signal });
    const stream = await Promise.race([creating, stopped]);
    if (stream === null) creating.catch(() => {});
    const iterator = stream?.[Symbol.asyncIterator]();
    while (iterator) {
      const next = iterator.next();
      const step = await Promise.race([next, stopped]);
      if (step === null) {
        next.catch(() => {});
        iterator.return?.().catch(() => {});
        finishReason = 'stopped';
        break;
      }
      if (step.done) break;
      const chunk = step.value;
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices?.[0];
      if (choice?.finish_reason) finishReason = choice.finish_reason;
      const piece = mode === 'chat' ? choice?.delta?.content : choice?.text;
      if (!piece) continue;
      const now = performance.now();
      if (firstAt === null) {
        firstAt = now;
        ui.ttft.textContent = seconds(now - started);
      }
      pieces++;
      reply += piece;
      pending += piece;
      // Chunks can arrive in bursts (a fast engine outruns the page's event loop): the arrival rate over the
      // first few milliseconds says nothing, so the live figure waits for a quarter second of the reply.
      if (pieces > 1 && now - firstAt >= LIVE_RATE_AFTER_MS) liveRate = (pieces - 1) / ((now - firstAt) / 1000);
      if (!frame) frame = requestAnimationFrame(flush);
    }
    if (stream === null) finishReason = 'stopped';
  } catch (error) {
    if (controller.signal.aborted) finishReason = 'stopped';
    else {
      finishReason = 'error';
      showError(error);
    }
  }
  if (frame) cancelAnimationFrame(frame);
  flush();
  const endedAt = performance.now();
  if (stopPressedAt !== null) app.stopLatencyMs = endedAt - stopPressedAt;
  bubble.classList.remove('streaming');

  const tokens = usage?.completion_tokens ?? pieces;
  // The engine's own timings when the reply ends with them (usage.timings); the page's clock otherwise (a
  // reply stopped before its usage chunk).
  const timings = usage?.timings;
  const stats = {
    ttftMs: firstAt === null ? null : firstAt - started,
    tokens,
    tokensPerSecond: timings?.decode_tokens_per_s > 0 ? timings.decode_tokens_per_s
      : firstAt !== null && tokens > 1 ? (tokens - 1) / ((endedAt - firstAt) / 1000) : null,
    finishReason,
    usage,
  };
  app.lastStats = stats;
  if (stats.tokensPerSecond) ui.tps.textContent = stats.tokensPerSecond.toFixed(1);
  ui.tokens.textContent = String(tokens);
  if (stats.ttftMs === null) ui.ttft.textContent = '–';
  const note = document.createElement('span');
  note.className = 'note';
  const shifts = usage?.context_shifts ?? 0;
  note.textContent = [finishReason ?? 'done', `${tokens} tokens`, stats.ttftMs !== null ? `first token after ${seconds(stats.ttftMs)}` : null,
    stats.tokensPerSecond ? `${stats.tokensPerSecond.toFixed(1)} tokens/s` : null,
    shifts ? `the context was full: its older half left the model's view ${shifts === 1 ? 'once' : `${shifts} times`}` : null,
  ].filter(Boolean).join(' · ');
  bubble.append(note);
  if (mode === 'chat' && usage) markOutOfView(usage.truncated_messages ?? 0);
  if (mode === 'chat' && reply) app.history.push({ role: 'assistant', content: reply, item: bubble });
  if (mode === 'chat') saveThread();
  app.replies.push({ text: reply, ...stats, startedAt: started, endedAt });
  window.dispatchEvent(new CustomEvent('tabllm-chat-reply', { detail: app.replies.at(-1) }));
  if (app.dashboard.visible) app.dashboard.refresh();
  controller = null;
  setState(app.engine ? 'ready' : 'idle');
}

// ---- wiring --------------------------------------------------------------------------------------------

ui.modelSelect.addEventListener('change', syncModelInputs);
ui.form.addEventListener('submit', (event) => {
  event.preventDefault();
  loadEngine();
});
ui.composer.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = ui.prompt.value.trim();
  if (!text || app.state !== 'ready') return;
  ui.prompt.value = '';
  send(text);
});
ui.prompt.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey) {
    event.preventDefault();
    ui.composer.requestSubmit();
  }
});
ui.stop.addEventListener('click', () => {
  if (!controller) return;
  stopPressedAt = performance.now();
  controller.abort();
});
function clearThread() {
  app.history = [];
  app.outOfView = 0;
  ui.messages.replaceChildren();
  saveThread();
}
ui.clear.addEventListener('click', clearThread);
// Everything the demo and the package keep on this device: models, KV pages, the key, the thread.
ui.forget.addEventListener('click', async () => {
  if (!tabllm || !confirm('Forget everything this demo stored on this device: the chat, its KV cache, the encryption key and the downloaded models?')) return;
  clearThread();
  try {
    await saving;
    await (app.engine ? app.engine.forget() : tabllm.forgetStored());
    ui.engineStatus.textContent += ' · everything stored was forgotten';
  } catch (error) {
    showError(error);
  }
  app.forgotten = (app.forgotten ?? 0) + 1;
  refreshCached();
});
// The chat, the dashboard or the notes: one view at a time (?view=dashboard or ?view=notes opens on it).
const VIEWS = { chat: ui.viewChat, dashboard: ui.viewDashboard, notes: ui.viewNotes };
function showView(view) {
  document.body.dataset.view = view;
  for (const [name, button] of Object.entries(VIEWS)) button.setAttribute('aria-pressed', String(view === name));
  if (view === 'dashboard') app.dashboard.show().catch(showError);
  else app.dashboard.hide();
  if (view === 'notes') app.notes.show();
  else app.notes.hide();
}
for (const [name, button] of Object.entries(VIEWS)) button.addEventListener('click', () => showView(name));
ui.temperature.addEventListener('input', () => {
  ui.temperatureValue.value = Number(ui.temperature.value).toFixed(2);
});
ui.error.querySelector('button').addEventListener('click', () => {
  ui.error.hidden = true;
});

for (const [name, input] of [['backend', ui.backend], ['mode', ui.mode], ['temperature', ui.temperature], ['max_tokens', ui.maxTokens], ['profile', ui.profile]]) {
  if (params.has(name)) input.value = params.get(name);
}
ui.temperatureValue.value = Number(ui.temperature.value).toFixed(2);

setState('idle');
showView(Object.hasOwn(VIEWS, params.get('view')) ? params.get('view') : 'chat');
if ('serviceWorker' in navigator && params.get('sw') !== '0') {
  // The page's own files, cached for offline use (models are kept by the loader, in OPFS), and the
  // origin's OpenAI endpoint (tabllm/sw).
  navigator.serviceWorker.register('sw.js', { type: 'module' }).catch((error) => console.warn(`tabllm chat: no offline shell: ${error.message}`));
}
try {
  tabllm = await import('./js/dist/index.js');
} catch (error) {
  showError(`the tabllm package did not load (${error.message}): run bash scripts/setup.sh, then node apps/chat/build.mjs`);
  setState('error');
  app.loads++;
}
if (tabllm) {
  try {
    sealer = await tabllm.createSealer({ store: 'chat' });
    await restoreThread();
  } catch (error) {
    console.warn(`tabllm chat: the thread cannot be saved on this device (${error.message})`);
  }
}
await fillModelList();
if (tabllm) refreshCached();
if (tabllm) {
  tabllm.capabilityReport?.().then((c) => { if (!ui.capabilities.textContent) ui.capabilities.textContent = describeCapabilities(c); }).catch(() => {});
  if (params.get('autoload') !== '0' && ui.modelSelect.value !== 'file') await loadEngine();
}
