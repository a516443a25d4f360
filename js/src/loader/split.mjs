// Split GGUF models (llama.cpp's gguf-split, or `tabllm split`): NAME-00001-of-00003.gguf and its siblings,
// each a GGUF file whose header lists its own tensors; the first part carries all the metadata, and every
// part says where it belongs (split.no, 0-based; split.count; split.tensors.count, all parts' tensors).
//
// joinParts() presents the parts as one GGUF file, so the engine (WebAssembly or WebGPU) reads a split
// model as it reads any other: a header built here (the first part's metadata without split.*, every
// tensor with its offset moved), then each part's data section in turn, read from the part itself.
import { ModelLoadError } from './errors.mjs';
import { readGgufHeader } from './gguf_header.mjs';

const PART_NAME = /^(.*)-(\d{5})-of-(\d{5})\.gguf$/;

/** {prefix, index (0-based), count} when `name` (a file name, path or URL path) names a part, else null. */
export function splitPartName(name) {
  const m = PART_NAME.exec(name);
  if (!m) return null;
  const index = Number(m[2]) - 1;
  const count = Number(m[3]);
  return index >= 0 && count >= 1 && index < count ? { prefix: m[1], index, count } : null;
}

/** The names of all parts, given the first's ("…-00001-of-00003.gguf" → 3 names). */
export function splitPartNames(first) {
  const part = splitPartName(first);
  if (!part) return [first];
  const pad = (n) => String(n).padStart(5, '0');
  return Array.from({ length: part.count }, (_, i) => `${part.prefix}-${pad(i + 1)}-of-${pad(part.count)}.gguf`);
}

/** The URLs of all parts of a split model given its first part's URL (query and hash kept). */
export function splitPartUrls(url) {
  const u = new URL(url);
  const part = splitPartName(u.pathname);
  if (!part) return [u.href];
  if (part.index !== 0) {
    throw new ModelLoadError(`${u.href} is part ${part.index + 1} of a model split in ${part.count}: load the first part (…-00001-of-${String(part.count).padStart(5, '0')}.gguf); the others are found from its name.`, { code: 'format' });
  }
  return splitPartNames(u.pathname).map((path) => {
    const v = new URL(u.href);
    v.pathname = path;
    return v.href;
  });
}

function u32(v) { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, v, true); return b; }
function u64(v) { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt(v), true); return b; }
function str(text) { const t = new TextEncoder().encode(text); return [u64(t.length), t]; }

function concat(pieces) {
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of pieces) { out.set(p, at); at += p.length; }
  return out;
}

const alignUp = (n, a) => Math.ceil(n / a) * a;

/**
 * One model source over the parts of a split model (in any order; all must be there).
 * @param {{name: string, size: number, read: Function, close: Function}[]} parts opened model sources
 * @returns {Promise<object>} a model source: {name, size, storage, parts, read, chunks, close}
 */
export async function joinParts(parts) {
  const headers = [];
  for (const p of parts) headers.push({ source: p, header: await readGgufHeader((o, n) => p.read(o, n), p.size, p.name) });
  for (const h of headers) {
    const count = h.header.metadata.get('split.count');
    if (count === undefined) throw new ModelLoadError(`${h.source.name} is not part of a split model (it has no split.count): load it on its own.`, { code: 'format' });
    if (count !== parts.length) {
      throw new ModelLoadError(`${h.source.name} is a part of a model split in ${count}, but ${parts.length} part${parts.length === 1 ? ' was' : 's were'} given: give all ${count} parts.`, { code: 'format' });
    }
  }
  headers.sort((a, b) => a.header.metadata.get('split.no') - b.header.metadata.get('split.no'));
  headers.forEach((h, i) => {
    if (h.header.metadata.get('split.no') !== i) {
      throw new ModelLoadError(`part ${i + 1} of the split model is missing (${h.source.name} is part ${h.header.metadata.get('split.no') + 1}; was a part given twice?)`, { code: 'format' });
    }
  });
  const first = headers[0].header;
  const tensorCount = headers.reduce((n, h) => n + h.header.tensors.length, 0);
  const expected = first.metadata.get('split.tensors.count');
  if (expected !== undefined && expected !== tensorCount) {
    throw new ModelLoadError(`the parts of ${headers[0].source.name} hold ${tensorCount} tensors, but it says the model has ${expected}: a part is from another model or corrupt.`, { code: 'format' });
  }
  const alignment = first.alignment;

  // The joined file: header, then each part's data section at an aligned base.
  const entries = first.entries.filter((e) => !e.key.startsWith('split.'));
  const tensorPieces = [];
  const segments = [];  // {start, length, source, from}: where the joined file's bytes come from
  let base = 0;
  for (const { source, header } of headers) {
    for (const t of header.tensors) {
      const offset = base + t.offset;
      if (offset % alignment) throw new ModelLoadError(`${source.name}: tensor ${t.name} would not be aligned to ${alignment} bytes once joined (the parts use different alignments)`, { code: 'format' });
      tensorPieces.push(...str(t.name), u32(t.dims.length), ...t.dims.map(u64), u32(t.type), u64(offset));
    }
    const length = source.size - header.dataOffset;
    segments.push({ start: base, length, source, from: header.dataOffset });
    base = alignUp(base + length, alignment);
  }
  const head = concat([u32(0x46554747), u32(3), u64(tensorCount), u64(entries.length), ...entries.map((e) => e.raw), ...tensorPieces]);
  const dataOffset = alignUp(head.length, alignment);
  const header = new Uint8Array(dataOffset);
  header.set(head);
  const last = segments[segments.length - 1];
  const size = dataOffset + last.start + last.length;

  const read = async (offset, length) => {
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > size) {
      throw new RangeError(`read(${offset}, ${length}) is outside ${headers[0].source.name} (${size} bytes, joined from ${parts.length} parts)`);
    }
    const out = new Uint8Array(length);  // zeros where the joined file pads between parts
    if (offset < dataOffset) out.set(header.subarray(offset, Math.min(dataOffset, offset + length)));
    for (const s of segments) {
      const from = Math.max(offset, dataOffset + s.start);
      const to = Math.min(offset + length, dataOffset + s.start + s.length);
      if (from >= to) continue;
      out.set(await s.source.read(s.from + (from - dataOffset - s.start), to - from), from - offset);
    }
    return out;
  };
  const sources = headers.map((h) => h.source);
  return {
    name: sources[0].name,
    size,
    storage: sources[0].storage,
    url: sources[0].url,
    parts: sources,
    read,
    async* chunks(chunkSize = 8 << 20) {
      for (let at = 0; at < size; at += chunkSize) yield await read(at, Math.min(chunkSize, size - at));
    },
    async close() {
      await Promise.all(sources.map((s) => s.close?.()));
    },
  };
}
