import pg from 'pg';
import type { AgentPage, RunView } from '@kraken/protocol';
import { ApiClient } from '../test-support/api-client';
import { startTestServer, type TestServer } from '../test-support/server';

/** A page and its total come from one snapshot: they agree even while rows are being added. */
describe('lists while rows arrive', () => {
  let server: TestServer;
  let api: ApiClient;
  let db: pg.Client;
  beforeAll(async () => {
    server = await startTestServer();
    api = await ApiClient.loggedIn(server.url);
    db = new pg.Client({ connectionString: server.databaseUrl });
    await db.connect();
  });
  afterAll(async () => {
    await db.end();
    await server.stop();
  });

  it('agents: the total counts exactly the agents of the page', async () => {
    let inserting = true;
    let n = 0;
    const writer = (async () => {
      while (inserting && n < 450) {
        n++;
        await db.query(
          `INSERT INTO agents (name, address, identity_hash, authorized, host_info, updated_at) VALUES ($1, '10.1.0.1', md5($1), false, '{}', now())`,
          [`arriving-${n}`],
        );
      }
    })();
    try {
      for (let i = 0; i < 150; i++) {
        const page = await api.ok<AgentPage>('GET', '/api/agents?limit=500');
        expect(page.items.length).toBe(page.total);
      }
    } finally {
      inserting = false;
      await writer;
    }
    expect(n).toBeGreaterThan(10); // the rows did arrive during the reads
  }, 60_000);

  it('runs: the total counts exactly the runs of the page', async () => {
    let inserting = true;
    let n = 0;
    const writer = (async () => {
      while (inserting && n++ < 180) await db.query(`INSERT INTO runs (name) VALUES ('arriving')`);
    })();
    try {
      for (let i = 0; i < 150; i++) {
        const page = await api.ok<{ items: RunView[]; total: number }>('GET', '/api/runs?limit=200');
        expect(page.items.length).toBe(page.total);
      }
    } finally {
      inserting = false;
      await writer;
    }
  }, 60_000);
});
