// The Notes view: paste text, then search it by meaning. The embedding model (NOTES_MODEL) joins the chat
// model's engine on first use (engine.load(model, {name: 'notes'})); embedding requests name it, and the
// chat's requests, which name none, keep going to the chat model (the engine's default: the first loaded).
import { NOTES_MODEL } from './models.mjs';
import { NotesIndex, splitNotes } from './notes_index.mjs';

const NAME = 'notes';
const RESULTS = 5;

export class NotesView {
  #root;
  #engine;
  #describeProgress;
  #errorMessage;
  #loadedOn = null;  // the engine the model is loaded in: a chat engine loaded since needs it loaded again
  #loading = null;

  /**
   * @param {HTMLElement} root the view's element
   * @param {{engine: () => object|null, similarity: () => Function, describeProgress: (p: object) => {value: number|null, text: string},
   *   errorMessage: (error: unknown) => string}} options engine: the chat's engine now loaded; similarity: the package's
   */
  constructor(root, { engine, similarity, describeProgress, errorMessage }) {
    this.#root = root;
    this.#engine = engine;
    this.#describeProgress = describeProgress;
    this.#errorMessage = errorMessage;
    const $ = (selector) => root.querySelector(selector);
    this.ui = {
      text: $('#notes-text'), add: $('#notes-add'), clear: $('#notes-clear'), status: $('#notes-status'), loading: $('.notes-loading'),
      progress: $('.notes-loading progress'), progressText: $('.notes-loading span'), error: $('.notes-error'),
      form: $('#notes-search'), query: $('#notes-query'), search: $('#notes-search button'), results: $('#notes-results'),
    };
    this.index = new NotesIndex(async (texts) => {
      const { data } = await this.#engine().embeddings.create({ model: NAME, input: texts });
      return data.sort((a, b) => a.index - b.index).map((d) => d.embedding);
    }, (a, b) => similarity()(a, b));
    /** What the view went through (tests read them): load progress, errors, the last results. */
    this.progress = [];
    this.errors = [];
    this.results = [];
    this.ui.add.addEventListener('click', () => this.add(this.ui.text.value));
    this.ui.clear.addEventListener('click', () => this.clear());
    this.ui.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.search(this.ui.query.value);
    });
    this.#showStatus();
  }

  /** Whether the engine's load progress is the notes model's (the engine has one onProgress for all its models). */
  get loadingModel() {
    return this.#loading !== null;
  }

  show() {
    this.#root.hidden = false;
  }

  hide() {
    this.#root.hidden = true;
  }

  showProgress(p) {
    this.progress.push(p);
    const { value, text } = this.#describeProgress(p);
    if (value === null) this.ui.progress.removeAttribute('value');
    else this.ui.progress.value = value;
    this.ui.progressText.textContent = text;
  }

  /** Splits the text into chunks, embeds them and adds them to the index. */
  add(text) {
    return this.#run(async () => {
      const chunks = splitNotes(text);
      if (chunks.length === 0) throw new Error('paste some text first: paragraphs (separated by blank lines) become the notes searched');
      await this.#model();
      await this.index.add(chunks, (done, total) => { this.ui.status.textContent = `embedding ${done} of ${total} notes…`; });
      this.ui.text.value = '';
    });
  }

  /** The notes nearest the query, shown with their cosine. */
  search(query) {
    return this.#run(async () => {
      if (!query.trim()) throw new Error('type what to look for');
      if (this.index.size === 0) throw new Error('the index is empty: paste some notes and add them first');
      await this.#model();
      this.results = await this.index.search(query, RESULTS);
      this.#showResults();
    });
  }

  clear() {
    this.index.clear();
    this.results = [];
    this.#showResults();
    this.#showStatus();
  }

  // Loads the embedding model into the chat's engine, once per engine (a load is shared by concurrent calls).
  #model() {
    const engine = this.#engine();
    if (!engine) return Promise.reject(new Error('no engine yet: load a model in the Chat view first; the notes model joins its engine'));
    if (this.#loadedOn === engine) return Promise.resolve();
    // engine=sw: the tab that hosts the origin's model serves that one model only.
    if (typeof engine.load !== 'function') return Promise.reject(new Error('the shared engine (engine=sw) serves one model: open the demo without engine=sw to search notes'));
    this.#loading ??= (async () => {
      this.ui.loading.hidden = false;
      this.ui.status.textContent = `loading ${NOTES_MODEL.name}…`;
      try {
        await engine.load(NOTES_MODEL.model, { name: NAME, backend: 'wasm' });
        this.#loadedOn = engine;
      } catch (error) {
        throw new Error(`the notes model ${NOTES_MODEL.name} (${NOTES_MODEL.model}) did not load: ${this.#errorMessage(error)}`);
      } finally {
        this.ui.loading.hidden = true;
        this.#loading = null;
      }
    })();
    return this.#loading;
  }

  // One action at a time; its error is shown in the view, never thrown.
  async #run(action) {
    this.ui.error.hidden = true;
    for (const b of [this.ui.add, this.ui.clear, this.ui.search]) b.disabled = true;
    try {
      await action();
    } catch (error) {
      const message = this.#errorMessage(error);
      this.errors.push(message);
      this.ui.error.textContent = message;
      this.ui.error.hidden = false;
    } finally {
      for (const b of [this.ui.add, this.ui.clear, this.ui.search]) b.disabled = false;
      this.#showStatus();
    }
  }

  #showStatus() {
    const n = this.index.size;
    this.ui.status.textContent = `${n === 0 ? 'No notes yet' : `${n} note${n === 1 ? '' : 's'} indexed`}, kept in this page's memory only · `
      + `embedded by ${NOTES_MODEL.name} (${(NOTES_MODEL.size / 1e6).toFixed(0)} MB, loaded beside the chat model on first use)`;
  }

  #showResults() {
    this.ui.results.replaceChildren(...this.results.map(({ text, score }) => {
      const li = document.createElement('li');
      const badge = Object.assign(document.createElement('span'), { className: 'notes-score', textContent: score.toFixed(3) });
      badge.title = 'cosine similarity to the query';
      badge.style.setProperty('--score', String(Math.max(0, score)));
      li.append(badge, Object.assign(document.createElement('p'), { textContent: text }));
      return li;
    }));
  }
}
