/** The benchmark's result document and its Markdown rendering (pure: tested on fixed input). */
import { round, type Summary } from './stats';

/** One line of the table: a latency distribution (summary) or a single value. */
export interface Row {
  /** Section, e.g. "acquire". */
  group: string;
  /** What was measured, e.g. "POST /v1/demos, 10 concurrent". */
  name: string;
  unit: string;
  summary?: Summary;
  value?: number;
  /** Human-readable target, e.g. "p50 ≤ 30, p99 ≤ 100". */
  target?: string;
  /** Whether the target was met (undefined: no target). */
  met?: boolean;
  note?: string;
}

export interface Environment {
  startedAt: string;
  finishedAt?: string;
  mode: 'quick' | 'full';
  profile: string;
  cores: number;
  cpuModel: string;
  memTotalMB: number;
  loadAverage: number[];
  kernel: string;
  /** Demos' identical pages merged by the kernel (DMX_DEMO_MEMORY_MERGE with ksmd running). */
  memoryMerge?: boolean;
  versions: Record<string, string>;
  /** Whether other work ran on the machine (load average before the run vs cores). */
  quiet: boolean;
}

export interface BenchResult {
  env: Environment;
  rows: Row[];
  /** Per-measurement details (raw step timings, samples, settings). */
  details: Record<string, unknown>;
  notes: string[];
  errors: string[];
  /** Only in a run's progress file (bench/save.ts): what the run had not done yet when it was written. */
  incomplete?: string;
}

function fmt(x: number | undefined, unit: string): string {
  if (x === undefined || !Number.isFinite(x)) return '–';
  const digits = Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2;
  return `${round(x, digits)}${unit === 'ms' || unit === '' ? '' : ` ${unit}`}`;
}

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function renderTable(rows: readonly Row[]): string {
  const lines = [
    '| group | measurement | n | p50 | p99 | max | unit | target | met | notes |',
    '| --- | --- | ---: | ---: | ---: | ---: | --- | --- | :---: | --- |',
  ];
  for (const r of rows) {
    const s = r.summary;
    const met = r.met === undefined ? '' : r.met ? 'yes' : '**no**';
    const p50 = s ? fmt(s.p50, '') : fmt(r.value, '');
    lines.push(`| ${cell(r.group)} | ${cell(r.name)} | ${s ? s.n : ''} | ${p50} | ${s ? fmt(s.p99, '') : ''} | ${s ? fmt(s.max, '') : ''} | ${cell(r.unit)} | ${cell(r.target ?? '')} | ${met} | ${cell(r.note ?? '')} |`);
  }
  return lines.join('\n');
}

export function renderReport(result: BenchResult): string {
  const e = result.env;
  const versions = Object.entries(e.versions).map(([k, v]) => `${k} ${v}`).join(', ');
  const out = [
    `## dmx benchmark (${e.mode}, profile ${e.profile}, ${e.startedAt})`,
    '',
    `Machine: ${e.cores} cores (${e.cpuModel}), ${Math.round(e.memTotalMB / 1024)} GiB, kernel ${e.kernel}; ` +
      `load average at start ${e.loadAverage.map((x) => x.toFixed(2)).join(' / ')} — ${e.quiet ? 'quiet' : 'NOT quiet (other work was running)'}; ` +
      `demo memory merging (KSM) ${e.memoryMerge ? 'on' : 'off'}.`,
    `Versions: ${versions}.`,
    '',
    renderTable(result.rows),
  ];
  if (result.notes.length) out.push('', ...result.notes.map((n) => `- ${n}`));
  if (result.errors.length) out.push('', '**Errors:**', ...result.errors.map((n) => `- ${n}`));
  return out.join('\n');
}
