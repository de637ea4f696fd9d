// One esbuild set-up for the apps shipped as a single executable JavaScript file (kkagent, the
// ClickHouse proxy): Node.js 20, CommonJS, workspace packages compiled from their TypeScript source.
import { build } from 'esbuild';

/** Bundles `src/main.ts` of the calling app (run from its folder) into `outfile`. */
export async function bundleNodeApp({ outfile, external = [], define = {} }) {
  await build({
    entryPoints: ['src/main.ts'],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    conditions: ['source'],
    sourcemap: 'inline',
    banner: { js: '#!/usr/bin/env node' },
    define,
    external,
    logLevel: 'warning',
  });
}
