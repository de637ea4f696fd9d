import type { Agent, AgentPage } from '@kraken/protocol';
import { AgentProcess } from '../test-support/agent-process';
import { ApiClient } from '../test-support/api-client';
import { createTestDatabase } from '../test-support/database';
import { startTestServer } from '../test-support/server';
import { freePort } from '../test-support/server-process';
import { waitFor } from '../test-support/wait';

describe('server restart', () => {
  it('agents reconnect by themselves and keep their authorization and groups', async () => {
    const db = await createTestDatabase();
    const port = await freePort();
    let server = await startTestServer({ databaseUrl: db.url, port });
    const agents = [new AgentProcess(server.url), new AgentProcess(server.url)];
    try {
      let api = await ApiClient.loggedIn(server.url);
      const found = await waitFor('two agents', async () => {
        const page = await api.ok<AgentPage>('GET', '/api/agents');
        // (the count and the page are two queries: one may see an agent that arrived in between)
        return page.items.length === 2 && page.items;
      });
      await api.ok('PATCH', '/api/agents', found.map((a) => ({ id: a.id, authorized: true })));

      await server.stop({ dropDatabase: false });
      // While the server is down the agents keep retrying and never exit.
      await new Promise((r) => setTimeout(r, 1500));
      for (const a of agents) expect(a.child.exitCode).toBeNull();
      expect(agents[0].output()).toContain('connection to server lost');

      server = await startTestServer({ databaseUrl: db.url, port });
      api = await ApiClient.loggedIn(server.url);
      const back = await waitFor('both agents connected again', async () => {
        const page = await api.ok<AgentPage>('GET', '/api/agents?state=connected');
        return page.items.length === 2 && page.items;
      }, 40_000);
      expect(back.map((a: Agent) => a.id).sort()).toEqual(found.map((a) => a.id).sort());
      for (const a of back) expect(a).toMatchObject({ authorized: true, groups: [{ name: 'all' }] });
    } finally {
      await Promise.all(agents.map((a) => a.kill('SIGKILL')));
      await server.stop({ dropDatabase: false });
      await db.drop();
    }
  });
});
