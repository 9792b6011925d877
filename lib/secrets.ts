/**
 * Per-demo secrets derived from one master key: HMAC-SHA256(master, purpose:demoId). Every demo
 * gets its own DB password, cookie keys and back-office password, two activities on different
 * hosts derive the same values without passing them around, and none of them needs to sit in a
 * workflow history (only the back-office password is handed back to the user).
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { assertDemoId } from '../contract';

/**
 * `access-token`: the API's per-demo bearer token (api/access-tokens.ts), handed to whoever created the demo.
 * `login-key`: the key the shop verifies one-time login links with (lib/login-links.ts); it sits in the
 * demo's parameters.php, never in a history or a log.
 */
export type SecretPurpose = 'db-password' | 'cookie_key' | 'cookie_iv' | 'new_cookie_key' | 'secret' | 'admin-password' | 'access-token' | 'login-key';

/** `generation` > 0 gives a different value for the same purpose (a reset demo's new back-office password). */
export interface SecretDeriver { derive(purpose: SecretPurpose, demoId: string, length?: number, generation?: number): string }

export function createSecretDeriver(masterKey: Buffer): SecretDeriver {
  if (masterKey.length < 32) throw new Error('the master secret key must be at least 32 bytes');
  return {
    derive(purpose, demoId, length = 32, generation = 0) {
      const mac = createHmac('sha256', masterKey).update(`${purpose}:${assertDemoId(demoId)}${generation ? `:${generation}` : ''}`).digest();
      const text = Buffer.concat([mac, createHmac('sha256', masterKey).update(mac).digest()]).toString('base64url');
      // cookie_iv is 8 characters in PrestaShop; the rest are long alphanumeric strings.
      return text.replace(/[-_]/g, 'x').slice(0, length);
    },
  };
}

/**
 * A demo's back-office password: derived, so the worker that sets it and the API that hands it out
 * with a claim agree without passing it around (and it never sits in a workflow history). Each reset
 * of the demo is a new generation, so a reset gives a new password.
 */
export function adminPasswordFor(secrets: SecretDeriver, demoId: string, generation = 0): string {
  return secrets.derive('admin-password', demoId, 16, generation);
}

/**
 * Reads the master key file, creating it (0600, 32 random bytes) on first use. Created whole or not
 * at all: written to a file of its own, then hard-linked into place (fails if another process got
 * there first). A create-then-write let a second process read the file empty in between (seen in CI
 * as "holds fewer than 32 bytes" when two test suites started at once).
 */
export function loadOrCreateMasterKey(path: string): Buffer {
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true });
    const draft = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.new`;
    writeFileSync(draft, randomBytes(32).toString('hex'), { flag: 'wx', mode: 0o600 });
    try {
      linkSync(draft, path);
    } catch (err) {
      // Another process created it first: use theirs.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      unlinkSync(draft);
    }
  }
  chmodSync(path, 0o600);
  const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'hex');
  if (key.length < 32) throw new Error(`master key file ${path} holds fewer than 32 bytes of hex`);
  return key;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Constant-time comparison of two secrets: both are hashed to a fixed length first. */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/** Index of the matching key, or -1; takes the same time whichever (if any) matches. */
export function matchKey(candidate: string, keys: readonly string[]): number {
  const d = digest(candidate);
  let found = -1;
  for (let i = 0; i < keys.length; i++) {
    if (timingSafeEqual(d, digest(keys[i]!)) && found === -1) found = i;
  }
  return found;
}
