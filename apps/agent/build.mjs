// Bundles kkagent into one file that runs on any machine with Node.js >= 20: the file the
// server hands out at /install/agent and the one the built-in agent runs.
import { readFileSync } from 'node:fs';
import { bundleNodeApp } from '../../scripts/bundle-node-app.mjs';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));
await bundleNodeApp({
  outfile: 'dist/kkagent.js',
  define: { KKAGENT_VERSION: JSON.stringify(pkg.version) },
  // Optional native helpers of ws and of dockerode's ssh transport; both work without them.
  external: ['bufferutil', 'utf-8-validate', 'cpu-features', 'ssh2'],
});
