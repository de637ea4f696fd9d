import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Fastify from 'fastify';
import type { AgentPage } from '@kraken/protocol';
import { agentBundlePath } from '../builtin-agent/builtin-agent';
import { registerErrorHandler } from '../http/errors';
import { ApiClient } from '../test-support/api-client';
import { startTestServer, type TestServer } from '../test-support/server';
import { waitFor } from '../test-support/wait';
import { registerInstallRoutes } from './install-routes';

const tmp = (name: string) => mkdtempSync(path.join(os.tmpdir(), `kraken-install-${name}-`));

/** Reads an env file the way systemd and `set -a; . file` do (KEY=value lines). */
function readEnvFile(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m) out[m[1]] = m[2].replace(/^"(.*)"$/, '$1');
  }
  return out;
}

async function fetchScript(server: TestServer, urlPath = '/install/kraken-agent-install.sh', headers: Record<string, string> = {}) {
  const res = await fetch(server.url + urlPath, { headers });
  return { res, text: await res.text() };
}

/** `sh -n`, and shellcheck (POSIX sh mode) where it is installed. */
function shSyntaxOk(script: string): { ok: boolean; out: string } {
  const file = path.join(tmp('syntax'), 'kraken-agent-install.sh');
  writeFileSync(file, script);
  const r = spawnSync('sh', ['-n', file], { encoding: 'utf8' });
  if (r.status !== 0) return { ok: false, out: r.stderr };
  const sc = spawnSync('shellcheck', ['-s', 'sh', file], { encoding: 'utf8' });
  if (sc.error) {
    if (!warnedShellcheck) console.warn('shellcheck is not installed: the install script was only checked with sh -n (apt-get install shellcheck)');
    warnedShellcheck = true;
    return { ok: true, out: '' };
  }
  return { ok: sc.status === 0, out: sc.stdout };
}
let warnedShellcheck = false;

describe('install routes', () => {
  let server: TestServer;
  let api: ApiClient;
  beforeAll(async () => {
    server = await startTestServer();
    api = await ApiClient.loggedIn(server.url);
  });
  afterAll(async () => {
    await server.stop();
  });

  it('serves the installer with the address it was requested at, without a session, and it is valid sh', async () => {
    for (const p of ['/install/kraken-agent-install.sh', '/bk/install/kraken-agent-install.sh']) {
      const { res, text } = await fetchScript(server, p);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/x-shellscript/);
      expect(text.startsWith('#!/bin/sh\n')).toBe(true);
      expect(text).toContain(`KRAKEN_URL='${server.url}'`);
      expect(text).toContain('the address this script was downloaded from');
      expect(text).toMatch(/^set -eu$/m);
      expect(text).toContain("CLICKHOUSE_ADDR=''");
      expect(shSyntaxOk(text)).toEqual({ ok: true, out: '' });
    }
  });

  it('honours a proxy\'s X-Forwarded-Proto/Host, and refuses a host it cannot put in a script', async () => {
    const { text } = await fetchScript(server, undefined, { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'kraken.example.com' });
    expect(text).toContain("KRAKEN_URL='https://kraken.example.com'");
    const bad = await fetchScript(server, undefined, { 'x-forwarded-host': 'x;reboot' });
    expect(bad.res.status).toBe(400);
    expect(JSON.parse(bad.text)).toMatchObject({ error: 'no-server-url', message: expect.stringContaining('Settings page') });
  });

  it('uses the server_url and clickhouse_addr settings when they are set', async () => {
    await api.ok('PUT', '/api/settings', { server_url: 'http://kraken.example.com:6363/', clickhouse_addr: '192.168.0.12:9001' });
    try {
      const { text } = await fetchScript(server);
      expect(text).toContain("KRAKEN_URL='http://kraken.example.com:6363'");
      expect(text).toContain('comes from the server_url setting');
      expect(text).toContain("CLICKHOUSE_ADDR='192.168.0.12:9001'");
      expect(shSyntaxOk(text).ok).toBe(true);
    } finally {
      await api.ok('PUT', '/api/settings', { server_url: '', clickhouse_addr: '' });
    }
  });

  it('serves the kkagent bundle, which runs with node', async () => {
    for (const p of ['/install/agent', '/bk/install/agent']) {
      const res = await fetch(server.url + p);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/javascript/);
      const body = Buffer.from(await res.arrayBuffer());
      expect(Number(res.headers.get('content-length'))).toBe(statSync(agentBundlePath()).size);
      expect(body.length).toBe(statSync(agentBundlePath()).size);
      const file = path.join(tmp('bundle'), 'kkagent');
      writeFileSync(file, body);
      const r = spawnSync(process.execPath, [file, '--version'], { encoding: 'utf8' });
      expect(r.status).toBe(0);
      expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    }
  });
});

describe('install routes without a built agent', () => {
  it('answers 404 with a message that says to build it', async () => {
    const app = Fastify();
    registerErrorHandler(app);
    const settings = {
      get: async () => ({ server_url: '', clickhouse_addr: '', minio_addr: '', clickhouse_log_ttl: 6, enrollment_token: 'x'.repeat(32) }),
      update: async () => {
        throw new Error('not used');
      },
    };
    await registerInstallRoutes(app, { settings, bundlePath: '/nonexistent/kkagent.js' });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const { port } = app.server.address() as { port: number };
      const res = await fetch(`http://127.0.0.1:${port}/install/agent`);
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ error: 'agent-not-built', message: expect.stringContaining('npm run build') });
    } finally {
      await app.close();
    }
  });
});

describe('the install script, run for real', () => {
  const TOKEN = 'compose-style-token-0123456789';
  let server: TestServer;
  let api: ApiClient;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    // The server's enrollment token fixed by env, as the compose quickstart does.
    server = await startTestServer({ env: { KRAKEN_ENROLLMENT_TOKEN: TOKEN } });
    api = await ApiClient.loggedIn(server.url);
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await server.stop();
  });

  const user = os.userInfo().username;

  /** Runs the script with sh (asynchronously: the server answering its downloads is in this process). */
  function runScript(script: string, root: string, env: Record<string, string>): Promise<{ status: number | null; stdout: string; stderr: string }> {
    const file = path.join(root, 'kraken-agent-install.sh');
    writeFileSync(file, script);
    const child = spawn('sh', [file], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        KRAKEN_INSTALL_PREFIX: path.join(root, 'opt', 'kraken'),
        KRAKEN_INSTALL_NO_SYSTEMD: '1',
        KRAKEN_INSTALL_UNIT_DIR: path.join(root, 'systemd'),
        // Tests install for the user running them: no user is created on this machine.
        KRAKEN_INSTALL_USER: user,
        ...env,
      },
    });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    return new Promise((resolve) => child.once('close', (status) => resolve({ status, stdout, stderr })));
  }

  function startInstalled(prefix: string): { child: ChildProcess; output: () => string } {
    const vars = readEnvFile(path.join(prefix, 'kraken.env'));
    const child = spawn(process.execPath, [path.join(prefix, 'kkagent'), 'run'], { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...vars }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    return { child, output: () => out };
  }

  const stop = (child: ChildProcess) =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });

  it('installs the agent files, the env file and the unit; the installed agent is enrolled; a re-run upgrades and keeps its identity', async () => {
    expect((await api.ok<{ enrollment_token: string }>('GET', '/api/settings')).enrollment_token).toBe(TOKEN);
    const { text: script } = await fetchScript(server);
    const root = tmp('e2e');
    const prefix = path.join(root, 'opt', 'kraken');

    const r = await runScript(script, root, { KRAKEN_AGENT_TOKEN: TOKEN });
    const out = `${r.stdout}\n${r.stderr}`;
    if (r.status !== 0) throw new Error(`install script failed (${r.status}):\n${out}`);
    expect(out).toContain('kraken-agent-install: Node.js v');
    expect(out).toMatch(/downloading .*\/install\/agent with (curl|wget)/);
    expect(out).toContain('an enrollment token is set');
    expect(out).toContain('the service was not started');
    expect(out).toContain('kraken-agent-install: done');

    // The binary.
    const binary = path.join(prefix, 'kkagent');
    expect(statSync(binary).mode & 0o777).toBe(0o755);
    expect(readFileSync(binary).equals(readFileSync(agentBundlePath()))).toBe(true);
    expect(spawnSync(process.execPath, [binary, '--version'], { encoding: 'utf8' }).status).toBe(0);
    expect(statSync(path.join(prefix, 'data')).isDirectory()).toBe(true);

    // The env file: 0600, the server URL, the data dir, the token.
    const envFile = path.join(prefix, 'kraken.env');
    expect(statSync(envFile).mode & 0o777).toBe(0o600);
    expect(readEnvFile(envFile)).toEqual({ KRAKEN_SERVER_ADDR: server.url, KRAKEN_DATA_DIR: path.join(prefix, 'data'), KRAKEN_AGENT_TOKEN: TOKEN });

    // The unit.
    const unitPath = path.join(root, 'systemd', 'kraken-agent.service');
    const unit = readFileSync(unitPath, 'utf8');
    expect(unit).toContain(`User=${user}\n`);
    expect(unit).toContain(`EnvironmentFile=${envFile}\n`);
    expect(unit).toContain(`ExecStart=${process.execPath} ${binary} run\n`);
    expect(unit).toMatch(/^Restart=on-failure$/m);
    expect(unit).toMatch(/^RestartSec=5$/m);
    expect(unit).toMatch(/^KillSignal=SIGTERM$/m);
    expect(unit).toMatch(/^TimeoutStopSec=\d+$/m);
    expect(unit).toMatch(/^WantedBy=multi-user.target$/m);
    const analyze = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => existsSync(p));
    if (analyze) {
      const v = spawnSync(analyze, ['verify', unitPath], { encoding: 'utf8' });
      expect({ status: v.status, stderr: v.stderr }).toEqual({ status: 0, stderr: '' });
    } else {
      console.warn('systemd-analyze is not installed: the unit file was not verified (apt-get install systemd)');
    }

    // The installed agent, started as the unit would: it is authorized at first contact.
    const first = startInstalled(prefix);
    const agents = await waitFor(
      'the installed agent connected and authorized',
      async () => {
        const page = await api.ok<AgentPage>('GET', '/api/agents?authorized=true&state=connected');
        return page.items.length === 1 && page.items;
      },
      30_000,
    );
    expect(agents[0].groups.map((g) => g.name)).toEqual(['all']);
    const identity = readFileSync(path.join(prefix, 'data', 'agent-identity.json'), 'utf8');
    await stop(first.child);

    // Again, without a token and with a log intake address: an upgrade that keeps what it is not given.
    const again = await runScript(script, root, { KRAKEN_CLICKHOUSE_ADDR: '127.0.0.1:9' });
    if (again.status !== 0) throw new Error(`second run failed (${again.status}):\n${again.stdout}\n${again.stderr}`);
    expect(readEnvFile(envFile)).toEqual({ KRAKEN_SERVER_ADDR: server.url, KRAKEN_DATA_DIR: path.join(prefix, 'data'), KRAKEN_AGENT_TOKEN: TOKEN, KRAKEN_CLICKHOUSE_ADDR: '127.0.0.1:9' });
    expect(readFileSync(path.join(prefix, 'data', 'agent-identity.json'), 'utf8')).toBe(identity);
    expect(again.stdout).toContain("kept the agent's identity");

    const second = startInstalled(prefix);
    await waitFor('the same agent reconnected', async () => {
      const page = await api.ok<AgentPage>('GET', '/api/agents?state=connected');
      return page.total === 1 && page.items[0].id === agents[0].id;
    });
    expect((await api.ok<AgentPage>('GET', '/api/agents')).total).toBe(1);
    await stop(second.child);
  });
});
