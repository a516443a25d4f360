// Loader failures as errors whose message says what went wrong and what to do about it.

export class ModelLoadError extends Error {
  /** @param {string} message @param {{code: string, cause?: unknown}} details */
  constructor(message, { code, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'ModelLoadError';
    this.code = code;  // 'http' | 'network' | 'integrity' | 'quota' | 'format' | 'busy' | 'aborted' | 'memory'
  }
}

/** Bytes as gigabytes with two decimals ("0.00 GB" for tiny files, so sizes read alike everywhere). */
export function gb(bytes) {
  return `${(bytes / 1e9).toFixed(bytes > 0 && bytes < 1e7 ? 4 : 2)} GB`;
}

export function isQuotaError(error) {
  return error?.name === 'QuotaExceededError' || error?.code === 'ENOSPC' || error?.code === 22;
}

export function quotaError(name, size, estimate, cause) {
  const room = estimate && Number.isFinite(estimate.quota)
    ? ` This site may store ${gb(estimate.quota)} and already uses ${gb(estimate.usage ?? 0)}.`
    : '';
  return new ModelLoadError(
    `not enough storage to keep ${name} (${gb(size)}) on this device.${room} Free space by deleting cached models ` +
    '(listCachedModels / deleteCachedModel), freeing disk space, or load it with {cache: false} to keep it in memory only ' +
    '(it will be downloaded again next time).',
    { code: 'quota', cause },
  );
}

export function integrityError(name, size, expected, actual) {
  return new ModelLoadError(
    `SHA-256 mismatch for ${name} (${gb(size)}): expected ${expected}, got ${actual}. The file is corrupt or not the ` +
    'one expected; the stored copy was deleted. Load it again, or check the sha256 you passed.',
    { code: 'integrity' },
  );
}

export function abortError(reason) {
  if (reason instanceof Error) return reason;
  const error = new ModelLoadError('the model load was aborted', { code: 'aborted' });
  error.name = 'AbortError';
  return error;
}
