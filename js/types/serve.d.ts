// tabllm/serve: an OpenAI-compatible HTTP server over an engine, for Node (node:http).
import type { EngineOptions, TabllmEngine } from './index';

export interface ServerOptions {
  /** An engine to serve, or a promise of one (the server listens meanwhile; /health answers 503 {status:
   * "loading"}). The caller keeps it: close() does not unload it. Give this or engineOptions. */
  engine?: TabllmEngine | Promise<TabllmEngine>;
  /** createEngine's options: the server loads the model (GET /health answers 503 until then) and unloads it on close(). */
  engineOptions?: EngineOptions;
  /** Address to listen on (default '127.0.0.1'). */
  host?: string;
  /** Port (default 8080; 0 picks a free one: see `port` and `url`). */
  port?: number;
  /** Requests to /v1 without `Authorization: Bearer <apiKey>` get 401 (code "invalid_api_key"). */
  apiKey?: string;
  /** CORS: '*', an origin, a comma-separated list or an array of origins; preflight OPTIONS is answered. */
  cors?: string | string[];
  /** Requests that may wait while one runs (default 16); more get 429 with Retry-After (code "rate_limit_exceeded"). */
  queue?: number;
  /** Largest request body (default 4 MiB); larger gets 413. */
  maxBodyBytes?: number;
  /** Time for a request's headers to arrive (default 10000 ms); slower gets 408 and the connection closes. */
  headersTimeoutMs?: number;
  /** Time for a request's body to arrive once its headers have (default 30000 ms). */
  bodyTimeoutMs?: number;
  /** How long close() lets requests in flight finish (default 10000 ms). */
  graceMs?: number;
  /** Called once per request when its response ends. outcome: 'ok', 'refused' (an error status), 'gone'
   * (the client closed the connection: its generation was aborted) or 'shutdown'. */
  log?: (entry: { method: string; path: string; status: number; ms: number; outcome: 'ok' | 'refused' | 'gone' | 'shutdown' }) => void;
}

export interface TabllmServer {
  /** 'http://127.0.0.1:8080' (no trailing slash; the OpenAI base URL is url + '/v1'). */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** Resolves with the engine once the model is loaded; rejects with the load error. */
  readonly ready: Promise<TabllmEngine>;
  /** The engine, or null while loading. */
  readonly engine: TabllmEngine | null;
  /** Counters since start, and the queue now. */
  stats(): { requests: number; completed: number; refused: number; aborted: number; failed: number; running: number; waiting: number };
  /** Stops accepting connections, lets requests in flight finish within graceMs (default: the server's), then
   * ends the rest (a stream with an `event: error`, others with 503) and unloads an engine the server loaded.
   * Called again while closing, the shorter grace period wins. */
  close(options?: { graceMs?: number }): Promise<void>;
  /** The node:http server. */
  readonly server: unknown;
}

export function startServer(options: ServerOptions): Promise<TabllmServer>;
