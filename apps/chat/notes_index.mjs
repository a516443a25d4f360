// The Notes view's search: pasted text split into chunks, each embedded once by the engine's embedding
// model and kept here, in memory; a search embeds the query and ranks the chunks by cosine.

// Characters a chunk may hold before a paragraph is cut between sentences: a few hundred tokens, well
// within the 512-token context of small encoders such as bge-small and all-MiniLM.
const MAX_CHUNK_CHARS = 600;
// Inputs a request embeds at once: one forward pass for the batch, and progress between batches.
const BATCH = 16;

/** The chunks of a pasted text: its paragraphs (split at blank lines), long ones cut between sentences. */
export function splitNotes(text) {
  const chunks = [];
  for (const paragraph of String(text).split(/\n\s*\n/)) {
    const clean = paragraph.replace(/\s+/g, ' ').trim();
    if (!clean) continue;
    if (clean.length <= MAX_CHUNK_CHARS) {
      chunks.push(clean);
      continue;
    }
    let current = '';
    for (const sentence of clean.match(/[^.!?]+(?:[.!?]+["')\]]*\s*|$)/g)) {
      if (current && current.length + sentence.length > MAX_CHUNK_CHARS) {
        chunks.push(current.trim());
        current = '';
      }
      current += sentence;
    }
    if (current.trim()) chunks.push(current.trim());
  }
  return chunks;
}

export class NotesIndex {
  #embed;
  #similarity;
  /** The chunks indexed so far: {text, vector}. */
  entries = [];

  /**
   * @param {(texts: string[]) => Promise<number[][]>} embed one vector per text, in order
   * @param {(a: number[], b: number[]) => number} similarity cosine of two vectors (the package's)
   */
  constructor(embed, similarity) {
    this.#embed = embed;
    this.#similarity = similarity;
  }

  get size() {
    return this.entries.length;
  }

  /** Embeds the chunks in batches and keeps them; onBatch(done, total) after each batch. */
  async add(chunks, onBatch = () => {}) {
    for (let i = 0; i < chunks.length; i += BATCH) {
      const batch = chunks.slice(i, i + BATCH);
      const vectors = await this.#embed(batch);
      batch.forEach((text, j) => this.entries.push({ text, vector: vectors[j] }));
      onBatch(Math.min(i + BATCH, chunks.length), chunks.length);
    }
  }

  /** The k chunks nearest the query: [{text, score}], best first (score: cosine). */
  async search(query, k = 5) {
    if (this.entries.length === 0) return [];
    const [vector] = await this.#embed([query]);
    return this.entries.map(({ text, vector: v }) => ({ text, score: this.#similarity(vector, v) }))
      .sort((a, b) => b.score - a.score).slice(0, k);
  }

  clear() {
    this.entries = [];
  }
}
