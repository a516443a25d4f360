// The engine's models by name: which one a request means, which is the default, and which to evict, the
// least recently used first, when a load would take the engine past its memory budget.
import { TabllmAPIError } from '../errors.mjs';

const MB = (bytes) => `${(bytes / 1e6).toFixed(1)} MB`;

/**
 * OpenAI's 404 for a model name no loaded model has: the names loaded, or which load evicted it.
 * @param {string} name
 * @param {string[]} loaded the names of the models loaded
 * @param {string} [evictedBy] the model whose load unloaded this one under the memory budget
 */
export function modelNotFound(name, loaded, evictedBy) {
  const names = loaded.map((n) => `'${n}'`).join(', ') || 'none';
  const why = evictedBy !== undefined
    ? `the model '${name}' was unloaded to make room for '${evictedBy}' under the engine's memoryBudget: load it again with engine.load()`
    : `the model '${name}' does not exist`;
  return new TabllmAPIError(`${why} (models loaded: ${names})`, { status: 404, param: 'model', code: 'model_not_found' });
}

export class ModelRegistry {
  #models = new Map();   // name → model (a LoadedModel: name, need, users, lastUsed), in load order
  #evicted = new Map();  // name → the model whose load evicted it (said when a request names it)
  #clock = 0;

  /** @param {number|undefined} budget bytes all models together may hold; undefined: no limit */
  constructor(budget) {
    this.budget = budget;
  }

  get size() {
    return this.#models.size;
  }

  all() {
    return [...this.#models.values()];
  }

  has(name) {
    return this.#models.has(name);
  }

  /** Requests without `model` go to the earliest loaded of the models loaded now. */
  get default() {
    return this.#models.values().next().value ?? null;
  }

  /** The model a request names (or the default when it names none), marked as used now; else a 404. */
  select(name) {
    const model = name === undefined ? this.default : this.get(name);
    if (model) model.lastUsed = ++this.#clock;
    return model;  // null: no model at all (the caller says so: 503)
  }

  /** The model of a name; a 404 model_not_found (OpenAI's error) when none has it. */
  get(name) {
    const model = this.#models.get(name);
    if (model) return model;
    throw modelNotFound(name, [...this.#models.keys()], this.#evicted.get(name));
  }

  /** Adds a model, last in load order, or at `index` (a reloaded model keeps its place, the default its role). */
  add(model, index = this.#models.size) {
    if (this.#models.has(model.name)) throw new Error(`a model named '${model.name}' is loaded already: unload it first, or give this one another name`);
    model.lastUsed = ++this.#clock;
    const entries = [...this.#models];
    entries.splice(index, 0, [model.name, model]);
    this.#models = new Map(entries);
    this.#evicted.delete(model.name);
  }

  indexOf(model) {
    return this.all().indexOf(model);
  }

  remove(model, evictedBy) {
    if (this.#models.get(model.name) !== model) return;
    this.#models.delete(model.name);
    if (evictedBy !== undefined) this.#evicted.set(model.name, evictedBy);
  }

  /** Bytes the loaded models count against the budget (model.need.total: weights and KV cache). */
  get used() {
    return this.all().reduce((sum, m) => sum + (m.need?.total ?? 0), 0);
  }

  /**
   * The models to unload, least recently used first, for `model` (its need known, not loaded yet) to fit the
   * budget; none without a budget. Models that requests are using or waiting for are kept. Throws when the
   * model cannot fit.
   */
  victims(model) {
    if (this.budget === undefined) return [];
    const { name } = model;
    const need = model.need.total;
    const detail = `weights ${MB(model.need.weights)} + KV cache ${MB(model.need.kvCache)} at context ${model.need.context}`;
    if (need > this.budget) {
      throw new RangeError(`the model '${name}' needs about ${MB(need)} (${detail}), more than the engine's memoryBudget of ${MB(this.budget)}: raise memoryBudget, or load the model with a smaller contextSize or a smaller quantization`);
    }
    const out = [];
    let used = this.used;
    for (const loaded of this.all().sort((a, b) => a.lastUsed - b.lastUsed)) {
      if (used + need <= this.budget) break;
      if (loaded.users > 0) continue;
      out.push(loaded);
      used -= loaded.need.total;
    }
    if (used + need > this.budget) {
      const busy = this.all().filter((m) => m.users > 0).map((m) => `'${m.name}' (${MB(m.need.total)})`).join(', ');
      throw new RangeError(`the model '${name}' needs about ${MB(need)} (${detail}) but the engine's memoryBudget of ${MB(this.budget)} holds ${MB(this.used)} of models in use by requests (${busy}): load it once they are answered, or raise memoryBudget`);
    }
    return out;
  }
}
