// Types of the tabllm package (ESM): createEngine, createWorkerEngine and the OpenAI-shaped API.

export type Backend = 'auto' | 'webgpu' | 'wasm';

export interface ProgressEvent {
  /** download (bytes arriving), verify (SHA-256), load (into the WebAssembly heap), upload (to the GPU), ready */
  phase: string;
  loaded?: number;
  total?: number;
  bytesPerSecond?: number;
  /** A split model: the part downloading (0-based) and how many there are; loaded/total count all parts so far. */
  part?: number;
  parts?: number;
  [key: string]: unknown;
}

export type ModelReference = string | URL | Blob | { repo: string; file: string; revision?: string };

export interface EngineOptions {
  /**
   * A URL, a File/Blob, or (Node) a file path of a GGUF model; "hf:owner/repo/file.gguf" or {repo, file} on
   * Hugging Face; a split model's parts as an array, or its first part (…-00001-of-0000N.gguf).
   */
  model?: ModelReference | ModelReference[];
  /** Several models in one engine (beside `model`, or instead of it): a request's `model` names one; requests
   * without `model` go to the first loaded (`model`, else the first of these). */
  models?: ModelOptions[];
  /** Bytes of weights and KV caches all models together may hold: loading one more unloads the least
   * recently used models first (never one a request is using or waiting for). Default: no limit. */
  memoryBudget?: number;
  backend?: Backend;
  onProgress?: (event: ProgressEvent) => void;
  /** Called when the GPU device is lost; requests fail until engine.reload(). */
  onDeviceLost?: (error: Error) => void;
  /** Tokens of context (default: the model's, at most 4096). */
  contextSize?: number;
  /**
   * The KV cache's element type, on either backend: 'f16' (default; 2 bytes a value), 'q8_0' (blocks of 32
   * values with one scale: about 1.1 bytes a value, a little less exact; needs key/value rows of a multiple
   * of 32 values, else loading fails saying to use 'f16') or 'f32' (4 bytes a value). engine.runtime reports
   * the type and the cache's bytes per token.
   */
  kvType?: 'f16' | 'q8_0' | 'f32';
  /**
   * Bytes of fast memory the KV cache may take (WebAssembly: the heap; WebGPU: the GPU's KV buffers). The cache then holds the window of
   * whole pages of 256 positions that fit, while prompts and replies reach contextSize: the rows a full
   * window drops go to storage (Node: files; written in the background, checksummed), and pages come back
   * before a long prompt's last piece when its end names what they hold. A failing or full store warns and
   * shifts as without a budget. Responses add usage.kv_pages; engine.kvPagerStats() sums them.
   */
  kvBudget?: number;
  /**
   * With a kvBudget: bring paged-out pages back (up to half the window) before a long prompt's last piece,
   * those that share the most rare tokens with its end. Off by default: on stories260K it lowered agreement
   * with a whole cache (docs/long-context.md). Not on WebGPU yet (runtime.kvRecall says so).
   */
  kvRecall?: boolean;
  /** CPU threads for the WebAssembly backend (threads need cross-origin isolation in browsers). */
  threads?: number;
  /** Force a WebAssembly build: 'threaded' or 'single'. */
  wasmVariant?: 'threaded' | 'single';
  /** The model's name in responses (default: its GGUF general.name). */
  modelName?: string;
  /** A Jinja chat template that replaces the model's own. */
  chatTemplate?: string;
  /** Expected SHA-256 of the model file (hex); for a split model, one per part. */
  sha256?: string | (string | null)[];
  /** Hugging Face references: the branch, tag or commit (default 'main'), and the site (a mirror). */
  revision?: string;
  hfEndpoint?: string;
  /** Node: where downloaded models are kept (default $TABLLM_CACHE_DIR or ~/.cache/tabllm/models). */
  cacheDir?: string;
  /** Bytes of GPU memory, when known: a model that needs more runs on WebAssembly under 'auto'. */
  gpuMemory?: number;
  /** Let backend 'auto' pick a software WebGPU adapter (SwiftShader). */
  allowSoftwareAdapter?: boolean;
  /** A GPUDevice to use instead of requesting one. */
  device?: unknown;
  /** WebGPU: the most prompt tokens one forward pass takes. */
  maxBatch?: number;
  /** The default of requests' `truncation` (default 'auto'). */
  truncation?: Truncation;
  /** The default of requests' `speculative` (default: off). */
  speculative?: Speculative;
  /** WebGPU: a draft model with the model's vocabulary, loaded beside it on the same device, for requests'
   * `speculative: {method: 'draft'}` (docs/speculative.md). A URL, a File/Blob, or a file path in Node. */
  draftModel?: ModelReference;
  /** The energy profile (docs/metrics.md; default 'performance'): the adapter's powerPreference, threads and
   * context at load, a duty cycle, token-rate cap and speculative k per request. */
  profile?: Profile;
  /** engine.metrics(): window, the requests the percentiles cover (default 500); persist, keep the window
   * on this device, sealed with the at-rest key (default false). */
  metrics?: { window?: number; persist?: boolean };
  /** Keep KV pages of conversations in storage (OPFS; files in Node) so a reopened page continues a long
   * chat without prefilling it again (default false; WebAssembly backend). maxBytes: the store's size
   * (default 512 MiB), least recently used pages evicted first. */
  prefixCache?: boolean | { maxBytes?: number };
  /** Encryption at rest of what the engine stores about its user (docs/privacy.md): the prefix cache's
   * pages and index, the kvBudget's pages. AES-GCM-256, a fresh IV per record, each record bound to its
   * name (the prefix cache's files named by a keyed MAC); one that fails authentication is discarded with
   * a warning. true (default): keys kept on this device (non-extractable CryptoKeys in IndexedDB; Node: a
   * 0600 file beside the KV folder); {passphrase}: keys derived from it (PBKDF2-SHA-256, 600,000
   * iterations, a stored random salt);
   * false: stored unencrypted. Models are public data and stored as downloaded. */
  encryption?: boolean | { passphrase: string };
  /** The cloud fallback (off without it, and inert without consent): docs/cloud.md. */
  cloud?: CloudOptions;
  signal?: AbortSignal;
  /** WebLLM's name for onProgress: called with WebLLM's {progress, timeElapsed, text} added to the event. */
  initProgressCallback?: (report: ProgressEvent & { progress: number; timeElapsed: number; text: string }) => void;
  /** WebLLM's name for contextSize. */
  context_window_size?: number;
}

/** One model of several: its file, its name, and the options that may differ from model to model (the
 * others are the engine's, for all its models). */
export interface ModelOptions extends Pick<EngineOptions, 'backend' | 'contextSize' | 'threads' | 'wasmVariant' | 'chatTemplate' | 'sha256' | 'revision'
  | 'maxBatch' | 'gpuMemory' | 'truncation' | 'kvType' | 'kvBudget' | 'kvRecall' | 'prefixCache' | 'speculative' | 'draftModel'> {
  model: ModelReference | ModelReference[];
  /** The name requests give as `model` (default: the GGUF's general.name, else the file's name). */
  name?: string;
}

/** A loaded model, as engine.models.info() lists it. */
export interface LoadedModelInfo {
  id: string;
  /** Requests without `model` go to this one. */
  default: boolean;
  backend: 'webgpu' | 'wasm' | null;
  contextSize: number;
  /** What its load took: WebAssembly heap bytes and GPU buffer bytes. */
  bytes: { heap: number; gpu: number; total: number };
  /** What the memory budget counts for it: weights and KV cache, from the header. */
  budgetBytes: number | null;
  /** Order of last use (larger: more recent). */
  lastUsed: number;
  /** A request is using it or waiting for it. */
  busy: boolean;
}

export interface EngineMemory {
  budget: number | null;
  used: number;
  heaps: { variant: string; threads: number; heapBytes: number; inUseBytes: number; models: number }[];
  gpuBuffers: number;
  gpuBytes: number;
}

/** Why a request went (or would have gone) to the cloud endpoint: the built-in rules' reasons, or the app's. */
export type CloudReason = 'unavailable' | 'context' | 'ttft' | 'throughput' | 'policy' | (string & {});

/** What policy.route is told. `suggested`: the built-in rules' verdict, which an answer of nothing keeps. */
export interface CloudRouteStats {
  /** 'start': before the request (the answer may be a promise); 'generating': before each local token (answer at once). */
  phase: 'start' | 'generating';
  suggested: { route: 'local' | 'remote'; reason: CloudReason | null; detail: string | null };
  local: {
    available: boolean;
    error: string | null;
    backend: 'webgpu' | 'wasm' | null;
    contextSize: number;
    /** The prompt's tokens before any truncation (null without a local model). */
    promptTokens: number | null;
    maxTokens: number | null;
    /** Truncation "auto" cut the prompt here. */
    cut: boolean;
    /** promptTokens at the last local request's prefill rate, or null before one. */
    predictedTtftMs: number | null;
    prefillTokensPerSecond: number | null;
    decodeTokensPerSecond: number | null;
  };
  /** 'generating': tokens made so far, time since the run started, its time to first token, and the rate
   * over the last `window` tokens (null until that many). */
  tokens?: number;
  elapsedMs?: number;
  ttftMs?: number | null;
  tokensPerSecond?: number | null;
}

export type CloudRouteAnswer = 'local' | 'remote' | { route: 'local' | 'remote'; reason?: string; detail?: string } | null | undefined;

export interface CloudPolicy {
  /** Route requests to the endpoint when no local backend can run the model (its load failed for memory, or
   * on every backend) or the GPU device is lost (default true). */
  localUnavailable?: boolean;
  /** 'cut' (default): route when the local context would cut the prompt (truncation "auto") or refuse it;
   * 'fit': also when prompt tokens + max_tokens exceed it; false: never for the context. */
  contextOverflow?: 'cut' | 'fit' | false;
  /** Route when the predicted local time to first token exceeds this (ms). */
  maxTtftMs?: number;
  /** Hand off mid-stream when the local rate over the last `window` tokens is under this (tokens/s). */
  minTokensPerSecond?: number;
  /** Tokens the rate is measured over (default 16, at least 2). */
  window?: number;
  /** How a chat is handed off: 'completions' (default: the rendered prompt and the text so far to
   * /v1/completions) or 'prefill' (the messages and an assistant message with the text so far to
   * /v1/chat/completions, for servers that continue a final assistant message, as llama-server does). */
  chatHandoff?: 'completions' | 'prefill';
  /** The app's hook (an energy profile, say): called before each request and before each local token of a
   * reply that may be handed off; 'remote' sends it, 'local' keeps it here, nothing keeps the built-in verdict. */
  route?: (request: ChatCompletionRequest | CompletionRequest, stats: CloudRouteStats) => CloudRouteAnswer | Promise<CloudRouteAnswer>;
}

export interface CloudOptions {
  /** An OpenAI-compatible API's base URL: 'http://127.0.0.1:8080/v1' (llama-server, vLLM, tabllm serve). */
  endpoint: string;
  /** Sent as Authorization: Bearer; never logged. */
  apiKey?: string;
  /** The model name sent (default: the request's `model`, if any). */
  model?: string;
  /** Nothing is ever sent without it (default false). A function is asked before a request that could go
   * to the endpoint; remember the user's answer in it. */
  consent?: boolean | (() => boolean | Promise<boolean>);
  policy?: CloudPolicy;
  /** The fetch used to reach the endpoint (default: globalThis.fetch). */
  fetch?: typeof fetch;
  /** Time for the endpoint's answer to start, and between its chunks (default 30000 ms; 0: none). */
  timeoutMs?: number;
  /** After the endpoint failed (unreachable, 5xx, 429, timeout), nothing is tried for this long (default 30000 ms). */
  retryAfterMs?: number;
  /** Entries the log keeps, the oldest dropped first (default 100). */
  logLimit?: number;
  /** Called with a copy of each log entry when it is made and when it changes. */
  onEvent?: (entry: CloudLogEntry) => void;
}

/** One decision of the cloud fallback: a request sent whole ('remote'), a reply handed off ('handoff'), or
 * one the policy chose the endpoint for but nothing was sent ('withheld': no consent; 'skipped': the
 * endpoint failed recently). */
export interface CloudLogEntry {
  id: string;
  /** ISO 8601. */
  time: string;
  action: 'remote' | 'handoff' | 'withheld' | 'skipped';
  reason: CloudReason | null;
  detail: string | null;
  request: 'chat' | 'completion';
  sent: boolean;
  /** Sent entries: the URL and the JSON body, as sent. */
  endpoint?: string;
  body?: Record<string, unknown>;
  /** Hand-offs: tokens the local model made first. */
  local_tokens?: number;
  status?: 'pending' | 'ok' | 'failed' | 'aborted';
  http_status?: number;
  /** Time until the endpoint's answer started (ms). */
  ms?: number;
  error?: string;
  answered_by?: 'remote' | 'local' | null;
  usage?: { prompt_tokens: number | null; completion_tokens: number | null } | null;
  note?: string;
}

/** usage.x_tabllm, with the cloud fallback: the tokens of each side (null: none from it). */
export interface CloudUsage {
  local: { prompt_tokens: number; completion_tokens: number } | null;
  remote: { prompt_tokens: number | null; completion_tokens: number | null } | null;
}

/** x_tabllm of a response (and of a stream's usage chunk), with the cloud fallback. */
export interface CloudSummary {
  source: 'local' | 'remote' | 'local+remote';
  reason?: CloudReason;
  handoff_after_tokens?: number;
  /** What happened instead of the endpoint, when the policy chose it. */
  note?: string;
  /** The log entry's id. */
  log?: string;
}

export interface CloudFallback {
  readonly endpoint: string;
  /** Copies of the log's entries, oldest first. */
  log(): CloudLogEntry[];
  clearLog(): void;
  setConsent(consent: boolean | (() => boolean | Promise<boolean>)): void;
  status(): { endpoint: string; consent: 'granted' | 'denied' | 'ask'; down: { until: string; because: string } | null;
    recent: { prefillTokensPerSecond: number | null; decodeTokensPerSecond: number | null } };
}

export interface WorkerEngineOptions extends Omit<EngineOptions, 'device' | 'signal' | 'cloud'> {
  /** A Worker running tabllm's worker script (default: one started from the package). */
  worker?: Worker | unknown;
}

export type Role = 'system' | 'developer' | 'user' | 'assistant' | 'tool';
export interface TextPart { type: 'text'; text: string }
export interface ToolCall { id: string; type: 'function'; function: { name: string; /** JSON text */ arguments: string } }
export interface ChatMessage {
  role: Role;
  content: string | TextPart[] | null;
  name?: string;
  /** assistant messages: the calls the model made */
  tool_calls?: ToolCall[];
  /** tool messages: the call this result answers */
  tool_call_id?: string;
}
/** A function the model may call; `parameters` is a JSON Schema its arguments are generated to match. */
export interface Tool { type: 'function'; function: { name: string; description?: string; parameters?: Record<string, unknown> } }
export type ToolChoice = 'none' | 'auto' | 'required' | { type: 'function'; function: { name: string } };

/**
 * What a prompt that does not fit the context becomes (OpenAI's Responses API field; an extension here):
 * 'auto' drops a chat's oldest turns (a completion prompt keeps BOS and its end), 'disabled' is a 400.
 */
export type Truncation = 'auto' | 'disabled';

interface SamplingRequest {
  model?: string;
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean } | null;
  n?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  seed?: number | null;
  stop?: string | string[] | null;
  max_tokens?: number | null;
  frequency_penalty?: number | null;
  presence_penalty?: number | null;
  logit_bias?: Record<string, number> | null;
  /** Extensions. */
  top_k?: number | null;
  min_p?: number | null;
  repetition_penalty?: number | null;
  /** Extension: see Truncation; default: the engine's option. */
  truncation?: Truncation | null;
  /** Extension: speculative decoding (same output, fewer forward passes); default: the engine's option. */
  speculative?: Speculative | null;
  /** Extension: this request's energy profile (its duty cycle, token-rate cap, speculative k); default: the engine's. */
  profile?: Profile | null;
  user?: string;
}

/** Energy profiles (docs/metrics.md): auto follows the Battery Status API. */
export type Profile = 'performance' | 'balanced' | 'saver' | 'auto';

/** {count, p50, p90, p99, mean} over the window (nearest rank); null figures without samples. */
export interface Percentiles { count: number; p50: number | null; p90: number | null; p99: number | null; mean: number | null }

/** A hit rate: hits of `of`, rate null when nothing was counted. */
export interface HitRate { hits: number; of: number; rate: number | null }

/** engine.metrics() (docs/metrics.md). */
export interface EngineMetrics {
  model: string;
  backend: 'webgpu' | 'wasm' | null;
  profile: { profile: Profile; active: Exclude<Profile, 'auto'>; reason?: string };
  window: { size: number; since: number | null };
  requests: number;
  ttft_ms: Percentiles;
  decode_tokens_per_s: Percentiles;
  prefill_tokens_per_s: Percentiles;
  speculative: { requests: number; drafted: number; accepted: number; acceptance_rate: number } | null;
  by_model: Array<{ model: string; backend: string; requests: number; ttft_ms: Percentiles; decode_tokens_per_s: Percentiles;
    prefill_tokens_per_s: Percentiles; speculative: EngineMetrics['speculative'] }>;
  /** GPU time per decode step: per kind of dispatch from timestamp queries, else a wall-clock estimate; null on WebAssembly. */
  gpu: { source: 'timestamp-query' | 'wall-clock estimate'; every?: number; steps: number; step_us: number | null;
    kinds: Record<string, { us_per_step: number; dispatches: number }> | null; note?: string } | null;
  memory: { gpu_buffer_bytes: number; wasm_heap_bytes: number; kv_hot_bytes: number; kv_cold_bytes: number };
  cache: { weights_store: HitRate; prefix_cache: HitRate | null; kv_pages: HitRate | null; kv_reuse: HitRate };
  /** speculative: requests whose speculation measured slower than plain decoding ran plain (WebGPU). */
  fallbacks: { backend: number; speculative: number; cloud: number };
  /** The window's samples, oldest first: figures only. */
  history: Array<{ at: number; model: string; backend: string; profile: string; prompt_tokens: number; prompt_tokens_reused: number;
    completion_tokens: number; ttft_ms: number | null; decode_ms: number; decode_tokens: number; prefill_tokens_per_s: number | null;
    decode_tokens_per_s: number | null; speculative: { drafted: number; accepted: number } | null }>;
  persisted: boolean;
}

/**
 * Speculative decoding (docs/speculative.md): a draft proposes up to `k` tokens (default 8, at most 32;
 * the length adapts to the acceptance), one forward pass verifies them. 'prompt-lookup' drafts the tokens
 * that followed the last `ngram` tokens (default 3, at most 8) earlier in the prompt or output; 'self'
 * runs the model's first `draft_layers` layers (default half; CPU/WebAssembly only); 'draft' runs the
 * engine's `draftModel` (WebGPU). Greedy output is unchanged token for token, sampled output keeps its
 * distribution. On WebGPU a step verifies at most 8 drafts.
 */
export interface Speculative {
  method: 'prompt-lookup' | 'self' | 'draft' | 'off';
  k?: number;
  ngram?: number;
  draft_layers?: number;
  /** WebGPU: the speed relative to plain decoding below which, measured over the request's first verify
   * calls, the rest of it decodes plain (default 1; 0: never fall back). */
  min_speedup?: number;
}

export interface SpeculativeUsage {
  method: 'prompt-lookup' | 'self' | 'draft' | 'off';
  drafted: number;
  accepted: number;
  acceptance_rate: number;
  /** The model's forward passes after the first token (verifications and plain steps). */
  forward_passes: number;
  /** The draft's own passes ('self', 'draft'). */
  draft_passes: number;
  /** WebGPU: set when speculation measured slower than plain decoding and the rest of the request ran plain. */
  fallback?: 'slower than plain';
  /** With fallback: the measured ratio of speculative to plain decoding speed (this request's or an earlier one's). */
  speedup?: number;
  /** With fallback: the verify calls before the switch (0: an earlier request's measure sent it plain from the start). */
  fallback_after?: number;
}

/**
 * Structured output: only text of this format is generated (constrained decoding). `grammar` and `regex`
 * are extensions; `any_property_order` lets object properties come in any order (default: the schema's).
 * Keywords a grammar cannot enforce are listed in the response's `warnings` (errors when `strict`).
 */
export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; json_schema: { name?: string; description?: string; schema?: Record<string, unknown> | boolean; strict?: boolean | null; any_property_order?: boolean } }
  | { type: 'grammar'; grammar: string; syntax?: 'gbnf' | 'ebnf' }
  | { type: 'regex'; pattern: string };

export interface ChatCompletionRequest extends SamplingRequest {
  messages: ChatMessage[];
  max_completion_tokens?: number | null;
  logprobs?: boolean | null;
  top_logprobs?: number | null;
  response_format?: ResponseFormat | null;
  /** One call per choice; arguments constrained by the function's parameters schema. */
  tools?: Tool[] | null;
  tool_choice?: ToolChoice | null;
}

export interface CompletionRequest extends SamplingRequest {
  prompt: string | [string];
  logprobs?: number | null;
  echo?: boolean | null;
  /** Extension: structured output, as in chat requests. */
  response_format?: ResponseFormat | null;
}

export type FinishReason = 'stop' | 'length' | 'abort' | 'tool_calls';

export interface Timings {
  ttft_ms: number;
  prefill_ms: number;
  decode_ms: number;
  prefill_tokens_per_s: number;
  decode_tokens_per_s: number;
  prompt_tokens_reused: number;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  /** Extension: time to first token and throughput. */
  timings: Timings;
  /** Extension: times a reply filled the context and the older half of it was dropped (all choices). */
  context_shifts: number;
  /** Extension, with speculative decoding: drafted and accepted tokens (all choices). */
  speculative?: SpeculativeUsage;
  /** Extension, chat: messages truncation 'auto' left out of the prompt (the oldest turns). */
  truncated_messages?: number;
  /** Extension, completions: prompt tokens truncation 'auto' dropped from the front (BOS stays). */
  truncated_prompt_tokens?: number;
  /** Extension, with the cloud fallback: the local and the endpoint's tokens. */
  x_tabllm?: CloudUsage;
}

export interface TopLogprob { token: string; logprob: number; bytes: number[] }
export interface TokenLogprob extends TopLogprob { top_logprobs: TopLogprob[] }
export interface ChatLogprobs { content: TokenLogprob[]; refusal: null }

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  system_fingerprint: null;
  choices: {
    index: number;
    message: { role: 'assistant'; content: string | null; refusal: null; tool_calls?: ToolCall[] };
    logprobs: ChatLogprobs | null;
    finish_reason: FinishReason;
  }[];
  usage: Usage;
  /** Extension: what the response_format asked for that is not enforced ("POINTER: what"), when any. */
  warnings?: string[];
  /** Extension, with the cloud fallback: where the reply came from. */
  x_tabllm?: CloudSummary;
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  system_fingerprint: null;
  choices: {
    index: number;
    delta: { role?: 'assistant'; content?: string; tool_calls?: (ToolCall & { index: number })[] };
    logprobs: ChatLogprobs | null;
    finish_reason: FinishReason | null;
  }[];
  /** Present with stream_options.include_usage: null on every chunk but the last, which has no choices. */
  usage?: Usage | null;
  /** Extension: on each choice's last chunk, what the response_format does not enforce, when any. */
  warnings?: string[];
  /** Extension, with the cloud fallback: where this chunk's text came from (the usage chunk: a CloudSummary). */
  x_tabllm?: { source: 'local' | 'remote' } | CloudSummary;
}

export interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: number[];
  top_logprobs: Record<string, number>[];
  text_offset: number[];
}

export interface Completion {
  id: string;
  object: 'text_completion';
  created: number;
  model: string;
  choices: { index: number; text: string; logprobs: CompletionLogprobs | null; finish_reason: FinishReason | null }[];
  usage?: Usage | null;
  warnings?: string[];
  x_tabllm?: { source: 'local' | 'remote' } | CloudSummary;
}

export interface RequestOptions { signal?: AbortSignal }

export interface ChatCompletions {
  create(request: ChatCompletionRequest & { stream: true }, options?: RequestOptions): Promise<AsyncIterable<ChatCompletionChunk>>;
  create(request: ChatCompletionRequest & { stream?: false | null }, options?: RequestOptions): Promise<ChatCompletion>;
  create(request: ChatCompletionRequest, options?: RequestOptions): Promise<ChatCompletion | AsyncIterable<ChatCompletionChunk>>;
}

export interface Completions {
  create(request: CompletionRequest & { stream: true }, options?: RequestOptions): Promise<AsyncIterable<Completion>>;
  create(request: CompletionRequest & { stream?: false | null }, options?: RequestOptions): Promise<Completion>;
  create(request: CompletionRequest, options?: RequestOptions): Promise<Completion | AsyncIterable<Completion>>;
}

/** OpenAI's embeddings request (docs/embeddings.md). */
export interface EmbeddingRequest {
  model?: string;
  input: string | string[] | number[] | number[][];
  encoding_format?: 'float' | 'base64';
  /** Shortens the vectors, for models trained for it (nomic-bert, decoder embedding models). */
  dimensions?: number;
  user?: string;
}

export interface EmbeddingResponse {
  object: 'list';
  data: { object: 'embedding'; index: number; embedding: number[] | string }[];
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
}

export interface Embeddings {
  create(request: EmbeddingRequest, options?: RequestOptions): Promise<EmbeddingResponse>;
}

/** Cosine similarity of two vectors of one length. */
export function similarity(a: ArrayLike<number>, b: ArrayLike<number>): number;

export interface ModelInfo {
  name: string;
  arch: string;
  /** 'embedding' (an encoder, or a decoder whose file names its pooling) or 'chat'. */
  kind: 'embedding' | 'chat';
  pooling: 'none' | 'mean' | 'cls' | 'last';
  parameters: number;
  vocab: number;
  context: number;
  chat_template: string;
  bos: number;
  eos: number;
  [key: string]: unknown;
}

export interface TabllmEngine {
  chat: { completions: ChatCompletions };
  completions: Completions;
  /** An embedding model's embeddings (a chat model answers 400 model_not_embedding). */
  embeddings: Embeddings;
  models: {
    list(): Promise<{ object: 'list'; data: { id: string; object: 'model'; created: number; owned_by: string }[] }>;
    retrieve?(name: string): Promise<{ id: string; object: 'model'; created: number; owned_by: string }>;
    info?(): LoadedModelInfo[];
  };
  /** OpenAI-compatible fetch: pass it as `fetch` to the openai client with baseURL 'http://tabllm.local/v1'. */
  fetch: (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;
  /** Ends the running request (finish_reason "abort"); the next one runs normally. */
  interrupt(): void;
  /** Loads a model again (every model without a name), after a lost GPU device. */
  reload(name?: string): Promise<void>;
  /** Frees a model and its memory (every model without a name); resolves once it is freed. */
  unload(name?: string): Promise<void>;
  /** Wipes everything tabllm stores for this origin (Node: this user's cache folders): models, KV pages,
   * the at-rest key, tabllm's IndexedDB databases, Cache Storage caches and localStorage items. The model
   * stays loaded; the prefix cache starts afresh, under a new key, at the next request. */
  forget(): Promise<void>;
  /** What the engine measured of itself (docs/metrics.md). */
  metrics(): Promise<EngineMetrics>;
  readonly backend: 'webgpu' | 'wasm' | null;
  readonly backendReason: string;
  readonly modelInfo: ModelInfo | null;
  readonly modelId: string;
  readonly contextSize: number;
  /** Backend details: {backend, reason, contextSize, kvType, kvBytesPerToken (KV cache bytes a token takes), kvWindow (positions the KV cache holds: contextSize, or the window of a kvBudget; WebAssembly), variant and threads (WebAssembly) or adapter (WebGPU)}. */
  readonly runtime: Record<string, unknown>;
}

export interface KvPagerStats {
  window: number; pagesOut: number; pagesIn: number; bytesOut: number; bytesIn: number; pageOutMs: number; rehydrateMs: number;
  readBackMs: number; failures: number;
  store: { pagesWritten: number; bytesWritten: number; pagesRead: number; bytesRead: number; writeFailures: number; bytesHeld: number };
}

export interface PrefixCacheStats {
  lookups: number; pages_written: number; pages_read: number; bytes_written: number; bytes_read: number; restores: number;
  restored_tokens: number; restore_ms: number; refused: number; entries: number;
}

export interface Engine extends TabllmEngine {
  models: TabllmEngine['models'] & { info(): LoadedModelInfo[] };
  /** Loads another model beside those loaded (under a memoryBudget, the least recently used may be unloaded first). */
  load(model: ModelReference | ModelReference[], options?: Omit<ModelOptions, 'model'>): Promise<LoadedModelInfo>;
  /** The memory the models hold: the budget and what it counts, each WebAssembly module's heap, GPU buffers. */
  memory(): EngineMemory;
  /** The GPUDevice the model runs on (WebGPU backend), else null. */
  readonly gpuDevice: unknown;
  /** The core's work counters since its WebAssembly module started (null before a model is loaded): a load
   * parses the model header once; a request tokenizes its prompt once and reads its response_format once. */
  debugStats(name?: string): { header_parses: number; tokenizations: number; format_parses: number } | null;
  /** The KV pager's counters under a kvBudget (readBackMs: WebGPU's reading of dropped rows from the GPU), or null without one. */
  kvPagerStats(name?: string): KvPagerStats | null;
  /** The prefix cache's counters, or null without one. */
  prefixCacheStats(name?: string): PrefixCacheStats | null;
  /** Resolves once the KV pages of finished requests are stored (they are written in the background). */
  flushPrefixCache(name?: string): Promise<void>;
  /** Deletes this model's stored KV pages. */
  clearPrefixCache(name?: string): Promise<void>;
  /** The cloud fallback (the `cloud` option), else null. */
  readonly cloud: CloudFallback | null;
}

export interface WorkerEngine extends TabllmEngine {
  models: TabllmEngine['models'] & { info(): LoadedModelInfo[] };
  load(model: ModelReference | ModelReference[], options?: Omit<ModelOptions, 'model'>): Promise<LoadedModelInfo>;
  memory(): Promise<EngineMemory>;
  /** The worker's engine's kvPagerStats() and prefixCacheStats(). */
  kvPagerStats(name?: string): Promise<KvPagerStats | null>;
  prefixCacheStats(name?: string): Promise<PrefixCacheStats | null>;
  /** Stops the worker. */
  terminate(): Promise<number> | void;
}

export function createEngine(options: EngineOptions): Promise<Engine>;
export function createWorkerEngine(options: WorkerEngineOptions): Promise<WorkerEngine>;

export interface ServiceWorkerEngineOptions extends Omit<WorkerEngineOptions, 'worker'> {
  /** Where the Service Worker's serveOpenAI answers (default: this origin's /v1). */
  baseURL?: string;
}

/** The engine one tab of the origin hosts for all (docs/service-worker.md), reached through the Service Worker. */
export interface ServiceWorkerEngine extends TabllmEngine {
  /** The host's state; `loads` counts the times a tab of this origin loaded the model. */
  status(): Promise<{ status: 'loading' | 'ready' | 'failed'; loads: number; backend: string | null; modelId: string }>;
}

/** Needs a Service Worker that runs serveOpenAI (tabllm/sw) controlling the page. */
export function createServiceWorkerEngine(options: ServiceWorkerEngineOptions): Promise<ServiceWorkerEngine>;

/** An app's own records sealed with tabllm's at-rest key and record format (docs/privacy.md). */
export interface Sealer {
  seal(name: string, bytes: Uint8Array): Promise<Uint8Array>;
  /** Rejects with a RecordError for a record that is not what was sealed under `name` with this key. */
  open(name: string, record: Uint8Array): Promise<Uint8Array>;
  /** As seal and open, for text, with base64 records (for stores of strings, such as localStorage). */
  sealText(name: string, text: string): Promise<string>;
  openText(name: string, record: string): Promise<string>;
}
export function createSealer(options: { store: string; encryption?: true | { passphrase: string }; cacheDir?: string }): Promise<Sealer>;
/** A stored record that failed authentication (changed, truncated, moved, or sealed with another key). */
export class RecordError extends Error {}
/** engine.forget()'s wipe, without an engine. */
export function forgetStored(options?: { cacheDir?: string }): Promise<void>;
/** PBKDF2-SHA-256 iterations of a passphrase key. */
export const PBKDF2_ITERATIONS: number;

export class TabllmAPIError extends Error {
  status: number;
  type: string;
  param: string | null;
  code: string | null;
  toJSON(): { error: { message: string; type: string; param: string | null; code: string | null } };
}

export function createFetchHandler(engine: Pick<TabllmEngine, 'chat' | 'completions' | 'embeddings' | 'models'>): TabllmEngine['fetch'];

export function renderChat(
  messages: { role: string; content: string }[],
  model?: { chatTemplate?: string; bosToken?: string; eosToken?: string; addBos?: boolean; addGenerationPrompt?: boolean; extra?: Record<string, unknown> },
): { prompt: string; addBos: boolean };

export function capabilityReport(options?: { adapter?: unknown }): Promise<Record<string, unknown>>;
export function chooseBackend(preference: Backend, report: Record<string, unknown>, options?: { allowSoftwareAdapter?: boolean }): { backend: 'webgpu' | 'wasm'; reason: string };
export function listCachedModels(options?: Record<string, unknown>): Promise<{ url: string; size: number; complete: boolean; storage: string; [key: string]: unknown }[]>;
export function deleteCachedModel(url: string, options?: Record<string, unknown>): Promise<boolean>;
export class ModelLoadError extends Error { code: string }
export function resolveModelReference(model: ModelReference, options?: { revision?: string; hfEndpoint?: string }): string | URL | Blob;
export function openModel(model: ModelReference | ModelReference[], options?: Record<string, unknown>): Promise<{ name: string; size: number; storage: string; read(offset: number, length: number): Promise<Uint8Array>; close(): Promise<void> }>;
export function memoryNeed(shape: { layers: number; kvHeads: number; keyLength: number; valueLength: number; trainedContext?: number | null; vocab: number; weights: number }, contextSize?: number, kvType?: 'f16' | 'q8_0' | 'f32'): { context: number; kvType: string; weights: number; kvCache: number; working: number; total: number };
