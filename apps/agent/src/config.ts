import path from 'node:path';
import { z } from 'zod';
import { describeIssues, issuesOf } from '@kraken/protocol';

export class AgentConfigError extends Error {}

const flag = z.enum(['0', '1', 'true', 'false', 'yes', 'no', '']).transform((v) => v === '1' || v === 'true' || v === 'yes');

export const agentEnvSchema = z.object({
  KRAKEN_SERVER_ADDR: z.string().optional(),
  KRAKEN_DATA_DIR: z.string().optional(),
  KRAKEN_AGENT_TOKEN: z.string().optional(),
  KRAKEN_AGENT_BUILTIN: flag.optional(),
  KRAKEN_AGENT_SLOTS: z.coerce.number().int().min(1).max(64).optional(),
  KRAKEN_SYSTEM_ID: z.string().min(1).optional(),
  KRAKEN_CLICKHOUSE_ADDR: z.string().optional(),
  KRAKEN_AGENT_BIND_ADDR: z.union([z.ipv4(), z.ipv6()]).optional(),
});

export interface AgentOptions {
  server?: string;
  dataDir?: string;
  slots?: string;
  systemId?: string;
  clickhouseAddr?: string;
  stopTimeout?: string;
  bindAddr?: string;
}

export interface AgentConfig {
  /** Base URL of the server, e.g. `http://kraken:6363/`. */
  serverUrl: URL;
  dataDir: string;
  token?: string;
  builtin: boolean;
  slots: number;
  systemId?: string;
  clickhouseAddr?: string;
  stopTimeoutMs: number;
  /** Local address to connect from, on hosts with several (e.g. 10.0.0.5). */
  bindAddr?: string;
}

export const DEFAULT_DATA_DIR = '/opt/kraken/data';

/**
 * Accepts `http(s)://host[:port][/prefix]`, the upstream form ending in `/backend` or
 * `/bk/backend`, and a bare `host:port` (as upstream's Docker image uses).
 */
export function parseServerUrl(raw: string): URL {
  const text = raw.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new AgentConfigError(`bad server URL '${raw}': expected e.g. http://kraken.example.com:6363`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new AgentConfigError(`bad server URL '${raw}': the scheme must be http or https`);
  }
  if (!url.hostname) throw new AgentConfigError(`bad server URL '${raw}': no host`);
  url.pathname = url.pathname.replace(/\/(bk\/)?backend\/?$/, '/');
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  url.search = '';
  url.hash = '';
  return url;
}

export function loadAgentConfig(opts: AgentOptions, env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const present = Object.fromEntries(Object.entries(env).filter(([k, v]) => k.startsWith('KRAKEN_') && v !== undefined && v !== ''));
  const parsed = agentEnvSchema.safeParse(present);
  if (!parsed.success) throw new AgentConfigError(`bad environment: ${describeIssues(issuesOf(parsed.error))}`);
  const e = parsed.data;
  const server = opts.server ?? e.KRAKEN_SERVER_ADDR;
  if (!server) throw new AgentConfigError('no server address: pass -s <server-url> or set KRAKEN_SERVER_ADDR');
  const slots = opts.slots !== undefined ? Number(opts.slots) : (e.KRAKEN_AGENT_SLOTS ?? 1);
  if (!Number.isInteger(slots) || slots < 1 || slots > 64) throw new AgentConfigError(`bad slots '${opts.slots}': a whole number from 1 to 64`);
  const stopTimeout = opts.stopTimeout !== undefined ? Number(opts.stopTimeout) : 600;
  if (!Number.isFinite(stopTimeout) || stopTimeout < 0) throw new AgentConfigError(`bad --stop-timeout '${opts.stopTimeout}': seconds, 0 or more`);
  return {
    serverUrl: parseServerUrl(server),
    dataDir: path.resolve(opts.dataDir ?? e.KRAKEN_DATA_DIR ?? DEFAULT_DATA_DIR),
    token: e.KRAKEN_AGENT_TOKEN,
    builtin: e.KRAKEN_AGENT_BUILTIN ?? false,
    slots,
    systemId: opts.systemId ?? e.KRAKEN_SYSTEM_ID,
    clickhouseAddr: opts.clickhouseAddr ?? e.KRAKEN_CLICKHOUSE_ADDR,
    stopTimeoutMs: stopTimeout * 1000,
    bindAddr: opts.bindAddr ?? e.KRAKEN_AGENT_BIND_ADDR,
  };
}
