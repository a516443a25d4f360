// The duty cycle and token-rate cap of a profile, applied between steps: after each step the engine owes a
// rest (busy × (1 − duty) / duty, or what the rate cap asks, whichever is longer) and takes it once it
// reaches MIN_REST_MS. Resting in larger pieces keeps the cycle exact where timers are coarse (browsers
// clamp nested timeouts to 4 ms).
const MIN_REST_MS = 10;

/**
 * @param {{duty: number, maxTokensPerSecond: number|null}} settings
 * @returns {((busyMs: number) => Promise<void>|null) | null} null when the profile never rests
 */
export function createPacer({ duty, maxTokensPerSecond }) {
  if (duty >= 1 && !maxTokensPerSecond) return null;
  const interval = maxTokensPerSecond ? 1000 / maxTokensPerSecond : 0;
  let owed = 0;
  return (busyMs) => {
    owed += Math.max(busyMs * (1 - duty) / duty, interval - busyMs);
    if (owed < MIN_REST_MS) return null;
    const start = performance.now();
    return new Promise((resolve) => setTimeout(resolve, owed)).then(() => { owed -= performance.now() - start; });
  };
}
