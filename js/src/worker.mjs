// The engine's side of createWorkerEngine: runs in a Web Worker (or a Node worker_threads Worker) and
// serves the main thread's proxy over messages. Streamed chunks are posted as they are produced.
import { createEngine } from './engine.mjs';
import { serializeError } from './errors.mjs';
import { importNodeOnly, isNode } from './node_only.mjs';

let port = null;  // the Web Worker's global scope, or Node's parentPort
const post = (message) => port.postMessage(message);

let engine = null;
const running = new Map();  // request id → AbortController

function state() {
  return { backend: engine.backend, backendReason: engine.backendReason, modelInfo: engine.modelInfo, modelId: engine.modelId, contextSize: engine.contextSize, runtime: engine.runtime, models: engine.models.info() };
}

async function handle(message) {
  const { type, id } = message;
  try {
    switch (type) {
      case 'init': {
        engine = await createEngine({
          ...message.options,
          onProgress: (event) => post({ type: 'progress', event }),
          onDeviceLost: (error) => post({ type: 'lost', error: serializeError(error) }),
        });
        return post({ type: 'ready', id, state: state() });
      }
      case 'reload':
        await engine.reload(message.name);
        return post({ type: 'ready', id, state: state() });
      case 'load':
        await engine.load(message.model, message.options);
        return post({ type: 'ready', id, state: state() });
      case 'unload':
        await engine.unload(message.name);
        return post({ type: 'ready', id, state: state() });
      case 'memory':
        return post({ type: 'result', id, value: engine.memory() });
      case 'forget':
        await engine.forget();
        return post({ type: 'done', id });
      case 'stats':
        return post({ type: 'result', id, value: { kvPager: engine.kvPagerStats(message.name), prefixCache: engine.prefixCacheStats(message.name) } });
      case 'metrics':
        return post({ type: 'result', id, value: await engine.metrics(message.name) });
      case 'interrupt':
        return engine?.interrupt();
      case 'abort':
        return running.get(id)?.abort();
      case 'create': {
        const controller = new AbortController();
        running.set(id, controller);
        try {
          const api = message.kind === 'chat' ? engine.chat.completions : message.kind === 'embedding' ? engine.embeddings : engine.completions;
          const result = await api.create(message.request, { signal: controller.signal });
          if (message.request?.stream) {
            for await (const chunk of result) post({ type: 'chunk', id, value: chunk });
            return post({ type: 'end', id });
          }
          return post({ type: 'result', id, value: result });
        } finally {
          running.delete(id);
        }
      }
      default:
        throw new Error(`unknown message type ${JSON.stringify(type)}`);
    }
  } catch (error) {
    post({ type: 'error', id, error: serializeError(error) });
  }
}

// No top-level await: bundlers may build this worker as a classic script. Node's port holds messages
// until it has a listener; a Web Worker's listener is added before its first task ends.
if (isNode) {
  importNodeOnly('node:worker_threads').then(({ parentPort }) => {
    port = parentPort;
    port.on('message', (message) => void handle(message));
  });
} else {
  port = self;
  port.addEventListener('message', (e) => void handle(e.data));
}
