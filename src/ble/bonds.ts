/**
 * Bond keys at rest: AES-256-GCM with a 32-byte key kept in `<dataDir>/bond.key` (mode 0600, created on
 * first use). Each sealed key is bound to its device id as associated data, so a sealed blob copied onto
 * another device's row does not open.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export const KEY_FILE = 'bond.key';
const IV = 12;
const TAG = 16;

export class BondKeyError extends Error {
  override readonly name = 'BondKeyError';
}

export class KeyVault {
  private constructor(private readonly key: Buffer) {}

  /** Load the vault key from the data dir, creating it (0600) if it does not exist yet. */
  static open(dataDir: string): KeyVault {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const path = join(dataDir, KEY_FILE);
    try {
      const fd = openSync(path, 'wx', 0o600);
      try {
        writeSync(fd, randomBytes(32));
      } finally {
        closeSync(fd);
      }
    } catch (e) {
      if ((e as { code?: string }).code !== 'EEXIST') throw e;
    }
    // Tighten permissions if someone loosened them.
    if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
    const key = readFileSync(path);
    if (key.length !== 32) throw new BondKeyError(`${path} must hold exactly 32 bytes (found ${key.length})`);
    return new KeyVault(key);
  }

  /** A vault with an explicit key (tests, benchmarks). */
  static fromKey(key: Uint8Array): KeyVault {
    if (key.length !== 32) throw new BondKeyError('vault key must be 32 bytes');
    return new KeyVault(Buffer.from(key));
  }

  seal(plain: Uint8Array, deviceId: string): Uint8Array {
    const iv = randomBytes(IV);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    c.setAAD(Buffer.from(`bandguard-bond:${deviceId}`));
    const ct = Buffer.concat([c.update(plain), c.final()]);
    return new Uint8Array(Buffer.concat([iv, c.getAuthTag(), ct]));
  }

  unseal(sealed: Uint8Array, deviceId: string): Uint8Array {
    if (sealed.length < IV + TAG) throw new BondKeyError('sealed bond key is too short');
    const b = Buffer.from(sealed);
    const d = createDecipheriv('aes-256-gcm', this.key, b.subarray(0, IV));
    d.setAAD(Buffer.from(`bandguard-bond:${deviceId}`));
    d.setAuthTag(b.subarray(IV, IV + TAG));
    try {
      return new Uint8Array(Buffer.concat([d.update(b.subarray(IV + TAG)), d.final()]));
    } catch {
      throw new BondKeyError(`the stored key of ${deviceId} cannot be opened (wrong ${KEY_FILE} or tampered row)`);
    }
  }
}

/** Parse a user-supplied auth key: 32 hex digits, optionally prefixed with 0x, spaces/colons ignored. */
export function parseAuthKey(text: string): Uint8Array {
  const clean = text
    .trim()
    .replace(/^0x/i, '')
    .replace(/[\s:-]/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(clean)) {
    throw new BondKeyError('an auth key is 16 bytes written as 32 hex digits (optionally prefixed with 0x)');
  }
  return new Uint8Array(Buffer.from(clean, 'hex'));
}
