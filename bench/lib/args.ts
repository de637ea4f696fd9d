/**
 * Tiny option parser for benchmarks: `--name value`, `--name=value`, `--flag` (true), `--no-flag` (false).
 * Unknown options are an error, so a typo does not silently run the default benchmark.
 */
export type OptionSpec = Record<string, { default: number | string | boolean; help: string }>;
export type Options<S extends OptionSpec> = { [K in keyof S]: S[K]['default'] extends number ? number : S[K]['default'] extends boolean ? boolean : string };

export function parseOptions<S extends OptionSpec>(spec: S, argv: string[] = process.argv.slice(2), usage = ''): Options<S> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(spec)) out[k] = v.default;
  const fail = (msg: string): never => {
    process.stderr.write(`${msg}\n\n${helpText(spec, usage)}`);
    process.exit(2);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') {
      process.stdout.write(helpText(spec, usage));
      process.exit(0);
    }
    if (!arg.startsWith('--')) fail(`unexpected argument '${arg}'`);
    let [name, value] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    let negated = false;
    if (!(name in spec) && name.startsWith('no-') && name.slice(3) in spec) {
      name = name.slice(3);
      negated = true;
    }
    if (!(name in spec)) fail(`unknown option --${name}`);
    const def = spec[name].default;
    if (typeof def === 'boolean') {
      out[name] = negated ? false : value === undefined ? true : !['0', 'false', 'no'].includes(value);
      continue;
    }
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) fail(`--${name} needs a value`);
    }
    if (typeof def === 'number') {
      const n = Number(value);
      if (!Number.isFinite(n) || n < 0) fail(`--${name} must be a non-negative number, got '${value}'`);
      out[name] = n;
    } else out[name] = value;
  }
  return out as Options<S>;
}

export function helpText(spec: OptionSpec, usage = ''): string {
  const lines = usage ? [usage, ''] : [];
  lines.push('options:');
  for (const [k, v] of Object.entries(spec)) lines.push(`  --${k.padEnd(18)} ${v.help} (default: ${String(v.default)})`);
  return lines.join('\n') + '\n';
}
