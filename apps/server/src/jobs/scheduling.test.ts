import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Agent, JobView, RunView } from '@kraken/protocol';
import type { AgentProcess } from '../test-support/agent-process';
import { groupOf, startAuthorizedAgents } from '../test-support/agents';
import { ApiClient } from '../test-support/api-client';
import { startTestServer, type TestServer } from '../test-support/server';
import { waitFor } from '../test-support/wait';

const shellJob = (name: string, group: string, cmd: string, extra: Record<string, unknown> = {}, env: Record<string, unknown> = {}) => ({
  name,
  steps: [{ tool: 'shell', cmd }],
  environments: [{ system: 'any', agents_group: group, executor: 'local', ...env }],
  ...extra,
});

describe('jobs: scheduling by group, system and executor', () => {
  let server: TestServer;
  let api: ApiClient;
  let procs: AgentProcess[] = [];
  beforeEach(async () => {
    server = await startTestServer();
    api = await ApiClient.loggedIn(server.url);
  });
  afterEach(async () => {
    await Promise.all(procs.splice(0).map((p) => p.kill('SIGKILL')));
    await server.stop();
  });

  const submit = (jobs: unknown[]) => api.ok<RunView>('POST', '/api/runs', { schema: { name: 'test', jobs } }, 201);
  const run = (id: number) => api.ok<RunView>('GET', `/api/runs/${id}`);
  const finished = (id: number, timeoutMs = 30_000) =>
    waitFor(`run ${id} completed`, async () => {
      const r = await run(id);
      return r.state === 'completed' && r;
    }, timeoutMs);
  const job = (r: RunView, name: string) => r.jobs!.find((j) => j.name === name)!;

  it('runs each job on an agent of its group, and reports steps, exit codes and output', async () => {
    const started = await startAuthorizedAgents(api, server.url, 2);
    procs = started.procs;
    const [a, b] = started.agents;
    await groupOf(api, 'g1', [a.id]);
    await groupOf(api, 'g2', [b.id]);
    const r = await submit([
      shellJob('on-g1', 'g1', 'echo "hello from $KRAKEN_JOB_ID"'),
      shellJob('on-g2', 'g2', 'echo two'),
      { name: 'fails', steps: [{ tool: 'shell', cmd: 'echo before; exit 3' }, { tool: 'shell', cmd: 'echo never' }], environments: [{ system: 'any', agents_group: 'g2' }] },
    ]);
    expect(r.jobs).toHaveLength(3);
    const done = await finished(r.id);
    const g1 = job(done, 'on-g1');
    expect(g1).toMatchObject({ state: 'completed', completionStatus: 'ok', agent: { id: a.id }, group: 'g1', attempt: 1 });
    expect(g1.steps[0]).toMatchObject({ status: 'ok', exitCode: 0, outputTail: `hello from ${g1.id}` });
    expect(g1.steps[0].durationMs).toBeGreaterThanOrEqual(0);
    expect(job(done, 'on-g2')).toMatchObject({ completionStatus: 'ok', agent: { id: b.id } });
    const failed = job(done, 'fails');
    expect(failed).toMatchObject({ completionStatus: 'failed', agent: { id: b.id } });
    expect(failed.steps.map((s) => [s.status, s.exitCode])).toEqual([['failed', 3], ['skipped', null]]);
    expect(failed.steps[0].outputTail).toBe('before');
    expect(done.status).toBe('failed');

    const history = await api.ok<{ items: JobView[]; total: number }>('GET', `/api/agents/${b.id}/jobs`);
    expect(history.items.map((j) => j.name).sort()).toEqual(['fails', 'on-g2']);
  });

  it('matches the system for the local executor and the executor capability, and says why a job waits', async () => {
    const one = await startAuthorizedAgents(api, server.url, 1, { args: ['--system-id', 'sys-one'] });
    const two = await startAuthorizedAgents(api, server.url, 1, { args: ['--system-id', 'sys-two'] });
    procs = [...one.procs, ...two.procs];
    const r = await submit([
      shellJob('wants-two', 'all', 'true', {}, { system: 'sys-two' }),
      shellJob('wants-one', 'all', 'true', {}, { system: ['sys-one'] }),
      shellJob('wants-nothing', 'all', 'true', {}, { system: 'sys-three' }),
      shellJob('wants-docker', 'all', 'true', {}, { executor: 'docker', system: 'debian:12' }),
    ]);
    await waitFor('two jobs done', async () => (await run(r.id)).jobsCompleted === 2);
    const v = await run(r.id);
    expect(job(v, 'wants-two')).toMatchObject({ completionStatus: 'ok', agent: { id: two.agents[0].id } });
    expect(job(v, 'wants-one')).toMatchObject({ completionStatus: 'ok', agent: { id: one.agents[0].id } });
    expect(job(v, 'wants-nothing')).toMatchObject({ state: 'queued', note: "no agent in group 'all' runs system 'sys-three'" });
    expect(job(v, 'wants-docker')).toMatchObject({ state: 'queued', note: "no agent in group 'all' has docker available" });
  });

  it('completes jobs of missing or empty groups at once, and queues jobs whose agents are away', async () => {
    const started = await startAuthorizedAgents(api, server.url, 1);
    procs = started.procs;
    await groupOf(api, 'empty', []);
    await groupOf(api, 'away', [started.agents[0].id]);
    await started.procs[0].kill('SIGKILL');
    await waitFor('agent offline', async () => (await api.ok<Agent>('GET', `/api/agents/${started.agents[0].id}`)).state === 'offline');
    const r = await submit([shellJob('no-group', 'nope', 'true'), shellJob('no-agents', 'empty', 'true'), shellJob('waits', 'away', 'true')]);
    expect(job(r, 'no-group')).toMatchObject({ state: 'completed', completionStatus: 'missing-group', note: "group 'nope' does not exist" });
    expect(job(r, 'no-agents')).toMatchObject({ state: 'completed', completionStatus: 'no-agents' });
    expect(job(r, 'waits')).toMatchObject({ state: 'queued', note: "no agents in group 'away' are connected and enabled (1 authorized)" });
    expect(job(r, 'no-group').steps.map((st) => st.status)).toEqual(['skipped']);
    // The POST answers with the run as stored.
    expect(await run(r.id)).toEqual(r);
  });

  it('gives no work to unauthorized agents', async () => {
    const started = await startAuthorizedAgents(api, server.url, 1);
    procs = started.procs;
    const id = started.agents[0].id;
    await groupOf(api, 'solo', [id]);
    await api.ok('PATCH', '/api/agents', [{ id, authorized: false }]);
    await waitFor('agent told', () => started.procs[0].output().includes('no longer authorized'));
    const r = await submit([shellJob('x', 'solo', 'true'), shellJob('y', 'all', 'true')]);
    expect(r.jobs!.map((j) => j.completionStatus)).toEqual(['no-agents', 'no-agents']);
    // Every job completed at once: so did the run.
    expect(r).toMatchObject({ state: 'completed', status: 'no-agents', jobsCompleted: 2, finishedAt: expect.any(String) });
    expect(await run(r.id)).toEqual(r);
    await new Promise((res) => setTimeout(res, 500));
    expect(started.procs[0].output()).not.toContain('job started');
    expect((await api.ok<{ total: number }>('GET', `/api/agents/${id}/jobs`)).total).toBe(0);
  });

  it('gives a disabled agent no new jobs but lets its running job finish', async () => {
    const started = await startAuthorizedAgents(api, server.url, 1);
    procs = started.procs;
    const id = started.agents[0].id;
    const first = await submit([shellJob('slow', 'all', 'sleep 1.5; echo finished')]);
    await waitFor('job running', async () => job(await run(first.id), 'slow').state === 'running');
    await api.ok('PUT', `/api/agents/${id}`, { disabled: true });
    const second = await submit([shellJob('later', 'all', 'true')]);
    const done = await finished(first.id);
    expect(job(done, 'slow')).toMatchObject({ completionStatus: 'ok' });
    await new Promise((res) => setTimeout(res, 500));
    expect(job(await run(second.id), 'later')).toMatchObject({ state: 'queued', note: expect.stringContaining('connected and enabled') });
    await api.ok('PUT', `/api/agents/${id}`, { disabled: false });
    expect(job(await finished(second.id), 'later')).toMatchObject({ completionStatus: 'ok' });
  });

  it('rejects a bad schema as a whole, listing every error by path', async () => {
    const res = await api.request('POST', '/api/runs', {
      schema: { jobs: [{ name: 'a', steps: [{ tool: 'shell', cmd: 'true' }], environments: [{ system: 'any', agents_group: 'all' }] }, { name: 'b', steps: [], environments: [{ system: 'any' }] }] },
    });
    expect(res.status).toBe(400);
    expect(res.body.issues).toEqual(
      expect.arrayContaining([
        { path: 'schema.jobs[1].steps', message: 'a job needs at least one step' },
        { path: 'schema.jobs[1].environments[0].agents_group', message: 'required' },
      ]),
    );
    expect((await api.ok<{ total: number }>('GET', '/api/runs')).total).toBe(0);
    const yaml = 'jobs:\n  - name: y\n    steps:\n      - tool: shell\n        cmd: echo yaml\n    environments:\n      - {system: any, agents_group: all}\n';
    const wf = await api.ok<{ id: number }>('POST', '/api/workflows', { name: 'from-yaml', schema: yaml }, 201);
    const r = await api.ok<RunView>('POST', `/api/workflows/${wf.id}/runs`, undefined, 201);
    expect(r).toMatchObject({ workflowId: wf.id, name: 'from-yaml', jobsTotal: 1 });
  });

  it('clones a git repository (a local bare one) in a git step, for the next step to use', async () => {
    ({ procs } = await startAuthorizedAgents(api, server.url, 1));
    const dir = mkdtempSync(path.join(os.tmpdir(), 'kraken-git-'));
    const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' } });
    git('init', '-q', '-b', 'main', 'work');
    writeFileSync(path.join(dir, 'work', 'README'), 'hello from git\n');
    execFileSync('git', ['-C', path.join(dir, 'work'), 'add', 'README']);
    execFileSync('git', ['-C', path.join(dir, 'work'), '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'first']);
    git('clone', '-q', '--bare', 'work', 'repo.git');
    const r = await submit([
      {
        name: 'checkout',
        steps: [
          { tool: 'git', url: path.join(dir, 'repo.git'), branch: 'main' },
          { tool: 'shell', cmd: 'cat README', cwd: 'repo' },
        ],
        environments: [{ system: 'any', agents_group: 'all' }],
      },
    ]);
    const done = await finished(r.id);
    expect(job(done, 'checkout')).toMatchObject({ completionStatus: 'ok' });
    expect(job(done, 'checkout').steps[1].outputTail).toBe('hello from git');
  });

  it('runs as many jobs at once on an agent as it has slots (KRAKEN_AGENT_SLOTS)', async () => {
    ({ procs } = await startAuthorizedAgents(api, server.url, 1, { env: { KRAKEN_AGENT_SLOTS: '2' } }));
    const r = await submit([shellJob('a', 'all', 'sleep 1'), shellJob('b', 'all', 'sleep 1'), shellJob('c', 'all', 'sleep 1')]);
    const busy = await waitFor('two jobs running at once', async () => {
      const v = await run(r.id);
      return v.jobs!.filter((j) => j.state === 'running').length === 2 && v;
    });
    expect(busy.jobs!.filter((j) => j.state === 'queued')).toHaveLength(1);
    const done = await finished(r.id);
    expect(done.jobs!.map((j) => j.completionStatus)).toEqual(['ok', 'ok', 'ok']);
  });
});
