import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { RunView } from '@kraken/protocol';
import type { AgentProcess } from '../test-support/agent-process';
import { startAuthorizedAgents } from '../test-support/agents';
import { ApiClient } from '../test-support/api-client';
import { createTestDatabase } from '../test-support/database';
import { completeJobsAtOnce, connectAuthorized, type RawClient } from '../test-support/raw-agent';
import { startTestServer, type TestServer } from '../test-support/server';
import { waitFor } from '../test-support/wait';

describe('two servers on one database', () => {
  it('runs each of 200 jobs exactly once with 4 agents spread over both servers', async () => {
    const db = await createTestDatabase();
    const servers: TestServer[] = [];
    const procs: AgentProcess[] = [];
    try {
      servers.push(await startTestServer({ databaseUrl: db.url }));
      servers.push(await startTestServer({ databaseUrl: db.url }));
      const [one, two] = servers;
      const api1 = await ApiClient.loggedIn(one.url);
      const api2 = await ApiClient.loggedIn(two.url);
      procs.push(...(await startAuthorizedAgents(api1, one.url, 2)).procs);
      procs.push(...(await startAuthorizedAgents(api2, two.url, 2)).procs);

      const ledger = path.join(mkdtempSync(path.join(os.tmpdir(), 'kraken-ledger-')), 'ran');
      const schema = {
        name: 'many',
        jobs: [
          {
            name: 'count',
            steps: [{ tool: 'shell', cmd: `echo $KRAKEN_JOB_ID >> ${ledger}` }],
            environments: Array.from({ length: 200 }, () => ({ system: 'any', agents_group: 'all' })),
          },
        ],
      };
      // Submitted through one server; the dispatchers of both take their share.
      const runs = [await api1.ok<RunView>('POST', '/api/runs', { schema }, 201)];
      expect(runs[0].jobsTotal).toBe(200);
      const done = await waitFor('all 200 jobs completed', async () => {
        const r = await api2.ok<RunView>('GET', `/api/runs/${runs[0].id}`);
        return r.state === 'completed' && r;
      }, 120_000, 250);
      expect(done.status).toBe('ok');
      expect(new Set(done.jobs!.map((j) => j.agent!.id)).size).toBe(4);

      const lines = readFileSync(ledger, 'utf8').trim().split('\n').map(Number);
      expect(lines).toHaveLength(200);
      expect(new Set(lines).size).toBe(200);
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      const { rows } = await client.query('SELECT job_id, count(*)::int AS n FROM job_assignments GROUP BY job_id HAVING count(*) <> 1');
      await client.end();
      expect(rows).toEqual([]);
    } finally {
      await Promise.all(procs.map((p) => p.kill('SIGKILL')));
      for (const s of servers) await s.stop({ dropDatabase: false });
      await db.drop();
    }
  }, 180_000);

  it('never assigns a job twice when both servers race for a long queue with instant agents', async () => {
    const db = await createTestDatabase();
    const servers: TestServer[] = [];
    const clients: RawClient[] = [];
    try {
      servers.push(await startTestServer({ databaseUrl: db.url }));
      servers.push(await startTestServer({ databaseUrl: db.url }));
      const apis = await Promise.all(servers.map((s) => ApiClient.loggedIn(s.url)));
      const tallies: { ran: number[] }[] = [];
      for (const [i, server] of servers.entries()) {
        for (let n = 0; n < 20; n++) {
          const { client } = await connectAuthorized(server.url, apis[i]);
          clients.push(client);
          tallies.push(completeJobsAtOnce(client));
        }
      }
      // Queued while every agent is free: both dispatchers read the same queue head at once.
      const schema = (k: number) => ({
        name: `race-${k}`,
        jobs: [{ name: 'j', steps: [{ tool: 'shell', cmd: 'true' }], environments: Array.from({ length: 250 }, () => ({ system: 'any', agents_group: 'all' })) }],
      });
      const runs = await Promise.all([0, 1, 2, 3].map((k) => apis[k % 2].ok<RunView>('POST', '/api/runs', { schema: schema(k) }, 201)));
      for (const run of runs) {
        const done = await waitFor(`run ${run.id} completed`, async () => {
          const r = await apis[0].ok<RunView>('GET', `/api/runs/${run.id}`);
          return r.state === 'completed' && r;
        }, 120_000, 250);
        expect(done.status).toBe('ok');
      }
      const ran = tallies.flatMap((t) => t.ran);
      expect(ran).toHaveLength(1000);
      expect(new Set(ran).size).toBe(1000);
      // Both servers took part.
      expect(tallies.slice(0, 20).some((t) => t.ran.length > 0) && tallies.slice(20).some((t) => t.ran.length > 0)).toBe(true);
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      const { rows } = await client.query(`SELECT count(*)::int AS n, count(DISTINCT job_id)::int AS jobs FROM job_assignments`);
      const { rows: steps } = await client.query(`SELECT status, count(*)::int AS n FROM job_steps GROUP BY status`);
      await client.end();
      expect(rows[0]).toEqual({ n: 1000, jobs: 1000 });
      expect(steps).toEqual([{ status: 'ok', n: 1000 }]);
    } finally {
      for (const c of clients) c.ws.close();
      for (const s of servers) await s.stop({ dropDatabase: false });
      await db.drop();
    }
  }, 180_000);
});
