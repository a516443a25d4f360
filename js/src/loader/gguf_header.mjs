// The GGUF header read in JavaScript, for what the loader decides before the engine sees a file: joining
// the parts of a split model, and the memory a model needs. Metadata scalars and strings are decoded;
// arrays keep only their element type and length. Every entry keeps its raw bytes, so a header can be
// written back (joinParts) without re-encoding values.

const MAGIC = 0x46554747;  // "GGUF" little-endian
const SCALAR_SIZE = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
const STRING = 8;
const ARRAY = 9;

// ggml tensor types: [name, elements per block, bytes per block].
export const TENSOR_TYPES = {
  0: ['f32', 1, 4], 1: ['f16', 1, 2], 2: ['q4_0', 32, 18], 3: ['q4_1', 32, 20], 6: ['q5_0', 32, 22],
  7: ['q5_1', 32, 24], 8: ['q8_0', 32, 34], 9: ['q8_1', 32, 36], 10: ['q2_k', 256, 84], 11: ['q3_k', 256, 110],
  12: ['q4_k', 256, 144], 13: ['q5_k', 256, 176], 14: ['q6_k', 256, 210], 15: ['q8_k', 256, 292],
  16: ['iq2_xxs', 256, 66], 17: ['iq2_xs', 256, 74], 18: ['iq3_xxs', 256, 98], 19: ['iq1_s', 256, 50],
  20: ['iq4_nl', 32, 18], 21: ['iq3_s', 256, 110], 22: ['iq2_s', 256, 82], 23: ['iq4_xs', 256, 136],
  24: ['i8', 1, 1], 25: ['i16', 1, 2], 26: ['i32', 1, 4], 27: ['i64', 1, 8], 28: ['f64', 1, 8],
  29: ['iq1_m', 256, 56], 30: ['bf16', 1, 2], 34: ['tq1_0', 256, 54], 35: ['tq2_0', 256, 66],
};

/** Bytes a tensor takes in the file; NaN for a type this table does not know. */
export function tensorBytes({ dims, type }) {
  const t = TENSOR_TYPES[type];
  if (!t) return NaN;
  const elements = dims.reduce((a, b) => a * b, 1);
  return (elements / t[1]) * t[2];
}

export const typeName = (type) => TENSOR_TYPES[type]?.[0] ?? `type ${type}`;

class NeedMore extends Error {}

class Cursor {
  constructor(bytes, name) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.at = 0;
    this.name = name;
  }

  need(n) {
    if (this.at + n > this.bytes.length) throw new NeedMore();
  }

  u32() { this.need(4); const v = this.view.getUint32(this.at, true); this.at += 4; return v; }

  u64() {
    this.need(8);
    const v = this.view.getBigUint64(this.at, true);
    this.at += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${this.name}: a count or offset in the GGUF header is too large (${v}); the file is corrupt`);
    return Number(v);
  }

  string() {
    const length = this.u64();
    this.need(length);
    const text = new TextDecoder().decode(this.bytes.subarray(this.at, this.at + length));
    this.at += length;
    return text;
  }

  skip(n) { this.need(n); this.at += n; }

  scalar(type) {
    const size = SCALAR_SIZE[type];
    if (size === undefined) throw new Error(`${this.name}: unknown GGUF metadata type ${type}; the file is corrupt or newer than this loader`);
    this.need(size);
    const v = this.view;
    const at = this.at;
    this.at += size;
    switch (type) {
      case 0: return v.getUint8(at);
      case 1: return v.getInt8(at);
      case 2: return v.getUint16(at, true);
      case 3: return v.getInt16(at, true);
      case 4: return v.getUint32(at, true);
      case 5: return v.getInt32(at, true);
      case 6: return v.getFloat32(at, true);
      case 7: return v.getUint8(at) !== 0;
      case 10: return Number(v.getBigUint64(at, true));
      case 11: return Number(v.getBigInt64(at, true));
      default: return v.getFloat64(at, true);
    }
  }

  value(type) {
    if (type === STRING) return this.string();
    if (type !== ARRAY) return this.scalar(type);
    const elemType = this.u32();
    const length = this.u64();
    if (elemType === STRING) for (let i = 0; i < length; i++) this.skip(this.u64());
    else if (elemType === ARRAY) throw new Error(`${this.name}: nested GGUF arrays are not supported`);
    else this.skip(length * (SCALAR_SIZE[elemType] ?? NaN));
    return { arrayType: elemType, length };
  }
}

function parse(bytes, name) {
  const c = new Cursor(bytes, name);
  if (c.u32() !== MAGIC) throw new Error(`${name} is not a GGUF file`);
  const version = c.u32();
  if (version < 2 || version > 3) throw new Error(`${name} is GGUF version ${version}; tabllm reads versions 2 and 3`);
  const tensorCount = c.u64();
  const kvCount = c.u64();
  const metadata = new Map();
  const entries = [];
  for (let i = 0; i < kvCount; i++) {
    const start = c.at;
    const key = c.string();
    const type = c.u32();
    const value = c.value(type);
    metadata.set(key, value);
    entries.push({ key, type, raw: bytes.subarray(start, c.at) });
  }
  const tensors = [];
  for (let i = 0; i < tensorCount; i++) {
    const tensorName = c.string();
    const nDims = c.u32();
    if (nDims > 8) throw new Error(`${name}: tensor ${tensorName} has ${nDims} dimensions; the file is corrupt`);
    const dims = [];
    for (let d = 0; d < nDims; d++) dims.push(c.u64());
    const type = c.u32();
    const offset = c.u64();
    tensors.push({ name: tensorName, dims, type, offset });
  }
  const alignment = Number(metadata.get('general.alignment') ?? 32);
  const headerEnd = c.at;
  const dataOffset = Math.ceil(headerEnd / alignment) * alignment;
  return { version, metadata, entries, tensors, alignment, headerEnd, dataOffset };
}

/**
 * Parses the header of a GGUF file read by `read(offset, length)` (the first MB, then more as needed).
 * @returns {Promise<{version: number, metadata: Map<string, any>, entries: {key: string, type: number,
 *   raw: Uint8Array}[], tensors: {name: string, dims: number[], type: number, offset: number}[],
 *   alignment: number, headerEnd: number, dataOffset: number}>}
 */
export async function readGgufHeader(read, size, name = 'the model') {
  let length = Math.min(size, 1 << 20);
  for (;;) {
    const bytes = await read(0, length);
    try {
      return parse(bytes, name);
    } catch (error) {
      if (!(error instanceof NeedMore)) throw error;
      if (length >= size) throw new Error(`${name} ends inside its GGUF header (${size} bytes): the file is truncated`);
      length = Math.min(size, length * 4);
    }
  }
}
