/**
 * The compose quickstart cannot be started on the build machines (no image can be pulled), so
 * this checks what can be checked without Docker: the YAML parses, every variable it uses is in
 * kraken.env, and the environment of each of our services is one its program reads and accepts
 * (the zod env schemas of the server, the agent and clickhouse-proxy), wired to the right services.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import type { z } from 'zod';
import { serverEnvSchema } from '../config';

// The other programs' env schemas, from their sources (required: they are outside this package's tsconfig).
type EnvSchema = z.ZodObject<z.ZodRawShape>;
const { agentEnvSchema, loadAgentConfig } = require('../../../agent/src/config') as {
  agentEnvSchema: EnvSchema;
  loadAgentConfig(opts: object, env: NodeJS.ProcessEnv): { serverUrl: URL; clickhouseAddr?: string; token?: string };
};
const { proxyEnvSchema } = require('../../../clickhouse-proxy/src/config') as { proxyEnvSchema: EnvSchema };

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const composeText = readFileSync(path.join(ROOT, 'docker-compose.yaml'), 'utf8');
const envText = readFileSync(path.join(ROOT, 'kraken.env'), 'utf8');

interface Service {
  build?: { context: string; dockerfile: string };
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  depends_on?: string[] | Record<string, unknown>;
  networks?: string[];
}
interface Compose {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
  networks: Record<string, unknown>;
}

const kenv: Record<string, string> = {};
for (const line of envText.split('\n')) {
  const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
  if (m) kenv[m[1]] = m[2];
}

/** Compose's `${VAR}` interpolation with kraken.env (`$$` is a literal `$`). */
const interpolate = (v: string) =>
  v.replace(/\$\$|\$\{([A-Z_][A-Z0-9_]*)\}/g, (all, name: string | undefined) => {
    if (!name) return '$';
    if (!(name in kenv)) throw new Error(`\${${name}} is not defined in kraken.env`);
    return kenv[name];
  });

const compose = parse(composeText) as Compose;
const env = (service: string): Record<string, string> =>
  Object.fromEntries(Object.entries(compose.services[service].environment ?? {}).map(([k, v]) => [k, interpolate(String(v))]));
const deps = (s: Service) => (Array.isArray(s.depends_on) ? s.depends_on : Object.keys(s.depends_on ?? {}));

describe('compose quickstart (docker-compose.yaml + kraken.env)', () => {
  it('has the services of the upstream quickstart, and every reference resolves', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['agent', 'clickhouse', 'clickhouse-proxy', 'minio', 'postgres', 'server']);
    for (const [name, s] of Object.entries(compose.services)) {
      for (const d of deps(s)) expect(`${name} depends on ${d}: ${d in compose.services}`).toBe(`${name} depends on ${d}: true`);
      for (const n of s.networks ?? []) expect(Object.keys(compose.networks)).toContain(n);
      for (const v of s.volumes ?? []) {
        const src = v.split(':')[0];
        if (!src.startsWith('/')) expect(Object.keys(compose.volumes)).toContain(src);
      }
      if (s.build) {
        expect(existsSync(path.join(ROOT, s.build.context, s.build.dockerfile))).toBe(true);
      }
    }
  });

  it('uses only variables kraken.env defines, and kraken.env defines none it does not use', () => {
    const used = new Set([...composeText.replace(/\$\$/g, '').matchAll(/\$\{([A-Z_][A-Z0-9_]*)\}/g)].map((m) => m[1]));
    expect([...used].filter((v) => !(v in kenv))).toEqual([]);
    expect(Object.keys(kenv).filter((v) => !used.has(v))).toEqual([]);
  });

  it('gives the server only variables it reads, with values it accepts', () => {
    const e = env('server');
    const known = new Set([...Object.keys(serverEnvSchema.shape)]);
    expect(Object.keys(e).filter((k) => !known.has(k))).toEqual([]);
    const parsed = serverEnvSchema.safeParse(e);
    expect(parsed.success ? 'ok' : parsed.error.message).toBe('ok');
    expect(e.KRAKEN_BUILTIN_AGENT).toBe('0');
    // The database is the postgres service, with its credentials.
    const db = new URL(e.KRAKEN_DB_URL);
    expect([db.hostname, db.username, db.password, db.pathname]).toEqual(['postgres', kenv.POSTGRES_USER, kenv.POSTGRES_PASSWORD, `/${kenv.POSTGRES_DB}`]);
    // Logs go to the clickhouse service, into its database, with its user.
    const ch = new URL(e.KRAKEN_CLICKHOUSE_URL);
    expect([ch.hostname, ch.port, ch.username, ch.password, ch.pathname]).toEqual(['clickhouse', '8123', kenv.CLICKHOUSE_USER, kenv.CLICKHOUSE_PASSWORD, `/${kenv.CLICKHOUSE_DB}`]);
    expect(e.KRAKEN_MINIO_ADDR).toBe(`minio:${kenv.KRAKEN_MINIO_PORT}`);
    expect(compose.services.server.ports).toContain(`${'${KRAKEN_SERVER_PORT}'}:${'${KRAKEN_SERVER_PORT}'}`);
    // The server's own Dockerfile runs the server.
    expect(readFileSync(path.join(ROOT, 'apps/server/Dockerfile'), 'utf8')).toMatch(/^CMD \["node", "apps\/server\/dist\/main.js"\]$/m);
    expect(existsSync(path.join(ROOT, 'apps/server/src/main.ts'))).toBe(true);
  });

  it('gives clickhouse-proxy only variables it reads, and the same ClickHouse as the server', () => {
    const e = env('clickhouse-proxy');
    const known = new Set(Object.keys(proxyEnvSchema.shape));
    expect(Object.keys(e).filter((k) => !known.has(k))).toEqual([]);
    expect(proxyEnvSchema.safeParse(e).success).toBe(true);
    expect(e.KRAKEN_CLICKHOUSE_URL).toBe(env('server').KRAKEN_CLICKHOUSE_URL);
    expect(compose.services['clickhouse-proxy'].command).toEqual(['node', 'apps/clickhouse-proxy/dist/clickhouse-proxy.js']);
    expect(existsSync(path.join(ROOT, 'apps/clickhouse-proxy/src/main.ts'))).toBe(true);
  });

  it('gives the agent only variables it reads: the server, the intake and the enrollment token the server has', () => {
    const e = env('agent');
    const known = new Set(Object.keys(agentEnvSchema.shape));
    expect(Object.keys(e).filter((k) => !known.has(k))).toEqual([]);
    expect(agentEnvSchema.safeParse(e).success).toBe(true);
    const config = loadAgentConfig({}, { ...e, KRAKEN_DATA_DIR: '/data' });
    // It reaches the server service on its port, on a network they share.
    expect(config.serverUrl.hostname).toBe('server');
    expect(config.serverUrl.port).toBe(env('server').KRAKEN_SERVER_PORT);
    const shared = (compose.services.agent.networks ?? []).filter((n) => (compose.services.server.networks ?? []).includes(n));
    expect(shared.length).toBeGreaterThan(0);
    // It sends logs to clickhouse-proxy on its port, on a network they share.
    expect(config.clickhouseAddr).toBe(`clickhouse-proxy:${env('clickhouse-proxy').KRAKEN_CLICKHOUSE_PORT}`);
    expect((compose.services.agent.networks ?? []).some((n) => (compose.services['clickhouse-proxy'].networks ?? []).includes(n))).toBe(true);
    // It is authorized at start: it presents the token the server is given.
    expect(config.token).toBe(env('server').KRAKEN_ENROLLMENT_TOKEN);
    expect(config.token!.length).toBeGreaterThanOrEqual(16);
    // Its identity survives restarts: the data dir is a volume.
    expect(compose.services.agent.volumes).toContain('agent-data:/data');
    const dockerfile = readFileSync(path.join(ROOT, 'apps/agent/Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^FROM node:20-slim$/m);
    expect(dockerfile).toMatch(/apt-get install .*\bgit\b/);
    expect(dockerfile).toMatch(/^ENV KRAKEN_DATA_DIR=\/data$/m);
    expect(dockerfile).toMatch(/^CMD \["kkagent", "run"\]$/m);
  });

  it('passes `docker-compose config` where docker-compose is installed', () => {
    const probe = spawnSync('docker-compose', ['version'], { encoding: 'utf8' });
    if (probe.status !== 0) {
      console.warn('docker-compose is not installed: compose file not validated by compose itself (apt-get install docker-compose)');
      return;
    }
    const r = spawnSync('docker-compose', ['--env-file', 'kraken.env', '-f', 'docker-compose.yaml', 'config', '-q'], { cwd: ROOT, encoding: 'utf8' });
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
  });
});
