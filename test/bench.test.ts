/** The benchmark's pure pieces: statistics, option parsing and the Markdown table (no timing asserted). */
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseOptions } from '../bench/options';
import { progressPath, saveFinal, saveProgress } from '../bench/save';
import { renderReport, renderTable, type BenchResult } from '../bench/report';
import { cpuBetween, cpuSnapshot, describePerDemo } from '../bench/cpu';
import { percentile, round, slope, summarize } from '../bench/stats';

describe('bench statistics', () => {
  it('computes percentiles by linear interpolation between ranks', () => {
    const xs = [5, 1, 4, 2, 3];
    expect(percentile(xs, 0)).toBe(1);
    expect(percentile(xs, 50)).toBe(3);
    expect(percentile(xs, 100)).toBe(5);
    expect(percentile(xs, 25)).toBe(2);
    expect(percentile([10, 20], 99)).toBeCloseTo(19.9);
    expect(percentile([], 50)).toBeNaN();
    expect(() => percentile(xs, 101)).toThrow(RangeError);
    expect(xs).toEqual([5, 1, 4, 2, 3]); // input untouched
  });

  it('summarizes samples', () => {
    const s = summarize(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(s).toMatchObject({ n: 100, min: 1, max: 100, mean: 50.5, p50: 50.5 });
    expect(s.p99).toBeCloseTo(99.01);
    expect(summarize([]).n).toBe(0);
    expect(round(1.26, 1)).toBe(1.3);
    expect(slope([[0, 1], [1, 3], [2, 5]])).toBeCloseTo(2);
  });
});

describe('bench options', () => {
  it('has small quick defaults and full defaults, and takes sizes as lists', () => {
    const q = parseOptions(['--quick']);
    expect(q.quick).toBe(true);
    expect(q.out).toMatch(/latest-quick\.json$/);
    const full = parseOptions([]);
    expect(full.acquireConcurrency).toEqual([1, 10, 50, 200]);
    expect(full.out).toMatch(/latest\.json$/);
    const custom = parseOptions(['--concurrency', '2,4', '--only', 'acquire,cold', '--cold-samples', '3']);
    expect(custom).toMatchObject({ acquireConcurrency: [2, 4], only: ['acquire', 'cold'], coldSamples: 3 });
    expect(() => parseOptions(['--nope'])).toThrow();
  });
});

describe('bench report', () => {
  const result: BenchResult = {
    env: {
      startedAt: '2026-01-01T00:00:00.000Z', mode: 'quick', profile: 'dev', cores: 2, cpuModel: 'cpu', memTotalMB: 24576,
      loadAverage: [0.1, 0.2, 0.3], kernel: '6.18', versions: { node: 'v20', podman: '4.3.1' }, quiet: true,
    },
    rows: [
      { group: 'acquire', name: 'POST, 10 concurrent', unit: 'ms', summary: summarize([10, 20, 30]), target: 'p50 ≤ 30', met: true, note: 'a|b' },
      { group: 'density', name: 'refill', unit: 'ready/min', value: 42.123 },
    ],
    details: {},
    notes: ['a note'],
    errors: [],
  };

  it('renders a Markdown table', () => {
    expect(renderTable(result.rows)).toBe([
      '| group | measurement | n | p50 | p99 | max | unit | target | met | notes |',
      '| --- | --- | ---: | ---: | ---: | ---: | --- | --- | :---: | --- |',
      '| acquire | POST, 10 concurrent | 3 | 20 | 29.8 | 30 | ms | p50 ≤ 30 | yes | a\\|b |',
      '| density | refill |  | 42.1 |  |  | ready/min |  |  |  |',
    ].join('\n'));
  });

  it('puts the machine, versions and notes around the table', () => {
    const md = renderReport(result);
    expect(md).toContain('2 cores');
    expect(md).toContain('quiet');
    expect(md).toContain('podman 4.3.1');
    expect(md).toContain('- a note');
    expect(md).not.toContain('Errors');
  });
});

describe('bench result files', () => {
  const read = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as BenchResult;

  it('keeps finished sections beside the committed file while running and replaces it only at the end', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dmx-bench-save-'));
    try {
      const out = join(dir, 'results', 'latest.json');
      const result: BenchResult = { env: { startedAt: 't', mode: 'full' } as BenchResult['env'], rows: [], details: {}, notes: [], errors: [] };
      saveProgress(out, result, ['x']); // makes the folder
      writeFileSync(out, '{"previous":"run"}\n');
      result.details.acquire = { done: 1 };
      saveProgress(out, result, ['cold', 'clean-up']);
      expect(read(progressPath(out))).toMatchObject({ details: { acquire: { done: 1 } }, incomplete: 'not run yet: cold, clean-up' });
      expect(readFileSync(out, 'utf8')).toBe('{"previous":"run"}\n'); // a stopped run leaves the last full one alone
      expect(result.incomplete).toBeUndefined(); // the progress mark is not carried into the result

      result.details.cold = { done: 2 };
      saveFinal(out, result);
      const final = read(out);
      expect(final.details).toEqual({ acquire: { done: 1 }, cold: { done: 2 } });
      expect(final).not.toHaveProperty('incomplete');
      expect(existsSync(progressPath(out))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('bench CPU accounting', () => {
  it('splits the busy time between two snapshots by source, the unaccounted rest included, per ready demo', () => {
    const a = { busySeconds: 100, bySource: { worker: 10, temporal: 5, ksmd: 0 } };
    const b = { busySeconds: 112, bySource: { worker: 16, temporal: 8, ksmd: 1 } };
    const use = cpuBetween(a, b);
    expect(use.busySeconds).toBe(12);
    expect(use.bySource).toEqual({ worker: 6, temporal: 3, ksmd: 1, rest: 2 });
    expect(describePerDemo(use, 4)).toBe('3.00 core-s per ready demo: worker 1.50, temporal 0.75, rest 0.50, ksmd 0.25');
  });

  it('reads this host: busy time grows, and a process of the stack that is not running counts nothing', () => {
    const config = { stateDir: '/nonexistent' } as Parameters<typeof cpuSnapshot>[0];
    const a = cpuSnapshot(config);
    let x = 0;
    for (let i = 0; i < 1e8; i++) x += i;
    const b = cpuSnapshot(config);
    expect(x).toBeGreaterThan(0);
    expect(b.busySeconds).toBeGreaterThan(a.busySeconds);
    expect(a.bySource.worker).toBeUndefined();
  });
});
