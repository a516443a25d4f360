// The keys of what tabllm keeps across runs (the prefix cache's pages, an app's sealed records): an
// AES-GCM-256 key that seals records, and an HMAC-SHA-256 key that names them (a page's file name is a MAC
// of its name in the cache, which hashes the prompt's tokens: without the key, the names confirm no guess of
// a prompt). Either
// - the device's: made once and kept where only this origin (or this user) reads them — in a browser
//   non-extractable CryptoKeys in IndexedDB (tabllm-keys; structured clone keeps them non-extractable, so no
//   script can read their bytes), in Node 64 random bytes in a file readable by its owner only (0600); or
// - derived from a passphrase the app asks the user for: PBKDF2-SHA-256, PBKDF2_ITERATIONS iterations, a
//   random 16-byte salt kept as the device keys are. Nothing checks a passphrase: a wrong one opens no record,
//   and each record is discarded as any that fails authentication.
import { importNodeOnly, isNode } from '../node_only.mjs';
import { nodeDirs } from './node_dirs.mjs';

/** OWASP's recommendation for PBKDF2-HMAC-SHA-256 (2023). */
export const PBKDF2_ITERATIONS = 600_000;
export const KEY_DB = 'tabllm-keys';
/** Where the keys are kept (IndexedDB record names; Node file names in the KV folder). */
export const DEVICE_KEY = 'device.key';
export const SALT = 'passphrase.salt';
const AES = { name: 'AES-GCM', length: 256 };
const HMAC = { name: 'HMAC', hash: 'SHA-256', length: 256 };

/**
 * The at-rest keys for `encryption` (the engine option): null for false; the device's for true (or
 * undefined); the passphrase's for {passphrase}.
 * @param {boolean | {passphrase: string}} [encryption]
 * @param {{cacheDir?: string}} [where] Node: the engine's cacheDir (the keys live beside the KV folder)
 * @returns {Promise<{key: CryptoKey, names: CryptoKey}|null>} key seals records, names names them
 */
export async function atRestKeys(encryption = true, { cacheDir } = {}) {
  if (encryption === false) return null;
  const held = isNode ? await nodeHeld(cacheDir) : indexedDbHeld();
  if (encryption === true) {
    const made = async () => ({ key: await crypto.subtle.generateKey(AES, false, ['encrypt', 'decrypt']), names: await crypto.subtle.generateKey(HMAC, false, ['sign']) });
    const kept = await held.once(DEVICE_KEY, made, 64);
    return kept instanceof Uint8Array ? importKeys(kept) : kept;
  }
  const salt = await held.once(SALT, null, 16);
  const base = await crypto.subtle.importKey('raw', new TextEncoder().encode(encryption.passphrase), 'PBKDF2', false, ['deriveBits']);
  return importKeys(new Uint8Array(await crypto.subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt, iterations: PBKDF2_ITERATIONS }, base, 512)));
}

// 64 bytes: the sealing key's, then the naming key's.
async function importKeys(bytes) {
  return {
    key: await crypto.subtle.importKey('raw', bytes.subarray(0, 32), AES, false, ['encrypt', 'decrypt']),
    names: await crypto.subtle.importKey('raw', bytes.subarray(32, 64), HMAC, false, ['sign']),
  };
}

// once(name, make, bytes): the value kept under `name`, made and kept first if there is none; two callers
// at once get the same value (the first kept wins). IndexedDB keeps make()'s value (CryptoKeys) when there
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
