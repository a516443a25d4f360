// Percentiles of a window of samples, by the nearest-rank definition: the p-th percentile is the smallest
// sample with at least p % of the samples at or below it. It is always a sample that was measured (no
// interpolation between two requests), so a dashboard's p50 is a figure some request really had.

/**
 * @param {number[]} sorted samples in ascending order
 * @param {number} p 0 < p <= 100
 */
export function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** {count, p50, p90, p99, mean} of the finite samples (null figures when there are none). */
export function summarize(samples) {
  const sorted = samples.filter(Number.isFinite).sort((a, b) => a - b);
  const mean = sorted.length ? sorted.reduce((s, v) => s + v, 0) / sorted.length : null;
  return { count: sorted.length, p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), mean };
}
