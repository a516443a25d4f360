// tabllm: LLM inference on the user's device, behind OpenAI's API.
export { createEngine, Engine } from './engine.mjs';
export { createWorkerEngine } from './worker_engine.mjs';
export { createServiceWorkerEngine } from './sw/client.mjs';
export { TabllmAPIError } from './errors.mjs';
export { createFetchHandler } from './fetch_handler.mjs';
export { similarity } from './embeddings.mjs';
export { renderChat } from './chat_template.mjs';
export { capabilityReport, chooseBackend } from './capabilities.mjs';
export { listCachedModels, deleteCachedModel, ModelLoadError, openModel, resolveModelReference, memoryNeed } from './loader/index.mjs';
export { createSealer } from './at_rest/sealer.mjs';
export { forgetStored } from './at_rest/forget.mjs';
export { RecordError } from './at_rest/record.mjs';
export { PBKDF2_ITERATIONS } from './at_rest/keys.mjs';
