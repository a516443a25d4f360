// The key of what tabllm keeps across runs (the prefix cache's pages, an app's sealed records): an
// AES-GCM-256 key, either
// - the device's: made once and kept where only this origin (or this user) reads it — in a browser a
//   non-extractable CryptoKey in IndexedDB (tabllm-keys; structured clone keeps it non-extractable, so no
//   script can read its bytes), in Node 32 random bytes in a file readable by its owner only (0600); or
// - derived from a passphrase the app asks the user for: PBKDF2-SHA-256, PBKDF2_ITERATIONS iterations, a
//   random 16-byte salt kept as the device key is. Nothing checks a passphrase: a wrong one opens no record,
//   and each record is discarded as any that fails authentication.
import { importNodeOnly, isNode } from '../node_only.mjs';
import { nodeDirs } from './node_dirs.mjs';

/** OWASP's recommendation for PBKDF2-HMAC-SHA-256 (2023). */
export const PBKDF2_ITERATIONS = 600_000;
export const KEY_DB = 'tabllm-keys';
const DEVICE_KEY = 'device.key';
const SALT = 'passphrase.salt';
const AES = { name: 'AES-GCM', length: 256 };

/**
 * The at-rest key for `encryption` (the engine option): null for false; the device key for true (or
 * undefined); the passphrase's for {passphrase}.
 * @param {boolean | {passphrase: string}} [encryption]
 * @param {{cacheDir?: string}} [where] Node: the engine's cacheDir (the key lives beside the KV folder)
 * @returns {Promise<CryptoKey|null>}
 */
export async function atRestKey(encryption = true, { cacheDir } = {}) {
  if (encryption === false) return null;
  const held = isNode ? await nodeHeld(cacheDir) : indexedDbHeld();
  if (encryption === true) {
    const raw = await held.once(DEVICE_KEY, async () => crypto.subtle.generateKey(AES, false, ['encrypt', 'decrypt']), 32);
    return raw instanceof CryptoKey ? raw : crypto.subtle.importKey('raw', raw, AES, false, ['encrypt', 'decrypt']);
  }
  const salt = await held.once(SALT, null, 16);
  const base = await crypto.subtle.importKey('raw', new TextEncoder().encode(encryption.passphrase), 'PBKDF2', false, ['deriveKey']);
  return crypto.subtle.deriveKey({ name: 'PBKDF2', hash: 'SHA-256', salt, iterations: PBKDF2_ITERATIONS }, base, AES, false, ['encrypt', 'decrypt']);
}

// once(name, make, bytes): the value kept under `name`, made and kept first if there is none; two callers
// at once get the same value (the first kept wins). IndexedDB keeps make()'s value (a CryptoKey) when there
// is a make, else `bytes` random bytes; a file always holds `bytes` random bytes (make is not used).

function indexedDbHeld() {
  const done = (request) => new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const withDb = async (fn) => {
    const opening = indexedDB.open(KEY_DB, 1);
    opening.onupgradeneeded = () => opening.result.createObjectStore('keys');
    const db = await done(opening);
    try {
      return await fn(db);
    } finally {
      db.close();  // an open connection would block forget()'s deleteDatabase
    }
  };
  return {
    once: (name, make, bytes) => withDb(async (db) => {
      const read = () => done(db.transaction('keys').objectStore('keys').get(name));
      const kept = await read();
      if (kept !== undefined) return kept;
      const value = make ? await make() : crypto.getRandomValues(new Uint8Array(bytes));
      try {
        await done(db.transaction('keys', 'readwrite').objectStore('keys').add(value, name));
        return value;
      } catch (error) {
        if (error?.name === 'ConstraintError') return read();  // another context kept one first
        throw error;
      }
    }),
  };
}

async function nodeHeld(cacheDir) {
  const fs = await importNodeOnly('node:fs/promises');
  const path = await importNodeOnly('node:path');
  const dir = (await nodeDirs(cacheDir)).kv;
  return {
    async once(name, make, bytes) {
      const file = path.join(dir, name);
      try {
        return new Uint8Array(await fs.readFile(file));
      } catch (error) {
        if (error.code !== 'ENOENT') throw new Error(`the at-rest key file ${file} cannot be read (${error.message}): fix its permissions, or delete it to start afresh (what it sealed is lost)`);
      }
      await fs.mkdir(dir, { recursive: true, mode: 0o700 });
      const value = crypto.getRandomValues(new Uint8Array(bytes));
      try {
        await fs.writeFile(file, value, { flag: 'wx', mode: 0o600 });  // wx: never over another process's
        return value;
      } catch (error) {
        if (error.code === 'EEXIST') return new Uint8Array(await fs.readFile(file));
        throw error;
      }
    },
  };
}
