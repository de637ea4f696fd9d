// Bundles the proxy into one file. The intake code is the server's (apps/server/src/logs), compiled
// in; chdb (a native library) and @clickhouse/client stay external and load from node_modules.
import { bundleNodeApp } from '../../scripts/bundle-node-app.mjs';

await bundleNodeApp({
  outfile: 'dist/clickhouse-proxy.js',
  external: ['chdb', 'chdb/*', '@clickhouse/client', '@prisma/*', '.prisma/*'],
});
