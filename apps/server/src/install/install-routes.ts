import { readFile, stat } from 'node:fs/promises';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Settings } from '@kraken/protocol';
import { agentBundlePath } from '../builtin-agent/builtin-agent';
import { HttpError } from '../http/errors';
import { SERVER_VERSION } from '../version';
import { installScript } from './install-script';

export interface InstallRoutesDeps {
  settings: { get(fresh?: boolean): Promise<Settings>; update(changes: { enrollment_token?: string }): Promise<Settings> };
  /** The kkagent bundle served at /install/agent; default: the agent package's dist/kkagent.js. */
  bundlePath?: string;
}

const HOST_RE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})?)*\.?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

const first = (h: string | string[] | undefined) => (Array.isArray(h) ? h[0] : h)?.split(',')[0]?.trim() || undefined;

/**
 * The base URL agents should use: the `server_url` setting, else the address this request came
 * to (`X-Forwarded-Proto`/`X-Forwarded-Host` from a proxy, else the `Host` header).
 */
export function serverUrlFor(req: FastifyRequest, setting: string): { url: string; source: 'setting' | 'request' } {
  const configured = setting.trim().replace(/\/+$/, '');
  if (configured) {
    try {
      const u = new URL(configured);
      if ((u.protocol === 'http:' || u.protocol === 'https:') && !u.search && !u.hash && !u.username && !u.password) {
        return { url: configured, source: 'setting' };
      }
    } catch {
      /* not a URL: use the request's address */
    }
  }
  const proto = first(req.headers['x-forwarded-proto'])?.toLowerCase();
  const scheme = proto === 'http' || proto === 'https' ? proto : req.protocol;
  const host = first(req.headers['x-forwarded-host']) ?? req.headers.host;
  if (!host || !HOST_RE.test(host)) {
    throw new HttpError(400, 'no-server-url', 'cannot tell this server\'s address from the request (no valid Host header): set the server URL on the Settings page (server_url)');
  }
  return { url: `${scheme}://${host}`, source: 'request' };
}

let cached: { file: string; mtimeMs: number; size: number; data: Buffer } | undefined;

/** The bundle (about 5 MB), kept in memory until the file changes (a rebuild). */
async function readBundle(file: string): Promise<Buffer> {
  let st;
  try {
    st = await stat(file);
    if (!st.isFile()) throw new Error('not a file');
  } catch {
    throw new HttpError(404, 'agent-not-built', `the agent bundle is not built (${file} is missing): run npm run build on the server`);
  }
  if (!cached || cached.file !== file || cached.mtimeMs !== st.mtimeMs || cached.size !== st.size) {
    cached = { file, mtimeMs: st.mtimeMs, size: st.size, data: await readFile(file) };
  }
  return cached.data;
}

/**
 * Public files for setting up agents (no session; the auth hook lets every non-/api path through):
 * `GET /install/agent` (the kkagent bundle) and `GET /install/kraken-agent-install.sh` (the
 * installer with this server's address in it), also under `/bk/install/` as upstream has them.
 */
export async function registerInstallRoutes(app: FastifyInstance, deps: InstallRoutesDeps): Promise<void> {
  // Looked up per request: a server installed without the agent package still starts.
  const bundlePath = () => {
    if (deps.bundlePath) return deps.bundlePath;
    try {
      return agentBundlePath();
    } catch {
      return 'node_modules/@kraken/agent/dist/kkagent.js';
    }
  };

  for (const prefix of ['/install', '/bk/install']) {
    app.get(`${prefix}/agent`, async (_req, reply) => {
      const data = await readBundle(bundlePath());
      return reply
        .type('application/javascript; charset=utf-8')
        .header('content-disposition', 'attachment; filename="kkagent"')
        .header('cache-control', 'no-cache')
        .send(data); // a Buffer: Fastify sets content-length
    });

    app.get(`${prefix}/kraken-agent-install.sh`, async (req, reply) => {
      const s = await deps.settings.get(true);
      const { url, source } = serverUrlFor(req, s.server_url);
      const script = installScript({ serverUrl: url, serverUrlSource: source, clickhouseAddr: s.clickhouse_addr.trim(), serverVersion: SERVER_VERSION });
      return reply
        .type('text/x-shellscript; charset=utf-8')
        .header('content-disposition', 'inline; filename="kraken-agent-install.sh"')
        .header('cache-control', 'no-store')
        .send(script);
    });
  }
}
