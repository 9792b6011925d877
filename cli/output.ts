/** Output helpers: aligned key/value lines or tables for people, JSON for scripts. */
export function printResult(out: (text: string) => void, json: boolean | undefined, data: unknown, rows: Array<[string, string]>): void {
  if (json) {
    out(`${JSON.stringify(data, null, 2)}\n`);
    return;
  }
  const w = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) out(`${k.padEnd(w)}  ${v}\n`);
}

export function printTable(out: (text: string) => void, headers: string[], rows: string[][]): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  out(`${line(headers)}\n`);
  for (const r of rows) out(`${line(r)}\n`);
  if (rows.length === 0) out('(none)\n');
}
