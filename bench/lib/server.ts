import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { onCleanup, sleep, waitUntil } from './cleanup';

export const ROOT = path.resolve(__dirname, '..', '..');
export const SERVER_MAIN = path.join(ROOT, 'apps/server/dist/main.js');
export const AGENT_BUNDLE = path.join(ROOT, 'apps/agent/dist/kkagent.js');
export const DEFAULT_DATABASE_URL = 'postgresql://postgres@127.0.0.1:5432/postgres';

/** A fresh database `kraken_bench_<random>` on DATABASE_URL's server; dropped at cleanup. */
export async function createBenchDatabase(adminUrl = process.env.DATABASE_URL || DEFAULT_DATABASE_URL): Promise<{ name: string; url: string; drop(): Promise<void> }> {
  const name = `kraken_bench_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const run = async (sql: string) => {
    const c = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 10_000 });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await run(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  let dropped = false;
  const drop = async () => {
    if (dropped) return;
    dropped = true;
    await run(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  };
  onCleanup(`drop database ${name}`, drop);
  return { name, url: url.toString(), drop };
}

/** A TCP port free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Command-line options every benchmark that starts a server offers (spread into its option spec). */
export const SERVER_OPTIONS = {
  'log-level': { default: '', help: 'KRAKEN_LOG_LEVEL for the server (empty = its default, info)' },
  'cpu-prof': { default: '', help: 'write a V8 CPU profile of the server into this directory (node --cpu-prof)' },
  'node-args': { default: '', help: "extra node options for the server, space-separated (e.g. '--trace-gc')" },
  echo: { default: false, help: 'print the server output as it comes' },
  'server-log': { default: '', help: 'write the server output to this file' },
};

/** startBenchServer options from the parsed SERVER_OPTIONS. */
export function serverOptionsFrom(opts: { 'log-level': string; 'cpu-prof': string; 'node-args': string; echo: boolean; 'server-log': string }): BenchServerOptions {
  return {
    env: opts['log-level'] ? { KRAKEN_LOG_LEVEL: opts['log-level'] } : {},
    nodeArgs: [...(opts['cpu-prof'] ? ['--cpu-prof', `--cpu-prof-dir=${opts['cpu-prof']}`] : []), ...opts['node-args'].split(' ').filter(Boolean)],
    echo: opts.echo,
    logFile: opts['server-log'] || undefined,
  };
}

export interface BenchServerOptions {
  /** Extra environment for the server (KRAKEN_*), on top of the bench defaults. */
  env?: NodeJS.ProcessEnv;
  /** Extra node options, e.g. ['--cpu-prof', '--cpu-prof-dir=/tmp/prof']. */
  nodeArgs?: string[];
  startTimeoutMs?: number;
  /** Print the server's output as it comes (otherwise only kept, and printed on failure). */
  echo?: boolean;
  /** Also write the server's whole output to this file. */
  logFile?: string;
}

export interface BenchServer {
  child: ChildProcess;
  pid: number;
  url: string;
  port: number;
  databaseUrl: string;
  databaseName: string;
  dataDir: string;
  adminPassword: string;
  /** Output lines of the server (the last 2,000) and the total count. */
  lines: string[];
  lineCount: number;
  /**
   * Calls the REST API with HTTP Basic admin auth (or the session of `login()`); throws on a
   * status other than `expect`.
   */
  api<T = any>(method: string, apiPath: string, body?: unknown, expect?: number): Promise<T>;
  /**
   * Logs in as admin (POST /api/auth/login): later `api()` calls use the session cookie instead of
   * HTTP Basic, whose password check (scrypt) costs the server CPU on every request.
   */
  login(): Promise<void>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with how it exited. */
  stop(graceMs?: number): Promise<string>;
}

/**
 * Starts the real server (node apps/server/dist/main.js) as a child process on a fresh database,
 * a free port on 127.0.0.1 and a temp data dir, with the built-in agent off. Everything is undone
 * at cleanup (server stopped, database dropped, data dir removed).
 */
export async function startBenchServer(opts: BenchServerOptions = {}): Promise<BenchServer> {
  if (!existsSync(SERVER_MAIN)) throw new Error(`${SERVER_MAIN} is missing: run npx turbo run build`);
  const db = await createBenchDatabase();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'kraken-bench-'));
  onCleanup(`remove ${dataDir}`, () => rmSync(dataDir, { recursive: true, force: true }));
  const port = await freePort();
  const adminPassword = randomBytes(12).toString('base64url');
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), SERVER_MAIN], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      KRAKEN_DB_URL: db.url,
      KRAKEN_BUILTIN_AGENT: '0',
      KRAKEN_ADMIN_PASSWORD: adminPassword,
      KRAKEN_SERVER_HOST: '127.0.0.1',
      KRAKEN_SERVER_PORT: String(port),
      KRAKEN_DATA_DIR: dataDir,
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(signal ? `signal ${signal}` : `code ${code}`)));
  let exitedWith: string | undefined;
  void exited.then((how) => (exitedWith = how));
  let cookie: string | undefined;

  const server: BenchServer = {
    child,
    pid: child.pid!,
    url: `http://127.0.0.1:${port}`,
    port,
    databaseUrl: db.url,
    databaseName: db.name,
    dataDir,
    adminPassword,
    lines: [],
    lineCount: 0,
    async api(method, apiPath, body, expect = 200) {
      const res = await fetch(server.url + apiPath, {
        method,
        headers: {
          ...(cookie ? { cookie } : { authorization: `Basic ${Buffer.from(`admin:${adminPassword}`).toString('base64')}` }),
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(30_000),
      });
      const text = await res.text();
      if (res.status !== expect) {
        // A 5xx says "see the server log": bring its last error along.
        const logged = res.status >= 500 ? server.lines.filter((l) => /"level":50|"err"/.test(l)).slice(-1)[0] : undefined;
        throw new Error(`${method} ${apiPath} → ${res.status} ${text.slice(0, 500)}${logged ? `\nserver log: ${logged.slice(0, 1500)}` : ''}`);
      }
      return text ? JSON.parse(text) : undefined;
    },
    async login() {
      const res = await fetch(`${server.url}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password: adminPassword }),
        signal: AbortSignal.timeout(30_000),
      });
      if (res.status !== 200) throw new Error(`POST /api/auth/login → ${res.status} ${(await res.text()).slice(0, 300)}`);
      const set = res.headers.getSetCookie().map((c) => c.split(';')[0]);
      if (!set.length) throw new Error('POST /api/auth/login set no cookie');
      cookie = set.join('; ');
    },
    async stop(graceMs = 10_000) {
      if (exitedWith) return exitedWith;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const how = await exited;
      clearTimeout(t);
      return how;
    },
  };
  let partial = '';
  const logStream = opts.logFile ? createWriteStream(opts.logFile) : undefined;
  if (logStream) child.once('exit', () => logStream.end());
  const collect = (chunk: Buffer) => {
    logStream?.write(chunk);
    const parts = (partial + chunk.toString()).split('\n');
    partial = parts.pop()!;
    for (const l of parts) {
      if (!l) continue;
      server.lineCount++;
      server.lines.push(l);
      if (server.lines.length > 2000) server.lines.shift();
      if (opts.echo) process.stderr.write(`[server] ${l}\n`);
    }
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  // Registered after the database, so it runs before the drop.
  onCleanup('stop the server', async () => {
    const t0 = performance.now();
    const seen = server.lineCount;
    const how = await server.stop();
    const ms = Math.round(performance.now() - t0);
    if (how !== 'code 0' && how !== 'signal SIGTERM') {
      process.stderr.write(`server did not stop cleanly on SIGTERM: ${how} after ${ms} ms; its last lines:\n`);
      const last = server.lines.slice(-Math.min(10, server.lineCount - seen + 3));
      process.stderr.write(last.map((l) => (l.length > 400 ? `${l.slice(0, 400)} …` : l)).join('\n') + '\n');
    } else if (ms > 2000) process.stderr.write(`server took ${ms} ms to stop\n`);
  }, 20_000);

  try {
    await Promise.race([
      waitUntil(
        'the server to answer /api/health',
        async () => {
          if (exitedWith) return true;
          const res = await fetch(`${server.url}/api/health`, { signal: AbortSignal.timeout(2000) });
          return res.ok;
        },
        opts.startTimeoutMs ?? 60_000,
        200,
      ),
      exited,
    ]);
    if (exitedWith) throw new Error(`the server exited at start with ${exitedWith}`);
  } catch (err) {
    await sleep(100);
    process.stderr.write(`server output (last lines):\n${server.lines.slice(-40).join('\n')}\n`);
    throw err;
  }
  return server;
}

/** Sets a fresh enrollment token on the server, so agents presenting it are authorized at first contact. */
export async function setEnrollmentToken(server: BenchServer): Promise<string> {
  const token = randomBytes(24).toString('base64url');
  await server.api('PUT', '/api/settings', { enrollment_token: token });
  return token;
}
