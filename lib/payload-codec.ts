/**
 * Encryption of Temporal payloads (AES-256-GCM). Workflow inputs, results, activity arguments,
 * Updates and signals hold back-office passwords: with this codec the Temporal database and anyone
 * reading histories without the key (Web UI, `temporal` CLI, a copy of the SQLite file) sees
 * ciphertext. The worker and every client use it (client/connection.ts); operators decode through
 * the API's codec endpoint (/codec/decode, operator token) with `temporal --codec-endpoint` or the
 * Web UI's Data Encoder.
 *
 * Format: metadata `encoding: binary/encrypted`, `encryption-key-id` (first 16 hex characters of the
 * key's SHA-256, so a history encrypted with another key is reported as such), data = 12-byte IV,
 * ciphertext, 16-byte tag of the original payload as JSON (metadata and data base64).
 */
import type { Payload, PayloadCodec } from '@temporalio/common';
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { loadOrCreateMasterKey } from './secrets';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
const IV_BYTES = 12;
const TAG_BYTES = 16;

const b64 = (u: Uint8Array) => Buffer.from(u).toString('base64');
const text = (s: string) => new TextEncoder().encode(s);

export class CodecError extends Error {
  override name = 'CodecError';
}

export class AesGcmPayloadCodec implements PayloadCodec {
  readonly keyId: string;
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new CodecError(`the payload codec needs a 32-byte key, got ${key.length} bytes`);
    this.keyId = createHash('sha256').update(key).digest('hex').slice(0, 16);
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      const plain = JSON.stringify({
        metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, b64(v)])),
        data: b64(p.data ?? new Uint8Array()),
      });
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', this.key, iv);
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return {
        metadata: { encoding: text(ENCRYPTED_ENCODING), 'encryption-key-id': text(this.keyId) },
        data: Buffer.concat([iv, body, cipher.getAuthTag()]),
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      const encoding = p.metadata?.encoding ? Buffer.from(p.metadata.encoding).toString() : '';
      if (encoding !== ENCRYPTED_ENCODING) return p; // recorded before encryption, or never encoded
      const keyId = Buffer.from(p.metadata?.['encryption-key-id'] ?? new Uint8Array()).toString();
      if (keyId !== this.keyId) throw new CodecError(`payload encrypted with key ${keyId}, this codec holds key ${this.keyId}`);
      const data = Buffer.from(p.data ?? new Uint8Array());
      if (data.length < IV_BYTES + TAG_BYTES) throw new CodecError(`encrypted payload too short (${data.length} bytes)`);
      const decipher = createDecipheriv('aes-256-gcm', this.key, data.subarray(0, IV_BYTES));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      const plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]).toString('utf8');
      const parsed = JSON.parse(plain) as { metadata: Record<string, string>; data: string };
      return {
        metadata: Object.fromEntries(Object.entries(parsed.metadata).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
        data: Buffer.from(parsed.data, 'base64'),
      };
    });
  }
}

/** The codec keyed by `$DMX_STATE_DIR/codec.key` (32 random bytes, 0600, created on first use; every host and client needs the same file). */
export function createPayloadCodec(stateDir: string): AesGcmPayloadCodec {
  return new AesGcmPayloadCodec(loadOrCreateMasterKey(join(stateDir, 'codec.key')));
}
