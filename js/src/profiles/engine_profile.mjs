// An engine's energy profile: the engine option `profile` (default performance), a request's own when it
// names one, and `auto` resolved from the battery (battery.mjs) at each load and each request's start.
import { autoProfile } from './battery.mjs';
import { PROFILE_SETTINGS, profileThreads } from './profiles.mjs';
import { defaultThreads } from '../wasm_module.mjs';

export class EngineProfile {
  #name;
  #auto = { profile: 'performance', reason: 'the battery was not read yet' };

  constructor(name = 'performance') {
    this.#name = name;
  }

  /** Reads the battery again when `auto` is in use (the engine's profile or the request's). */
  async refresh(requested) {
    if ((requested ?? this.#name) === 'auto') this.#auto = await autoProfile();
  }

  /** The concrete profile a request runs under: its own, else the engine's; auto as last read. */
  resolve(requested) {
    const name = requested ?? this.#name;
    return name === 'auto' ? this.#auto.profile : name;
  }

  settings(requested) {
    return PROFILE_SETTINGS[this.resolve(requested)];
  }

  /** What the profile sets at load, under the engine options that fix them: threads, contextSize, powerPreference. */
  async loadSettings({ threads, contextSize }) {
    await this.refresh();
    const s = this.settings();
    return {
      threads: threads ?? (s.threads === 1 ? undefined : profileThreads(s, await defaultThreads())),
      contextSize: contextSize ?? s.maxContext ?? undefined,
      powerPreference: s.powerPreference,
    };
  }

  /** {profile (the option), active (what it resolves to now), reason (auto's)} */
  describe() {
    return { profile: this.#name, active: this.resolve(), ...(this.#name === 'auto' ? { reason: this.#auto.reason } : {}) };
  }
}
