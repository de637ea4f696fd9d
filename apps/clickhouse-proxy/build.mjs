// Bundles the proxy into one file. The intake code is the server's (apps/server/src/logs), compiled
// in; chdb (a native library) and @clickhouse/client stay external and load from node_modules.
import { build } from 'esbuild';

await build({
  entryPoints: ['src/main.ts'],
  outfile: 'dist/clickhouse-proxy.js',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  conditions: ['source'],
  sourcemap: 'inline',
  banner: { js: '#!/usr/bin/env node' },
  external: ['chdb', 'chdb/*', '@clickhouse/client', '@prisma/*', '.prisma/*'],
  logLevel: 'warning',
});
