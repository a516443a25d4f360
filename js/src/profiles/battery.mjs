// `auto`: the profile the battery calls for, read when a request starts (the Battery Status API, where the
// browser has it: Chromium's pages and workers; nowhere in Node). Charging → balanced (the machine is
// plugged in but may be warm), a battery at or below LOW_LEVEL and discharging → saver, otherwise (no API,
// or a battery well charged) → performance.

export const LOW_LEVEL = 0.2;

let battery;  // the BatteryManager promise, asked for once (it stays current)

/** 'performance' | 'balanced' | 'saver' and why, for `auto`. */
export async function autoProfile() {
  battery ??= globalThis.navigator?.getBattery ? globalThis.navigator.getBattery().catch(() => null) : Promise.resolve(null);
  const b = await battery;
  if (!b) return { profile: 'performance', reason: 'no Battery Status API' };
  if (b.charging) return { profile: 'balanced', reason: 'charging' };
  if (b.level <= LOW_LEVEL) return { profile: 'saver', reason: `battery at ${Math.round(b.level * 100)} %` };
  return { profile: 'performance', reason: `battery at ${Math.round(b.level * 100)} %, not charging` };
}
