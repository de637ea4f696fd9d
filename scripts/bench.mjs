#!/usr/bin/env node
// `npm run bench -- <name> [options]`: runs bench/<name>.ts with tsx (after a build when the
// server or agent bundle is missing). Without a name, or with an unknown one, lists the benchmarks.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const benchDir = path.join(root, 'bench');
const [name, ...rest] = process.argv.slice(2);

/** bench/*.ts with the first line of their leading doc comment. */
function available() {
  if (!existsSync(benchDir)) return [];
  return readdirSync(benchDir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .sort()
    .map((f) => {
      const text = readFileSync(path.join(benchDir, f), 'utf8');
      const doc = /\/\*\*\s*\n?\s*\*?\s*([^\n]*)/.exec(text)?.[1]?.replace(/\*\/\s*$/, '').trim() ?? '';
      return { name: f.slice(0, -3), doc };
    });
}

function list(stream) {
  const all = available();
  stream.write('usage: npm run bench -- <name> [options]   (npm run bench -- <name> --help for its options)\n\nbenchmarks:\n');
  for (const b of all) stream.write(`  ${b.name.padEnd(12)} ${b.doc}\n`);
  if (!all.length) stream.write('  (none in bench/)\n');
}

if (!name || name === '--help' || name === '-h' || name === 'list') {
  list(process.stdout);
  process.exit(name ? 0 : 2);
}
if (!/^[\w-]+$/.test(name) || !existsSync(path.join(benchDir, `${name}.ts`))) {
  process.stderr.write(`unknown benchmark '${name}'\n\n`);
  list(process.stderr);
  process.exit(2);
}

const needed = ['apps/server/dist/main.js', 'apps/agent/dist/kkagent.js'];
const missing = needed.filter((p) => !existsSync(path.join(root, p)));
if (missing.length) {
  process.stderr.write(`bench: ${missing.join(', ')} missing: building (npx turbo run build)\n`);
  const r = spawnSync('npx', ['turbo', 'run', 'build', '--output-logs=errors-only'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    process.stderr.write('bench: the build failed\n');
    process.exit(r.status ?? 1);
  }
}

const child = spawn(process.execPath, ['--import', 'tsx', path.join(benchDir, `${name}.ts`), ...rest], { cwd: root, stdio: 'inherit' });
// Pass Ctrl-C / SIGTERM on so the benchmark cleans up (stops its server, drops its database).
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 + 1 : 1)));
