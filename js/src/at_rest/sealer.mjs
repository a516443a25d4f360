// An app's own records sealed with tabllm's at-rest key (keys.mjs) and record format (record.mjs): what a
// chat app saves of its conversations, say. Text comes and goes as base64 strings, for stores that keep
// strings (localStorage); a record that fails authentication is a RecordError, for the app to discard.
import { atRestKeys } from './keys.mjs';
import { webCryptoSealer } from './record.mjs';
import { base64ToBytes, bytesToBase64 } from '../base64.mjs';

/**
 * @param {{store: string, encryption?: true | {passphrase: string}, cacheDir?: string}} options
 *   store: the app's name for what it keeps (records move between names or stores only by failing)
 */
export async function createSealer({ store, encryption = true, cacheDir } = {}) {
  if (typeof store !== 'string' || !store) throw new TypeError('createSealer: store must be a non-empty string (the name of what the app keeps)');
  if (encryption !== true && !(typeof encryption?.passphrase === 'string' && encryption.passphrase)) {
    throw new TypeError('createSealer: encryption must be true (the device key) or {passphrase: a non-empty string}');
  }
  const sealer = webCryptoSealer((await atRestKeys(encryption, { cacheDir })).key);
  const app = `app/${store}`;
  return {
    seal: (name, bytes) => sealer.seal(app, name, bytes),
    open: (name, record) => sealer.open(app, name, record),
    sealText: async (name, text) => bytesToBase64(await sealer.seal(app, name, new TextEncoder().encode(text))),
    openText: async (name, sealed) => new TextDecoder().decode(await sealer.open(app, name, fromBase64(sealed))),
  };
}

// Text that is not base64 opens as a record too short to be one (a RecordError).
function fromBase64(text) {
  try {
    return base64ToBytes(text);
  } catch {
    return new Uint8Array(0);
  }
}
