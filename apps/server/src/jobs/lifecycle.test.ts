import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { JobView, RunView } from '@kraken/protocol';
import type { AgentProcess } from '../test-support/agent-process';
import { startAuthorizedAgents } from '../test-support/agents';
import { ApiClient } from '../test-support/api-client';
import { processAlive } from '../test-support/processes';
import { startTestServer, type TestServer } from '../test-support/server';
import { waitFor } from '../test-support/wait';

describe('jobs: cancel, timeout, lost agents, graceful stop', () => {
  let server: TestServer;
  let api: ApiClient;
  let procs: AgentProcess[] = [];
  let tmp: string;
  beforeEach(async () => {
    server = await startTestServer();
    api = await ApiClient.loggedIn(server.url);
    tmp = mkdtempSync(path.join(os.tmpdir(), 'kraken-jobs-'));
  });
  afterEach(async () => {
    await Promise.all(procs.splice(0).map((p) => p.kill('SIGKILL')));
    await server.stop();
  });

  const submit = (job: Record<string, unknown>) =>
    api.ok<RunView>('POST', '/api/runs', { schema: { jobs: [{ environments: [{ system: 'any', agents_group: 'all' }], ...job }] } }, 201);
  const getJob = (id: number) => api.ok<JobView>('GET', `/api/jobs/${id}`);
  const until = (id: number, what: string, pred: (j: JobView) => boolean, timeoutMs = 30_000) =>
    waitFor(`job ${id} ${what}`, async () => {
      const j = await getJob(id);
      return pred(j) && j;
    }, timeoutMs);
  const readPids = (file: string) => readFileSync(file, 'utf8').split(/\s+/).filter(Boolean).map(Number);

  it('cancel kills the step and all its children', async () => {
    ({ procs } = await startAuthorizedAgents(api, server.url, 1));
    const pids = path.join(tmp, 'pids');
    const r = await submit({ name: 'long', steps: [{ tool: 'shell', cmd: `sleep 600 & echo $! > ${pids}.tmp; echo $$ >> ${pids}.tmp; mv ${pids}.tmp ${pids}; sleep 600` }] });
    const jobId = r.jobs![0].id;
    await waitFor('the step started its processes', () => existsSync(pids));
    const [child, shell] = readPids(pids);
    expect(processAlive(child) && processAlive(shell)).toBe(true);
    const cancelled = await api.ok<JobView>('POST', `/api/jobs/${jobId}/cancel`);
    expect(cancelled).toMatchObject({ state: 'completed', completionStatus: 'cancelled' });
    await waitFor('processes killed', () => !processAlive(child) && !processAlive(shell), 15_000);
    const j = await until(jobId, 'step cancelled', (v) => v.steps[0].status === 'cancelled');
    expect(j.completionStatus).toBe('cancelled');
    expect((await api.request('POST', `/api/jobs/${jobId}/cancel`)).status).toBe(409);
    // The agent is free again.
    const next = await submit({ name: 'next', steps: [{ tool: 'shell', cmd: 'echo free' }] });
    expect(await until(next.jobs![0].id, 'done', (v) => v.state === 'completed')).toMatchObject({ completionStatus: 'ok' });
  });

  it('cancels a whole run: its running job is killed, its queued one never starts', async () => {
    ({ procs } = await startAuthorizedAgents(api, server.url, 1));
    const pids = path.join(tmp, 'run-pids');
    const r = await api.ok<RunView>(
      'POST',
      '/api/runs',
      {
        schema: {
          jobs: [
            { name: 'first', steps: [{ tool: 'shell', cmd: `echo $$ > ${pids}.tmp; mv ${pids}.tmp ${pids}; sleep 600` }], environments: [{ system: 'any', agents_group: 'all' }] },
            { name: 'second', steps: [{ tool: 'shell', cmd: 'echo never' }], environments: [{ system: 'any', agents_group: 'all' }] },
          ],
        },
      },
      201,
    );
    await waitFor('the first job started', () => existsSync(pids));
    const [shell] = readPids(pids);
    const cancelled = await api.ok<RunView>('POST', `/api/runs/${r.id}/cancel`);
    expect(cancelled).toMatchObject({ state: 'completed', status: 'cancelled', jobsCompleted: 2 });
    expect(cancelled.jobs!.map((j) => [j.name, j.completionStatus, j.note])).toEqual([
      ['first', 'cancelled', 'cancelled by the user (the whole run)'],
      ['second', 'cancelled', 'cancelled by the user (the whole run)'],
    ]);
    expect(cancelled.jobs![1].steps.map((st) => st.status)).toEqual(['skipped']);
    await waitFor('the step killed', () => !processAlive(shell), 15_000);
    expect((await api.request('POST', `/api/runs/${r.id}/cancel`)).status).toBe(409);
    expect((await api.request('POST', '/api/runs/999999/cancel')).status).toBe(404);
    // The second job never reached the agent.
    expect((await getJob(r.jobs![1].id)).agent).toBeNull();
  });

  it('enforces the job timeout', async () => {
    ({ procs } = await startAuthorizedAgents(api, server.url, 1));
    const r = await submit({ name: 'slow', timeout: 2, steps: [{ tool: 'shell', cmd: 'echo start; sleep 60' }, { tool: 'shell', cmd: 'true' }] });
    const j = await until(r.jobs![0].id, 'completed', (v) => v.state === 'completed', 20_000);
    expect(j.completionStatus).toBe('timeout');
    expect(j.steps.map((s) => s.status)).toEqual(['timeout', 'skipped']);
    expect(j.steps[0].outputTail).toBe('start');
    expect(j.steps[0].durationMs!).toBeLessThan(10_000);
  });

  it('re-queues the job of an agent killed with SIGKILL to another agent, which completes it', async () => {
    const started = await startAuthorizedAgents(api, server.url, 2);
    procs = started.procs;
    const r = await submit({ name: 'survivor', steps: [{ tool: 'shell', cmd: 'sleep 2; echo done by $KRAKEN_JOB_ID' }] });
    const jobId = r.jobs![0].id;
    const running = await until(jobId, 'running', (v) => v.state === 'running');
    const victim = started.procs[started.agents.findIndex((a) => a.id === running.agent!.id)];
    await victim.kill('SIGKILL');
    const done = await until(jobId, 'completed', (v) => v.state === 'completed', 30_000);
    expect(done).toMatchObject({ completionStatus: 'ok', attempt: 2 });
    expect(done.agent!.id).not.toBe(running.agent!.id);
    expect(done.steps[0].outputTail).toBe(`done by ${jobId}`);
    // Both agents' histories show the job.
    for (const a of started.agents) expect((await api.ok('GET', `/api/agents/${a.id}/jobs`)).items.map((j: JobView) => j.id)).toEqual([jobId]);
  });

  it('completes the job as agent-lost when no retries are left', async () => {
    ({ procs } = await startAuthorizedAgents(api, server.url, 1));
    const r = await submit({ name: 'fragile', retries: 0, steps: [{ tool: 'shell', cmd: 'sleep 30' }] });
    await until(r.jobs![0].id, 'running', (v) => v.state === 'running');
    await procs[0].kill('SIGKILL');
    const j = await until(r.jobs![0].id, 'lost', (v) => v.state === 'completed', 20_000);
    expect(j).toMatchObject({ completionStatus: 'agent-lost', note: expect.stringContaining('was lost; no retries left') });
  });

  it('tells an agent that comes back with a job already moved elsewhere to drop it', async () => {
    const started = await startAuthorizedAgents(api, server.url, 2);
    procs = started.procs;
    const marker = path.join(tmp, 'ran-by');
    // The first attempt sleeps long (it is frozen meanwhile); the second one is quick.
    const cmd = `if [ -e ${marker}.first ]; then sleep 1; else touch ${marker}.first; sleep 30; fi; echo $KRAKEN_JOB_ID >> ${marker}`;
    const r = await submit({ name: 'moving', steps: [{ tool: 'shell', cmd }] });
    const jobId = r.jobs![0].id;
    const first = await until(jobId, 'running', (v) => v.state === 'running');
    const frozen = started.procs[started.agents.findIndex((a) => a.id === first.agent!.id)];
    process.kill(frozen.pid, 'SIGSTOP');
    try {
      await until(jobId, 'moved to the other agent', (v) => v.agent !== null && v.agent.id !== first.agent!.id && v.state === 'running', 30_000);
    } catch (e) {
      console.log(JSON.stringify(await getJob(jobId)), JSON.stringify(await api.ok('GET', '/api/agents')), started.procs.map((p) => p.output()).join('\n----\n'));
      throw e;
    } finally {
      process.kill(frozen.pid, 'SIGCONT');
    }
    await waitFor('frozen agent drops the moved job', () => frozen.output().includes('moved this job elsewhere'), 30_000);
    const done = await until(jobId, 'completed', (v) => v.state === 'completed', 30_000);
    expect(done).toMatchObject({ completionStatus: 'ok', attempt: 2 });
        expect(readFileSync(marker, 'utf8').trim().split('\n')).toEqual([String(jobId)]);
  }, 90_000);

  it('graceful stop: the agent finishes its running job, takes no new one, and exits', async () => {
    ({ procs } = await startAuthorizedAgents(api, server.url, 1));
    const r = await submit({ name: 'finishing', steps: [{ tool: 'shell', cmd: 'sleep 1.5; echo finished' }] });
    await until(r.jobs![0].id, 'running', (v) => v.state === 'running');
    procs[0].child.kill('SIGTERM');
    const later = await submit({ name: 'not-for-it', steps: [{ tool: 'shell', cmd: 'true' }] });
    expect(await procs[0].exited()).toBe(0);
    // The agent exits right after its last report; the server may still be storing it.
    expect(await until(r.jobs![0].id, 'completed', (v) => v.state === 'completed')).toMatchObject({ completionStatus: 'ok', steps: [{ outputTail: 'finished' }] });
    expect(await getJob(later.jobs![0].id)).toMatchObject({ state: 'queued' });
  });
});
