// tabllm/sw: the origin's OpenAI endpoint in its Service Worker (docs/service-worker.md).

/**
 * Answers fetch events for `prefix` (default "/v1/") on this origin: POST chat/completions and completions,
 * GET models, with OpenAI's errors. Call it while the Service Worker's script first runs.
 */
export function serveOpenAI(options?: { prefix?: string; maxBodyBytes?: number }): void;
