import os from 'node:os';
import type { Agent, AgentPage, Group } from '@kraken/protocol';
import { AgentProcess } from '../test-support/agent-process';
import { ApiClient } from '../test-support/api-client';
import { startTestServer, type TestServer } from '../test-support/server';
import { waitFor } from '../test-support/wait';

describe('agents: discovery, authorization, groups, identity', () => {
  let server: TestServer;
  let api: ApiClient;
  const agents: AgentProcess[] = [];
  const startAgent = (opts: ConstructorParameters<typeof AgentProcess>[1] = {}) => {
    const a = new AgentProcess(server.url, opts);
    agents.push(a);
    return a;
  };

  beforeEach(async () => {
    server = await startTestServer();
    api = await ApiClient.loggedIn(server.url);
  });
  afterEach(async () => {
    await Promise.all(agents.splice(0).map((a) => a.kill('SIGKILL')));
    await server.stop();
  });

  const list = (query: string) => api.ok<AgentPage>('GET', `/api/agents?${query}`);

  it('discovers an unknown agent, and after authorization and grouping it keeps its identity across addresses', async () => {
    const agent = startAgent();
    const discovered = await waitFor('agent on the discovered list', async () => (await list('authorized=false')).items[0]);
    expect(discovered).toMatchObject({ address: '127.0.0.1', name: os.hostname(), authorized: false, state: 'connected', groups: [] });
    expect(discovered.hostInfo).toMatchObject({ systemType: 'linux', isolation: expect.any(String), cpus: os.cpus().length });
    expect(discovered.hostInfo!.system).toMatch(/^[a-z]+-[\d.]+$/);
    expect((await list('authorized=true')).total).toBe(0);
    await waitFor('agent says it waits for authorization', () => agent.output().includes('waiting for an administrator'));

    const patched = await api.ok<{ items: Agent[] }>('PATCH', '/api/agents', [{ id: discovered.id, authorized: true }]);
    expect(patched.items[0]).toMatchObject({ id: discovered.id, authorized: true, groups: [{ name: 'all' }] });
    await waitFor('agent told it is authorized', () => agent.output().includes('authorized by the server'));
    expect((await list('authorized=false')).total).toBe(0);

    const linux = await api.ok<Group>('POST', '/api/groups', { name: 'linux' }, 201);
    const all = (await api.ok<{ items: Group[] }>('GET', '/api/groups')).items.find((g) => g.name === 'all')!;
    const updated = await api.ok<Agent>('PUT', `/api/agents/${discovered.id}`, { groups: [all.id, linux.id] });
    expect(updated.groups.map((g) => g.name)).toEqual(['all', 'linux']);
    expect((await api.ok<Group>('GET', `/api/groups/${linux.id}`)).agentsCount).toBe(1);
    expect((await list(`group=${linux.id}`)).items.map((a) => a.id)).toEqual([discovered.id]);

    // The same agent (same data dir, so same secret) comes back from another address.
    await agent.kill('SIGKILL');
    await waitFor('agent offline', async () => (await api.ok<Agent>('GET', `/api/agents/${discovered.id}`)).state === 'offline');
    startAgent({ dataDir: agent.dataDir, env: { KRAKEN_AGENT_BIND_ADDR: '127.0.0.2' } });
    const back = await waitFor('agent reconnected from 127.0.0.2', async () => {
      const a = await api.ok<Agent>('GET', `/api/agents/${discovered.id}`);
      return a.address === '127.0.0.2' && a.state === 'connected' && a;
    });
    expect(back).toMatchObject({ authorized: true, groups: [{ name: 'all' }, { name: 'linux' }] });
    expect((await list('')).total).toBe(1);

    // A different agent (new secret) from that known address is a new, discovered agent.
    startAgent({ env: { KRAKEN_AGENT_BIND_ADDR: '127.0.0.2' } });
    const newcomer = await waitFor('second agent discovered', async () => (await list('authorized=false')).items[0]);
    expect(newcomer.id).not.toBe(discovered.id);
    expect(newcomer.address).toBe('127.0.0.2');
    expect(await api.ok('GET', '/api/agents/counts')).toEqual({ authorized: 1, discovered: 1, connected: 2 });
  });

  it('authorizes an agent with the enrollment token at first contact, and not one with a wrong token', async () => {
    const { enrollment_token } = await api.ok<{ enrollment_token: string }>('GET', '/api/settings');
    expect(enrollment_token.length).toBeGreaterThanOrEqual(16);
    startAgent({ env: { KRAKEN_AGENT_TOKEN: enrollment_token } });
    startAgent({ env: { KRAKEN_AGENT_TOKEN: 'not-the-token-at-all' } });
    await waitFor('both agents connected', async () => (await list('state=connected')).total === 2);
    const trusted = (await list('authorized=true')).items;
    expect(trusted).toHaveLength(1);
    expect(trusted[0].groups.map((g) => g.name)).toEqual(['all']);
    expect((await list('authorized=false')).total).toBe(1);
  });

  it('shows an agent whose connection silently died as offline, with its last-seen time', async () => {
    const agent = startAgent();
    const a = await waitFor('agent connected', async () => (await list('state=connected')).items[0]);
    process.kill(agent.pid, 'SIGSTOP'); // the socket stays open but nothing answers pings
    try {
      const offline = await waitFor('agent offline', async () => {
        const v = await api.ok<Agent>('GET', `/api/agents/${a.id}`);
        return v.state === 'offline' && v;
      }, 30_000);
      expect(Date.parse(offline.lastSeen!)).toBeGreaterThan(Date.now() - 30_000);
    } finally {
      process.kill(agent.pid, 'SIGCONT');
    }
    await waitFor('agent reconnects after it wakes up', async () => (await api.ok<Agent>('GET', `/api/agents/${a.id}`)).state === 'connected');
  });

  it('renames, disables and soft-deletes an agent; a deleted agent that returns is discovered again', async () => {
    const agent = startAgent();
    const a = await waitFor('agent discovered', async () => (await list('authorized=false')).items[0]);
    await api.ok('PATCH', '/api/agents', [{ id: a.id, authorized: true }]);
    expect(await api.ok<Agent>('PUT', `/api/agents/${a.id}`, { name: 'builder-1', disabled: true })).toMatchObject({ name: 'builder-1', disabled: true });
    await waitFor('agent told it is disabled', () => agent.output().includes('disabled: taking no new jobs'));

    expect((await api.request('DELETE', `/api/agents/${a.id}`)).status).toBe(204);
    expect((await list('')).total).toBe(0);
    expect(await api.ok<Agent>('GET', `/api/agents/${a.id}`)).toMatchObject({ deleted: true, authorized: false, name: 'builder-1' });
    expect((await api.request('PUT', `/api/agents/${a.id}`, { name: 'x' })).status).toBe(404);

    await agent.kill('SIGKILL');
    startAgent({ dataDir: agent.dataDir });
    const again = await waitFor('deleted agent discovered again', async () => (await list('authorized=false')).items[0]);
    expect(again).toMatchObject({ id: a.id, deleted: false, authorized: false, disabled: false, groups: [] });
  });

  it('pages, sorts and filters the agents list', async () => {
    for (let i = 0; i < 3; i++) startAgent();
    await waitFor('3 agents', async () => (await list('')).total === 3);
    const ids = (await list('sort=id&order=asc')).items.map((a) => a.id);
    expect((await list('sort=id&order=desc')).items.map((a) => a.id)).toEqual([...ids].reverse());
    const page2 = await list('sort=id&order=asc&offset=1&limit=1');
    expect(page2).toMatchObject({ total: 3, items: [{ id: ids[1] }] });
    await api.ok('PUT', `/api/agents/${ids[2]}`, { name: 'special-box' });
    expect((await list('q=SPECIAL')).items.map((a) => a.id)).toEqual([ids[2]]);
    const bad = await api.request('GET', '/api/agents?sort=color&limit=0');
    expect(bad.status).toBe(400);
    expect(bad.body.issues.map((i: { path: string }) => i.path).sort()).toEqual(['limit', 'sort']);
  });
});
