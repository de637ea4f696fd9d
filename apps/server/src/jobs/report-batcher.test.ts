import pg from 'pg';
import type { JobView, RunView } from '@kraken/protocol';
import { ApiClient } from '../test-support/api-client';
import { connectAuthorized, type RawClient } from '../test-support/raw-agent';
import { startTestServer, type TestServer } from '../test-support/server';
import { waitFor } from '../test-support/wait';

/**
 * Agents' reports are written in batches (jobs/report-batcher.ts). These agents send every report
 * of their job back to back, all at the same moment, so the server receives them together.
 */
describe('reports of many agents at once', () => {
  let server: TestServer;
  let api: ApiClient;
  let clients: RawClient[] = [];
  beforeEach(async () => {
    server = await startTestServer({ agentLostMs: 60_000 });
    api = await ApiClient.loggedIn(server.url);
  });
  afterEach(async () => {
    for (const c of clients) c.ws.close();
    clients = [];
    await server.stop();
  });

  const twoStepRun = (n: number) => ({
    schema: {
      jobs: Array.from({ length: n }, (_, i) => ({
        name: `j${i}`,
        steps: [
          { tool: 'shell', cmd: 'true' },
          { tool: 'shell', cmd: 'true' },
        ],
        environments: [{ system: 'any', agents_group: 'all' }],
      })),
    },
  });

  /** Connects n agents, gives them one job each, and answers with `tail(i, step)` as each step's output. */
  async function runAll(n: number, tail: (agent: number, step: number) => string): Promise<{ run: RunView; jobIds: number[] }> {
    clients = await Promise.all(Array.from({ length: n }, async () => (await connectAuthorized(server.url, api)).client));
    const run = await api.ok<RunView>('POST', '/api/runs', twoStepRun(n), 201);
    const jobIds = await Promise.all(clients.map(async (c) => (await c.next('job-assign')).job.id as number));
    clients.forEach((c, i) => {
      const jobId = jobIds[i];
      c.send({ type: 'job-started', jobId });
      for (const index of [0, 1]) {
        c.send({ type: 'step-started', jobId, index });
        c.send({ type: 'step-finished', jobId, index, result: { status: 'ok', exitCode: index, durationMs: 5 + index, outputTail: tail(i, index) } });
      }
      c.send({ type: 'job-finished', jobId, status: 'ok' });
    });
    return { run, jobIds };
  }

  it('take effect in the order each agent sent them', async () => {
    const { run, jobIds } = await runAll(12, (i, s) => `agent ${i} step ${s}`);
    const done = await waitFor('the run completed', async () => {
      const r = await api.ok<RunView>('GET', `/api/runs/${run.id}`);
      return r.state === 'completed' && r;
    });
    expect(done.status).toBe('ok');
    for (const [i, jobId] of jobIds.entries()) {
      const job = await api.ok<JobView>('GET', `/api/jobs/${jobId}`);
      expect(job).toMatchObject({ state: 'completed', completionStatus: 'ok', attempt: 1 });
      expect(job.startedAt).not.toBeNull();
      expect(job.steps.map((s) => [s.status, s.exitCode, s.durationMs, s.outputTail])).toEqual([
        ['ok', 0, 5, `agent ${i} step 0`],
        ['ok', 1, 6, `agent ${i} step 1`],
      ]);
      for (const s of job.steps) expect(s.startedAt).not.toBeNull();
    }
  });

  it('are not lost when the database refuses one of them', async () => {
    // A real refusal by PostgreSQL, for one step's output only.
    const admin = new pg.Client({ connectionString: server.databaseUrl });
    await admin.connect();
    await admin.query(`
      CREATE FUNCTION refuse_marked_output() RETURNS trigger AS $$
      BEGIN
        IF NEW.output_tail = 'refuse me' THEN RAISE EXCEPTION 'refused for the test'; END IF;
        RETURN NEW;
      END $$ LANGUAGE plpgsql;
      CREATE TRIGGER refuse_marked_output BEFORE UPDATE ON job_steps FOR EACH ROW EXECUTE FUNCTION refuse_marked_output();`);
    await admin.end();

    const { run, jobIds } = await runAll(8, (i, s) => (i === 3 && s === 1 ? 'refuse me' : `fine ${i}.${s}`));
    await waitFor('the run completed', async () => (await api.ok<RunView>('GET', `/api/runs/${run.id}`)).state === 'completed');
    for (const [i, jobId] of jobIds.entries()) {
      const job = await api.ok<JobView>('GET', `/api/jobs/${jobId}`);
      expect(job.completionStatus).toBe('ok');
      if (i === 3) {
        // Its step-finished was refused: the step was running when the job finished.
        expect(job.steps.map((s) => s.status)).toEqual(['ok', 'error']);
        const err = await clients[3].next('error');
        expect(err).toMatchObject({ code: 'internal', message: expect.stringContaining('step-finished') });
      } else {
        expect(job.steps.map((s) => [s.status, s.outputTail])).toEqual([
          ['ok', `fine ${i}.0`],
          ['ok', `fine ${i}.1`],
        ]);
      }
    }
    for (const [i, c] of clients.entries()) if (i !== 3) expect(c.messages.filter((m) => m.type === 'error')).toEqual([]);
  });
});
