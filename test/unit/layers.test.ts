/**
 * The layers read top-down: every relative import of the product code goes to its own layer or
 * one below it, peers at the top never import each other, and no product file exceeds 300 lines.
 * (Import cycles are checked by /work/shared/tools/import-cycles.mjs in CI's lint step.)
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../lib/config';

/** Bottom to top; folders on one rank are peers that must not import each other. */
export const LAYERS: string[][] = [['contract'], ['lib'], ['adapters'], ['templates'], ['activities'], ['workflows'], ['client'], ['api', 'cli', 'workers']];
const rankOf = new Map(LAYERS.flatMap((folders, rank) => folders.map((f) => [f, rank] as const)));

function productFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.ts')) out.push(p);
    }
  };
  for (const folder of rankOf.keys()) walk(join(repoRoot, folder));
  return out;
}

const topFolder = (file: string) => relative(repoRoot, file).split('/')[0]!;

describe('layers', () => {
  const files = productFiles();

  it('finds the product code', () => {
    expect(files.length).toBeGreaterThan(40);
  });

  it('imports run one way: down the layers, never across peers', () => {
    const wrong: string[] = [];
    for (const file of files) {
      const from = topFolder(file);
      for (const m of readFileSync(file, 'utf8').matchAll(/(?:import|export)\s[^'"]*?from\s+['"](\.[^'"]+)['"]/g)) {
        const to = topFolder(resolve(dirname(file), m[1]!));
        if (to === from) continue;
        const ok = rankOf.has(to) && rankOf.get(to)! < rankOf.get(from)!;
        if (!ok) wrong.push(`${relative(repoRoot, file)} -> ${m[1]}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('no product file is over 300 lines', () => {
    const long = files.map((f) => [relative(repoRoot, f), readFileSync(f, 'utf8').split('\n').length - 1] as const).filter(([, n]) => n > 300);
    expect(long).toEqual([]);
  });
});
