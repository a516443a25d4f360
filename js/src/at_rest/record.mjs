// One record at rest: [format 1][IV, 12 bytes][AES-GCM-256 ciphertext and its 16-byte tag]. A fresh random
// IV per record; the record's identity (the store, the record's name, the format) is the additional
// authenticated data, so a record copied under another name, or into another store, fails authentication
// as a changed, truncated or foreign-key one does. Two sealers write this one format: WebCrypto's
// (asynchronous, any CryptoKey, non-extractable ones included) and Node's (synchronous, a key's raw bytes:
// for the KV pager, whose pages are read back in the middle of a step).
const FORMAT = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Bytes a sealed record has beyond its contents. */
export const OVERHEAD = 1 + IV_BYTES + TAG_BYTES;

/** A record that is not what was sealed under its name with this key: never used. */
export class RecordError extends Error {
  name = 'RecordError';
}

const encoder = new TextEncoder();
const identity = (store, name) => encoder.encode(`tabllm/${store}/${name}/v${FORMAT}`);

function frame(iv, sealed) {
  const record = new Uint8Array(1 + IV_BYTES + sealed.length);
  record[0] = FORMAT;
  record.set(iv, 1);
  record.set(sealed, 1 + IV_BYTES);
  return record;
}

// The IV and the sealed part of a record, or a RecordError saying what is wrong with its shape.
function unframe(record, store, name) {
  if (!(record instanceof Uint8Array) || record.length < OVERHEAD) throw new RecordError(`${store}/${name} is ${record?.length ?? 0} bytes, shorter than any sealed record (truncated?)`);
  if (record[0] !== FORMAT) throw new RecordError(`${store}/${name} is not a sealed record of format ${FORMAT} (stored unencrypted, or by another version)`);
  return { iv: record.subarray(1, 1 + IV_BYTES), sealed: record.subarray(1 + IV_BYTES) };
}

const failed = (store, name) => new RecordError(`${store}/${name} failed authentication (changed, truncated, moved, or sealed with another key)`);

/** Seals and opens records with a WebCrypto AES-GCM key (asynchronous). */
export function webCryptoSealer(key) {
  return {
    async seal(store, name, bytes) {
      const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
      return frame(iv, new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: identity(store, name) }, key, bytes)));
    },
    async open(store, name, record) {
      const { iv, sealed } = unframe(record, store, name);
      try {
        return new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv, additionalData: identity(store, name) }, key, sealed));
      } catch {
        throw failed(store, name);
      }
    },
  };
}

/** The same records, synchronously, with Node's crypto module (`nodeCrypto`) and a 32-byte raw key. */
export function nodeSealer(rawKey, nodeCrypto) {
  return {
    seal(store, name, bytes) {
      const iv = nodeCrypto.randomBytes(IV_BYTES);
      const cipher = nodeCrypto.createCipheriv('aes-256-gcm', rawKey, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(identity(store, name));
      const body = Buffer.concat([cipher.update(bytes), cipher.final(), cipher.getAuthTag()]);
      return frame(iv, body);
    },
    open(store, name, record) {
      const { iv, sealed } = unframe(record, store, name);
      try {
        const decipher = nodeCrypto.createDecipheriv('aes-256-gcm', rawKey, iv, { authTagLength: TAG_BYTES });
        decipher.setAAD(identity(store, name));
        decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
        const out = Buffer.concat([decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES)), decipher.final()]);
        return new Uint8Array(out.buffer, out.byteOffset, out.length);
      } catch {
        throw failed(store, name);
      }
    },
  };
}
