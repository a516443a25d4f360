// Energy profiles: how hard the engine may run the machine. Each is a row of settings; `auto` picks one
// from the battery (battery.mjs). Settings a loaded model fixes (the GPU adapter, the WebAssembly threads,
// the context) follow the engine's profile; those of a step (the duty cycle, the token-rate cap,
// speculative k) follow the request's profile when it names one (the `profile` request extension).

export const PROFILES = ['performance', 'balanced', 'saver', 'auto'];

/**
 * powerPreference: the GPU adapter asked for (browsers; Node's adapter is whatever Dawn finds).
 * threads: the share of the default thread count (engine option `threads` overrides).
 * duty: the fraction of wall time the engine may compute; after each step it rests so that busy time is at
 *   most this share (the CPU or GPU idles meanwhile).
 * maxTokensPerSecond: a cap on the decode rate (null: none) — a reader reads a few tokens a second.
 * maxContext: the context a model loads with when the engine option contextSize is not given (null: the default).
 * maxSpeculativeK: the most tokens a speculative step drafts (drafts that fail are computed for nothing).
 */
export const PROFILE_SETTINGS = {
  performance: { powerPreference: 'high-performance', threads: 1, duty: 1, maxTokensPerSecond: null, maxContext: null, maxSpeculativeK: null },
  balanced: { powerPreference: 'high-performance', threads: 0.5, duty: 0.8, maxTokensPerSecond: null, maxContext: 4096, maxSpeculativeK: 4 },
  saver: { powerPreference: 'low-power', threads: 0, duty: 0.5, maxTokensPerSecond: 20, maxContext: 2048, maxSpeculativeK: 2 },
};

/** Throws a TypeError (through `fail`) unless `value` is a profile name. */
export function checkProfile(value, fail, name = 'profile') {
  if (!PROFILES.includes(value)) fail(`${name} must be one of ${PROFILES.map((p) => `"${p}"`).join(', ')}, got ${JSON.stringify(value)}`);
}

/** The thread count of a profile over the default count (at least 1). */
export function profileThreads(settings, defaultThreads) {
  return Math.max(1, Math.round(defaultThreads * settings.threads));
}

/** The request's speculative settings with k capped by the profile (unchanged when there is no cap or k is
 * lower, and when they are not an object: the core names what is wrong with them). */
export function cappedSpeculative(speculative, settings) {
  const cap = settings.maxSpeculativeK;
  if (typeof speculative !== 'object' || speculative === null || cap === null || speculative.method === 'off') return speculative;
  if (speculative.k !== undefined && !(speculative.k > cap)) return speculative;
  return { ...speculative, k: cap };
}
