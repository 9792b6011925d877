/** Reading payloads of a fetched history the way the client's data converter (and codec) would. */
import type { Client } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { decodeArrayFromPayloads } from '@temporalio/common/lib/internal-non-workflow';

export async function decodeHistoryPayloads(client: Client, payloads: Payload[]): Promise<unknown[]> {
  return decodeArrayFromPayloads(client.options.loadedDataConverter, payloads);
}
