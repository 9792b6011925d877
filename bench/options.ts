/** Command-line options of `npm run bench` (pure: tested). Sizes are lists: `--concurrency 1,10,50`. */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { repoRoot } from '../lib/config';
import type { BenchOptions } from './context';

const list = (s: string | undefined, dflt: number[]) => (s ? s.split(',').map((x) => Number(x.trim())).filter((x) => Number.isFinite(x)) : dflt);

export function parseOptions(argv: string[]): BenchOptions & { out: string } {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      template: { type: 'string' },
      only: { type: 'string' },
      concurrency: { type: 'string' },
      claims: { type: 'string' },
      'cold-samples': { type: 'string' },
      'teardown-samples': { type: 'string' },
      'names-levels': { type: 'string' },
      'alias-levels': { type: 'string' },
      'caddy-levels': { type: 'string' },
      'route-samples': { type: 'string' },
      'scale-levels': { type: 'string' },
      'knee-levels': { type: 'string' },
      'knee-demos': { type: 'string' },
      out: { type: 'string' },
    },
    strict: true,
  });
  const q = values.quick === true;
  const only = values.only?.split(',').map((s) => s.trim());
  // A partial run never overwrites the full run's latest.json: it is written beside it, named after its parts.
  const outName = `${only ? `${only.join('-')}-` : ''}${q ? 'latest-quick' : 'latest'}.json`;
  const num = (s: string | undefined, d: number) => (s !== undefined && Number.isFinite(Number(s)) ? Number(s) : d);
  return {
    quick: q,
    template: values.template ?? 'standin',
    only,
    acquireConcurrency: list(values.concurrency, q ? [1, 3] : [1, 10, 50, 200]),
    acquireClaims: list(values.claims, q ? [3, 3] : [50, 150, 150, 150]),
    coldSamples: num(values['cold-samples'], q ? 2 : 10),
    teardownSamples: num(values['teardown-samples'], q ? 2 : 10),
    namesLevels: list(values['names-levels'], q ? [0, 50] : [0, 500, 2000, 5000]),
    aliasLevels: list(values['alias-levels'], q ? [0, 10] : [0, 500]),
    caddyLevels: list(values['caddy-levels'], q ? [0, 50] : [0, 500, 2000]),
    routeSamples: num(values['route-samples'], q ? 5 : 30),
    scaleLevels: list(values['scale-levels'], q ? [3] : [10, 100, 1000, 2000]),
    kneeLevels: list(values['knee-levels'], q ? [1, 2] : [1, 2, 4, 6, 8]),
    kneeDemos: num(values['knee-demos'], q ? 2 : 24),
    out: values.out ?? join(repoRoot, 'bench', 'results', outName),
  };
}

