// An app's own records sealed with tabllm's at-rest key (keys.mjs) and record format (record.mjs): what a
// chat app saves of its conversations, say. Text comes and goes as base64 strings, for stores that keep
// strings (localStorage); a record that fails authentication is a RecordError, for the app to discard.
import { atRestKey } from './keys.mjs';
import { webCryptoSealer } from './record.mjs';

/**
 * @param {{store: string, encryption?: true | {passphrase: string}, cacheDir?: string}} options
 *   store: the app's name for what it keeps (records move between names or stores only by failing)
 */
export async function createSealer({ store, encryption = true, cacheDir } = {}) {
  if (typeof store !== 'string' || !store) throw new TypeError('createSealer: store must be a non-empty string (the name of what the app keeps)');
  if (encryption !== true && typeof encryption?.passphrase !== 'string') throw new TypeError('createSealer: encryption must be true (the device key) or {passphrase}');
  const sealer = webCryptoSealer(await atRestKey(encryption, { cacheDir }));
  const app = `app/${store}`;
  return {
    seal: (name, bytes) => sealer.seal(app, name, bytes),
    open: (name, record) => sealer.open(app, name, record),
    sealText: async (name, text) => toBase64(await sealer.seal(app, name, new TextEncoder().encode(text))),
    openText: async (name, sealed) => new TextDecoder().decode(await sealer.open(app, name, fromBase64(sealed))),
  };
}

function toBase64(bytes) {
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

function fromBase64(text) {
  let binary;
  try {
    binary = atob(text);
  } catch {
    binary = '';  // not base64: opens as a record too short to be one (a RecordError)
  }
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}
