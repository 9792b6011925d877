/** The CLI's Temporal client, closed after each command. */
import { Connection, type Client } from '@temporalio/client';
import type { Config } from '../lib/config';
import { temporalClient } from '../lib/temporal-client';

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
