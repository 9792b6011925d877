/**
 * The one place Temporal clients and workers get their data converter: payloads are encrypted
 * (lib/payload-codec.ts) for the worker, the API, the CLI, tests and the benchmark alike.
 */
import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import type { Config } from './config';
import { createPayloadCodec, type AesGcmPayloadCodec } from './payload-codec';

const codecs = new Map<string, AesGcmPayloadCodec>();

/** The payload codec of this state directory (its codec.key), one per process. */
export function payloadCodec(config: Config): AesGcmPayloadCodec {
  let codec = codecs.get(config.stateDir);
  if (!codec) {
    codec = createPayloadCodec(config.stateDir);
    codecs.set(config.stateDir, codec);
  }
  return codec;
}

export function temporalDataConverter(config: Config): DataConverter {
  return { payloadCodecs: [payloadCodec(config)] };
}

export function temporalClient(config: Config, connection: Connection): Client {
  return new Client({ connection, namespace: config.temporal.namespace, dataConverter: temporalDataConverter(config) });
}

/** Connects and builds the client; `close` ends the connection. */
export async function connectTemporalClient(config: Config, options: Omit<ConnectionOptions, 'address'> = {}): Promise<{ client: Client; connection: Connection }> {
  const connection = await Connection.connect({ address: config.temporal.address, ...options });
  return { client: temporalClient(config, connection), connection };
}
