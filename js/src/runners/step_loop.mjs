// The loop both runners share: drive a session step by step, hand each chunk (and, when asked, the
// tokens of that step with their log-probabilities) to the caller, and stop between tokens when told.

const isNode = typeof process === 'object' && typeof process.versions?.node === 'string';

// A macrotask: lets pending messages (an abort from the main thread, a fetch's AbortSignal) through.
// setTimeout(0) would be clamped to 4 ms in browsers; a message round-trip is not.
export const yieldToEventLoop = isNode && typeof setImmediate === 'function'
  ? () => new Promise((resolve) => setImmediate(resolve))
  : () => new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(0);
  });

const YIELD_EVERY_MS = 8;

/**
 * A runner's run() over a request: a prepared one (Model.prepare, started with `params` over its own), or
 * a prompt with its whole params, prepared here and freed when the run ends.
 * @param {object} model the core's Model (js/src/core/wasm.mjs)
 * @param {object|string} request
 * @param {object} params
 * @param {(request: object, params: object) => AsyncGenerator} run
 */
export function runRequest(model, request, params, run) {
  if (typeof request !== 'string') return run(request, params);
  const prepared = model.prepare(request, params);  // a refused request throws here, before any step
  async function* owned() {
    try {
      return yield* run(prepared, {});
    } finally {
      prepared.free();
    }
  }
  return owned();
}

/**
 * @param {object} session a core/wasm.mjs Session, already begun
 * @param {() => Promise<string|null>} step runs one step: the chunk, or null once finished
 * @param {{wantTokens: boolean, shouldStop: () => boolean, pace?: (busyMs: number) => Promise<void>|null}} control
 *   pace: an energy profile's rest after a step that took busyMs (profiles/pacer.mjs)
 * @returns {AsyncGenerator<{text: string, tokens: object[]|null}, {result: object, stopped: boolean}>}
 */
export async function* stepLoop(session, step, { wantTokens, shouldStop, pace }) {
  let lastYield = performance.now();
  for (;;) {
    if (shouldStop()) {
      session.abort();
      return { result: session.result(), stopped: true };
    }
    const started = performance.now();
    const text = await step();
    if (text === null) return { result: session.result(), stopped: false };
    const tokens = wantTokens ? session.lastTokens() : null;
    if (text || tokens?.length) yield { text, tokens };
    const rest = pace?.(performance.now() - started);
    if (rest) {
      await rest;
      lastYield = performance.now();
    } else if (performance.now() - lastYield > YIELD_EVERY_MS) {
      await yieldToEventLoop();
      lastYield = performance.now();
    }
  }
}
