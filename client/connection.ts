/**
 * Connections to Temporal: a lazy one for long-running processes, one per command for the CLI, and
 * call deadlines. The one place clients and workers get their data converter: payloads are
 * encrypted (lib/payload-codec.ts) for the worker, the API, the CLI, tests and the benchmark alike.
 */
import { Client, Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor, type ConnectionOptions } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import type { Config } from '../lib/config';
import { createPayloadCodec, type AesGcmPayloadCodec } from '../lib/payload-codec';

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

/** Every dmx client: the namespace and the encrypting data converter. */
export function temporalClient(config: Config, connection: Connection): Client {
  return new Client({ connection, namespace: config.temporal.namespace, dataConverter: temporalDataConverter(config) });
}

/** Connects and builds the client; close the connection when done. */
export async function connectTemporalClient(config: Config, options: Omit<ConnectionOptions, 'address'> = {}): Promise<{ client: Client; connection: Connection }> {
  const connection = await Connection.connect({ address: config.temporal.address, ...options });
  return { client: temporalClient(config, connection), connection };
}

/** Connects on first use (the API starts even when Temporal is down, and gRPC reconnects by itself). */
export function temporalConnection(config: Config): Connection {
  return Connection.lazy({
    address: config.temporal.address,
    connectTimeout: '3s',
    // A few quick retries, not the default ten: callers get a clear 503 rather than a long wait.
    interceptors: [makeGrpcRetryInterceptor(defaultGrpcRetryOptions({ maxAttempts: 3 }))],
  });
}

/** A client for one command, closed after it. */
export async function withClient<T>(config: Config, fn: (client: Client) => Promise<T>): Promise<T> {
  let connection: Connection;
  try {
    connection = await Connection.connect({ address: config.temporal.address, connectTimeout: 5_000 });
  } catch (err) {
    throw new Error(`cannot reach Temporal at ${config.temporal.address} (is the stack up? deployments/stack.sh status)`, { cause: err });
  }
  try {
    return await fn(temporalClient(config, connection));
  } finally {
    await connection.close();
  }
}

/** Runs `fn` with a gRPC deadline `ms` from now (no deadline when `ms` is undefined). */
export function withDeadline<T>(client: Client, ms: number | undefined, fn: () => Promise<T>): Promise<T> {
  return ms === undefined ? fn() : client.connection.withDeadline(Date.now() + ms, fn);
}
