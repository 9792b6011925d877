/**
 * The OpenAPI document says what the server enforces. schemathesis (PyPI, pinned and installed by
 * deployments/install-schemathesis.sh) reads the live API's /openapi.json and sends what it
 * allows — and what it forbids — to every operation: requests the document allows must not be
 * refused as invalid, requests it forbids must be, answers must match their declared status,
 * headers and body, undeclared methods must be 405 with `Allow`. Its settings, and the reason for
 * every narrowed check, are in test/api/schemathesis.toml.
 *
 * Real stack: an API on an ephemeral port and in-process workers on the `t-fz-` queues, so the
 * demos and the pool the fuzzer creates are real and are all removed at the end.
 */
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { poolHandle } from '../../client/pools';
import { demoIdFromWorkflowId, demoWorkflowId } from '../../contract';
import { expectNoTraces } from '../helpers/leaks';
import { startHarness, testConfig, type Harness } from '../helpers/stack';
import { apiTestConfig, call, eventually, OPERATOR_TOKEN, serveApi, type Served } from './helpers';

const PREFIX = 't-fz-';
const CONFIG_FILE = join(import.meta.dirname, 'schemathesis.toml');
const schemathesis = process.env.DMX_SCHEMATHESIS_BIN;

let h: Harness;
let api: Served;

/** Every demo workflow the fuzzer's requests started on this suite's queues. */
async function fuzzedDemoIds(): Promise<string[]> {
  const ids: string[] = [];
  for await (const w of h.client.workflow.list({ query: `DmxKind = 'demo' AND TaskQueue = '${PREFIX}dmx-shared'` })) {
    const id = demoIdFromWorkflowId(w.workflowId);
    if (id) ids.push(id);
  }
  return ids;
}

async function removeEverythingFuzzed(): Promise<void> {
  const pool = poolHandle(h.client, h.config, 'standin');
  await pool.cancel().catch(() => undefined); // no pool when the fuzzer never started one
  await pool.result().catch(() => undefined); // a cancelled workflow's result rejects
  const ids = await fuzzedDemoIds();
  await Promise.allSettled(ids.map((id) => h.client.workflow.getHandle(demoWorkflowId(id)).signal('releaseDemo', { reason: 'fuzz done' })));
  await eventually(async () => {
    const { count } = await h.client.workflow.count(`DmxKind = 'demo' AND TaskQueue = '${PREFIX}dmx-shared' AND ExecutionStatus = 'Running'`);
    expect(count).toBe(0);
  }, { timeoutMs: 60_000, intervalMs: 500 });
  for (const id of ids) await expectNoTraces(h.deps, id);
}

beforeAll(async () => {
  h = await startHarness(PREFIX, { config: testConfig({ DMX_TASK_QUEUE_PREFIX: PREFIX }) });
  // One provision at a time: a fuzzed pool target (up to 500) must not flood 2 cores.
  api = await serveApi(apiTestConfig({ DMX_TASK_QUEUE_PREFIX: PREFIX, DMX_POOL_MAX_CONCURRENT_PROVISIONS: '1', DMX_POOL_CLAIM_WAIT_SECONDS: '20' }));
});

afterAll(async () => {
  if (h) await removeEverythingFuzzed();
  await api?.close();
  await h?.stop();
}, 120_000);

describe('the OpenAPI document and the server agree', () => {
  it('undeclared methods on declared paths are 405 with Allow; unknown paths stay 404', async () => {
    const op = { authorization: `Bearer ${OPERATOR_TOKEN}` };
    for (const [method, path, allow] of [
      ['PATCH', '/v1/demos', 'GET, HEAD, POST'],
      ['PUT', '/v1/demos/abcd2345efgh6789', 'DELETE, GET, HEAD'],
      ['GET', '/v1/demos/abcd2345efgh6789/extend', 'POST'],
      ['DELETE', '/v1/pools/standin', 'GET, HEAD, PUT'],
      ['POST', '/healthz', 'GET, HEAD'],
    ] as const) {
      const r = await call(api.base, method, path, { headers: op });
      expect(r.status, `${method} ${path}`).toBe(405);
      expect(r.headers.allow, `${method} ${path}`).toBe(allow);
      expect(r.body.error.code).toBe('method_not_allowed');
    }
    for (const path of ['/v1/nope', '/v1/demos/abcd2345efgh6789/nope', '/v1/demos/']) {
      const r = await call(api.base, 'PATCH', path, { headers: op });
      expect(r.status, path).toBe(404);
      expect(r.headers.allow, path).toBeUndefined();
    }
  });

  it('schemathesis finds no request the document and the server disagree on', async () => {
    expect(schemathesis && existsSync(schemathesis), `DMX_SCHEMATHESIS_BIN (${schemathesis}) is installed by deployments/setup.sh`).toBeTruthy();
    const run = await execa(schemathesis!, [
      '--config-file', CONFIG_FILE, 'run', `${api.base}/openapi.json`, '--checks', 'all', '--no-color', '--output-truncate', 'false',
    ], {
      env: { DMX_FUZZ_OPERATOR_TOKEN: OPERATOR_TOKEN, NO_COLOR: '1' },
      cwd: tmpdir(), // anything it would write (reports) stays out of the work tree
      reject: false,
      timeout: 150_000,
      all: true,
    });
    // The operations it fuzzed are listed in its summary: a run that tested nothing is a failure too.
    const tested = /API Operations:\s+Selected: (\d+)\/(\d+)\s+Tested: (\d+)/.exec(run.all ?? '');
    expect(tested, run.all).not.toBeNull();
    const [, selected, documented, fuzzed] = tested!.map(Number);
    expect(fuzzed, run.all).toBe(documented);
    expect(selected).toBe(documented);
    expect(run.exitCode, run.all).toBe(0);
  }, 180_000);
});
