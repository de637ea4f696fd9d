/** Prints an aligned plain-text table; the first row is the header. */
export function formatTable(rows: readonly (readonly string[])[]): string {
  if (!rows.length) return '';
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  const line = (r: readonly string[]) => r.map((cell, c) => (cell ?? '').padEnd(widths[c])).join('  ').trimEnd();
  const sep = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(rows[0]), sep, ...rows.slice(1).map(line)].join('\n');
}

export interface Figure {
  figure: string;
  value: string;
  target?: string;
  /** true = PASS, false = MISS, undefined = informational. */
  pass?: boolean;
}

/** Prints measured figures with their targets and PASS/MISS; returns whether every target was met. */
export function printResults(title: string, figures: readonly Figure[]): boolean {
  const rows = [['figure', 'value', 'target', 'result'], ...figures.map((f) => [f.figure, f.value, f.target ?? '', f.pass === undefined ? '' : f.pass ? 'PASS' : 'MISS'])];
  process.stdout.write(`\n${title}\n${formatTable(rows)}\n`);
  return figures.every((f) => f.pass !== false);
}
