import type { Agent, Group } from '@kraken/protocol';
import { ApiClient } from '../test-support/api-client';
import { startTestServer, TEST_ADMIN_PASSWORD, type TestServer } from '../test-support/server';
import { waitFor } from '../test-support/wait';
import { AgentProcess } from '../test-support/agent-process';

describe('REST API: authentication and bad input', () => {
  let server: TestServer;
  let api: ApiClient;
  beforeAll(async () => {
    server = await startTestServer();
    api = await ApiClient.loggedIn(server.url);
  });
  afterAll(() => server.stop());

  it('refuses every protected route without a session, and accepts HTTP Basic', async () => {
    const anon = new ApiClient(server.url);
    expect((await anon.request('GET', '/api/health')).status).toBe(200);
    for (const [method, path] of [
      ['GET', '/api/agents'],
      ['PATCH', '/api/agents'],
      ['GET', '/api/agents/1'],
      ['PUT', '/api/agents/1'],
      ['DELETE', '/api/agents/1'],
      ['GET', '/api/groups'],
      ['POST', '/api/groups'],
      ['GET', '/api/settings'],
      ['PUT', '/api/settings'],
      ['GET', '/api/auth/me'],
    ]) {
      const res = await anon.request(method, path, method === 'GET' || method === 'DELETE' ? undefined : {});
      expect({ method, path, status: res.status, error: res.body?.error }).toEqual({ method, path, status: 401, error: 'unauthenticated' });
    }
    const basic = { authorization: `Basic ${Buffer.from(`admin:${TEST_ADMIN_PASSWORD}`).toString('base64')}` };
    expect((await anon.request('GET', '/api/agents', undefined, { headers: basic })).status).toBe(200);
    const wrongBasic = { authorization: `Basic ${Buffer.from('admin:nope').toString('base64')}` };
    expect((await anon.request('GET', '/api/agents', undefined, { headers: wrongBasic })).status).toBe(401);
  });

  it('logs in and out', async () => {
    const c = new ApiClient(server.url);
    expect((await c.request('POST', '/api/auth/login', { username: 'admin', password: 'wrong' })).status).toBe(401);
    expect((await c.request('POST', '/api/auth/login', { username: 'admin', password: TEST_ADMIN_PASSWORD })).status).toBe(200);
    expect(await c.ok('GET', '/api/auth/me')).toEqual({ username: 'admin' });
    await c.ok('POST', '/api/auth/logout');
    expect((await c.request('GET', '/api/auth/me')).status).toBe(401);
  });

  it('rejects bad bodies with errors naming the field, and changes nothing', async () => {
    const agent = new AgentProcess(server.url);
    try {
      const a = await waitFor('agent', async () => (await api.ok('GET', '/api/agents')).items[0] as Agent);
      const groupsBefore = await api.ok<{ items: Group[] }>('GET', '/api/groups');

      let res = await api.request('PATCH', '/api/agents', [{ id: 'x', authorized: true }]);
      expect(res.status).toBe(400);
      expect(res.body.issues[0].path).toBe('[0].id');

      // One unknown id among good ones: nothing is authorized.
      res = await api.request('PATCH', '/api/agents', [{ id: a.id, authorized: true }, { id: 99999, authorized: true }]);
      expect(res.status).toBe(404);
      expect(res.body.message).toContain('99999');
      expect((await api.ok<Agent>('GET', `/api/agents/${a.id}`)).authorized).toBe(false);

      res = await api.request('PUT', `/api/agents/${a.id}`, { groups: [groupsBefore.items[0].id, 4242] });
      expect(res.status).toBe(400);
      expect(res.body.issues).toEqual([{ path: 'groups', message: expect.stringContaining('4242') }]);
      expect((await api.ok<Agent>('GET', `/api/agents/${a.id}`)).groups).toEqual([]);

      res = await api.request('PUT', `/api/agents/${a.id}`, { name: '', colour: 'red' });
      expect(res.status).toBe(400);
      expect(res.body.message).toMatch(/colour/);

      res = await api.request('PUT', `/api/agents/${a.id}`, {});
      expect(res.status).toBe(400);
      expect(res.body.message).toContain('nothing to change');

      res = await api.request('POST', '/api/groups', {});
      expect(res).toMatchObject({ status: 400, body: { error: 'bad-request', issues: [{ path: 'name', message: 'required' }] } });
      res = await api.request('POST', '/api/groups', undefined, { rawBody: '{"name": ' });
      expect(res).toMatchObject({ status: 400, body: { error: 'bad-json' } });
      res = await api.request('POST', '/api/groups', { name: 'all' });
      expect(res.status).toBe(409);
      const all = groupsBefore.items.find((g) => g.name === 'all')!;
      expect((await api.request('DELETE', `/api/groups/${all.id}`)).status).toBe(400);
      expect((await api.request('PUT', `/api/groups/${all.id}`, { name: 'everything' })).status).toBe(400);
      expect((await api.request('GET', '/api/groups/abc')).body.issues[0].path).toBe('id');

      res = await api.request('PUT', '/api/settings', { clickhouse_log_ttl: 0, server_url: 'not a url' });
      expect(res.status).toBe(400);
      expect(res.body.issues.map((i: { path: string }) => i.path).sort()).toEqual(['clickhouse_log_ttl', 'server_url']);
      const settings = await api.ok('GET', '/api/settings');
      expect(settings.clickhouse_log_ttl).toBe(6);
      expect(await api.ok('PUT', '/api/settings', { server_url: 'http://kraken.example.com:6363' })).toMatchObject({ server_url: 'http://kraken.example.com:6363' });

      expect(await api.ok<{ items: Group[] }>('GET', '/api/groups')).toEqual(groupsBefore);
    } finally {
      await agent.kill('SIGKILL');
    }
  });
});
