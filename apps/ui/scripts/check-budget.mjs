#!/usr/bin/env node
// Checks that the production UI's initial load (the scripts and styles index.html pulls in at once,
// modulepreloads included; lazy pages excluded) stays under the budget, uncompressed.
import { readFileSync, statSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BUDGET = 1024 * 1024;
const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'browser');
const indexFile = path.join(dist, 'index.html');
if (!existsSync(indexFile)) {
  console.error(`check-budget: ${indexFile} is missing; run npm run build -w @kraken/ui first`);
  process.exit(1);
}
const html = readFileSync(indexFile, 'utf8');
const files = new Set();
for (const m of html.matchAll(/<script[^>]+src="([^"]+)"/g)) files.add(m[1]);
for (const m of html.matchAll(/<link[^>]+rel="(?:modulepreload|stylesheet)"[^>]*href="([^"]+)"/g)) files.add(m[1]);
for (const m of html.matchAll(/<link[^>]+href="([^"]+)"[^>]*rel="(?:modulepreload|stylesheet)"/g)) files.add(m[1]);
// Chunks the entry point imports statically are part of the initial load too.
const queue = [...files].filter((f) => f.endsWith('.js'));
while (queue.length) {
  const f = queue.pop();
  const src = readFileSync(path.join(dist, f), 'utf8');
  for (const m of src.matchAll(/(?:import|from)\s*"\.\/(chunk-[A-Z0-9]+\.js)"/g)) {
    if (!files.has(m[1])) {
      files.add(m[1]);
      queue.push(m[1]);
    }
  }
}
let total = 0;
const rows = [...files].map((f) => {
  const size = statSync(path.join(dist, f)).size;
  total += size;
  return `  ${f.padEnd(32)} ${(size / 1024).toFixed(1).padStart(8)} kB`;
});
console.log(`UI initial load (uncompressed):\n${rows.join('\n')}\n  ${'total'.padEnd(32)} ${(total / 1024).toFixed(1).padStart(8)} kB of ${BUDGET / 1024} kB`);
if (total > BUDGET) {
  console.error(`check-budget: the initial load is ${(total / 1024).toFixed(1)} kB, over the ${BUDGET / 1024} kB budget`);
  process.exit(1);
}
