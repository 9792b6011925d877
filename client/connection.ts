/** Connections to Temporal: a lazy one for long-running processes, one per command for the CLI, and call deadlines. */
import { Client, Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor } from '@temporalio/client';
import type { Config } from '../lib/config';

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
    return await fn(new Client({ connection, namespace: config.temporal.namespace }));
  } finally {
    await connection.close();
  }
}

/** Runs `fn` with a gRPC deadline `ms` from now (no deadline when `ms` is undefined). */
export function withDeadline<T>(client: Client, ms: number | undefined, fn: () => Promise<T>): Promise<T> {
  return ms === undefined ? fn() : client.connection.withDeadline(Date.now() + ms, fn);
}
