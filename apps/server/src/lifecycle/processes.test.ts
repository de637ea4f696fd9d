import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AgentPage } from '@kraken/protocol';
import { AgentProcess } from '../test-support/agent-process';
import { agentBundlePath } from '../builtin-agent/builtin-agent';
import { ApiClient } from '../test-support/api-client';
import { TEST_ADMIN_PASSWORD } from '../test-support/server';
import { freePort, ServerProcess } from '../test-support/server-process';
import { waitFor } from '../test-support/wait';

describe('the server and agent programs', () => {
  it('the server refuses a bad environment variable, naming it', async () => {
    const p = new ServerProcess({ KRAKEN_SERVER_PORT: 'sixty', KRAKEN_DB_URL: 'mysql://x' });
    expect(await p.exited()).toBe(2);
    expect(p.output()).toMatch(/KRAKEN_SERVER_PORT/);
    expect(p.output()).toMatch(/KRAKEN_DB_URL: must be a PostgreSQL URL/);
  });

  it('the agent exits non-zero with a clear message on a bad server URL or an unwritable data dir', async () => {
    const badUrl = new AgentProcess('ftp://kraken:6363');
    expect(await badUrl.exited()).toBe(2);
    expect(badUrl.output()).toContain("bad server URL 'ftp://kraken:6363'");

    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'kk-')), 'a-file');
    writeFileSync(file, '');
    const badDir = new AgentProcess('http://127.0.0.1:1', { dataDir: path.join(file, 'data') });
    expect(await badDir.exited()).toBe(2);
    expect(badDir.output()).toMatch(/data dir .* is not writable/);

    const noServer = new AgentProcess('http://127.0.0.1:1', {});
    await waitFor('agent retrying', () => noServer.output().includes('server not reachable; retrying'));
    expect(noServer.child.exitCode).toBeNull(); // a network error is never fatal
    await noServer.kill();
  });

  it('the agent accepts the upstream argument order: kkagent -s URL -d DIR run', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'kk-order-'));
    const child = spawn(process.execPath, [agentBundlePath(), '-s', 'http://127.0.0.1:1', '-d', dataDir, 'run'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    await waitFor('agent started with the given server and data dir', () => out.includes('server not reachable; retrying'));
    expect(out).toContain(`"dataDir":"${dataDir}"`);
    expect(out).toContain('"server":"http://127.0.0.1:1/"');
    child.kill('SIGKILL');
  });

  it('npm start: embedded PostgreSQL and a trusted built-in agent; survives being killed with SIGKILL', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'kraken-data-'));
    const port = await freePort();
    const env = { KRAKEN_DATA_DIR: dataDir, KRAKEN_SERVER_PORT: String(port), KRAKEN_SERVER_HOST: '127.0.0.1', KRAKEN_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD };
    const url = `http://127.0.0.1:${port}`;
    let server = new ServerProcess(env);
    try {
      await waitFor('server healthy', async () => (await fetch(`${url}/api/health`)).ok, 60_000, 200);
      const api = await ApiClient.loggedIn(url);
      const builtin = await waitFor('built-in agent authorized', async () => {
        const page = await api.ok<AgentPage>('GET', '/api/agents?authorized=true&state=connected');
        return page.items[0];
      }, 30_000);
      expect(builtin.groups.map((g) => g.name)).toEqual(['all']);
      expect(server.output()).toContain(`open http://localhost:${port}`);

      await server.kill('SIGKILL'); // leaves its PostgreSQL and agent behind, as a crash would
      server = new ServerProcess(env);
      await waitFor('server healthy after a SIGKILL', async () => (await fetch(`${url}/api/health`)).ok, 60_000, 200);
      expect(server.output()).toMatch(/still running on the data dir; stopping it|stale postmaster.pid/);
      const api2 = await ApiClient.loggedIn(url);
      const again = await waitFor('built-in agent connected again, same record', async () => {
        const page = await api2.ok<AgentPage>('GET', '/api/agents?state=connected');
        return page.total >= 1 && page.items;
      }, 40_000);
      expect(again.map((a) => a.id)).toContain(builtin.id);
      expect((await api2.ok<AgentPage>('GET', '/api/agents')).total).toBe(1);
    } finally {
      await server.kill('SIGTERM');
    }
  }, 120_000);

  it('npm start and Ctrl-C: the server stops, and its built-in agent stops gracefully (one signal)', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'kraken-data-'));
    const port = await freePort();
    const env = { KRAKEN_DATA_DIR: dataDir, KRAKEN_SERVER_PORT: String(port), KRAKEN_SERVER_HOST: '127.0.0.1', KRAKEN_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD };
    const url = `http://127.0.0.1:${port}`;
    const server = new ServerProcess(env, { ownGroup: true });
    try {
      await waitFor('server healthy', async () => (await fetch(`${url}/api/health`)).ok, 60_000, 200);
      const api = await ApiClient.loggedIn(url);
      await waitFor('built-in agent connected', async () => (await api.ok<AgentPage>('GET', '/api/agents?state=connected')).total === 1, 30_000);
      // The terminal sends SIGINT to the whole foreground group: server, PostgreSQL, agent alike.
      server.interruptGroup();
      expect(await server.exited()).toBe(0);
      const out = server.output();
      expect(out).toMatch(/"signal":"SIGINT","msg":"shutting down"/);
      expect(out).toMatch(/"service":"agent","signal":"SIGTERM","msg":"stopping"/);
      expect(out).not.toContain('second stop signal');
    } finally {
      await server.kill('SIGKILL');
    }
  }, 120_000);
});
