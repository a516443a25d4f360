// Errors in OpenAI's shape: `{error: {message, type, param, code}}`. The JavaScript API throws them as
// TabllmAPIError (an Error carrying the same fields); the fetch handler sends them as the response body
// with the HTTP status.

export class TabllmAPIError extends Error {
  /**
   * @param {string} message what was wrong and how to fix it
   * @param {{status?: number, type?: string, param?: string|null, code?: string|null}} [fields]
   */
  constructor(message, { status = 400, type = 'invalid_request_error', param = null, code = null } = {}) {
    super(message);
    this.name = 'TabllmAPIError';
    this.status = status;
    this.type = type;
    this.param = param;
    this.code = code;
  }

  /** The body OpenAI's API would send. */
  toJSON() {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }

  /** Rebuilds an error from its JSON body (after crossing a worker boundary or a fetch). */
  static fromJSON(body, status = 400) {
    const e = body?.error ?? {};
    return new TabllmAPIError(String(e.message ?? 'unknown error'), { status, type: e.type, param: e.param ?? null, code: e.code ?? null });
  }
}

/** A request field that is wrong: its type, its range, or its presence. */
export function invalidRequest(param, message, code = 'invalid_value') {
  return new TabllmAPIError(message, { param, code });
}

/** A failure inside the engine (not the request's fault): the engine's message, as a server error. */
export function engineFailure(error) {
  if (error instanceof TabllmAPIError) return error;
  const lost = error?.name === 'DeviceLostError' || /device was lost/i.test(error?.message ?? '');
  return new TabllmAPIError(String(error?.message ?? error), {
    status: lost ? 503 : 500,
    type: lost ? 'engine_unavailable' : 'server_error',
    code: lost ? 'device_lost' : 'internal_error',
  });
}

/** The error an AbortSignal ends a request with (as fetch does). */
export function abortError(signal) {
  if (signal?.reason instanceof Error) return signal.reason;
  const e = new Error('the request was aborted');
  e.name = 'AbortError';
  return e;
}

/** An error as a message can carry it (to or from a worker, a Service Worker, a host page). */
export function serializeError(error) {
  if (error instanceof TabllmAPIError) return { kind: 'api', status: error.status, body: error.toJSON() };
  return { kind: 'error', name: error?.name ?? 'Error', message: String(error?.message ?? error), code: error?.code };
}

/** The error serializeError described, rebuilt on the receiving side. */
export function deserializeError(e) {
  if (e.kind === 'api') return TabllmAPIError.fromJSON(e.body, e.status);
  const error = new Error(e.message);
  error.name = e.name;
  if (e.code !== undefined) error.code = e.code;
  return error;
}
