/**
 * Runs once per `vitest run` of the real-stack suites: checks that the real stack is up (the
 * README's test command brings it up) and bundles the workflows once for every suite's workers.
 */
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { createCaddy, demoRouterOptions } from '../adapters/caddy';
import { loadConfig } from '../lib/config';
import { provideWorkflowBundle } from './helpers/bundle';

export default async function setup(project: TestProject) {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    throw new Error(`the real stack is not configured: ${(err as Error).message}. Run the tests with deployments/test.sh, which brings the stack up.`, { cause: err });
  }
  // What the worker does at start: the demo router route in Caddy (readiness requests the router probe through it).
  await createCaddy(config.caddy.adminSocket).ensureDemoRouter(demoRouterOptions(config));
  // One file per project: the two stack projects set up at once, and neither may read the other's half-written bundle.
  await provideWorkflowBundle(project, join(config.stateDir, 'run', `workflow-bundle-${project.name}.js`));
}
