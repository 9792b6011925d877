/**
 * Runs once per `vitest run`: checks that the real stack is up (the README's test command brings
 * it up) and bundles the workflows once (2-4 s) for every suite's workers.
 */
import { bundleWorkflowCode } from '@temporalio/worker';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { createCaddy } from '../adapters/caddy';
import { demoRouterOptions, loadConfig } from '../lib/config';
import { workflowsPath } from '../workflows/location';

declare module 'vitest' {
  export interface ProvidedContext { workflowBundlePath: string }
}

export default async function setup(project: TestProject) {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    throw new Error(`the real stack is not configured: ${(err as Error).message}. Run the tests with deployments/test.sh, which brings the stack up.`, { cause: err });
  }
  // What the worker does at start: the demo router route in Caddy (readiness requests the router probe through it).
  await createCaddy(config.caddy.adminSocket).ensureDemoRouter(demoRouterOptions(config));
  const { code } = await bundleWorkflowCode({ workflowsPath, logger: { info() {}, warn: console.warn, error: console.error, debug() {}, trace() {}, log() {} } });
  mkdirSync(join(config.stateDir, 'run'), { recursive: true });
  const path = join(config.stateDir, 'run', 'workflow-bundle.js');
  writeFileSync(path, code);
  project.provide('workflowBundlePath', path);
}
