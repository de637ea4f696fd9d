import type { JobView, LogLine, RunView } from '@kraken/protocol';
import type { AgentProcess } from '../test-support/agent-process';
import { startAuthorizedAgents } from '../test-support/agents';
import { ApiClient } from '../test-support/api-client';
import { startTestServer, type TestServer } from '../test-support/server';
import { waitFor } from '../test-support/wait';

describe('a job run by a real agent: its log in the log store', () => {
  let server: TestServer;
  let api: ApiClient;
  let procs: AgentProcess[] = [];
  beforeAll(async () => {
    server = await startTestServer();
    api = await ApiClient.loggedIn(server.url);
    ({ procs } = await startAuthorizedAgents(api, server.url, 1));
  });
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.kill('SIGKILL')));
    await server.stop();
  });

  it('stores every line of every step in order, masks secrets, and has the log complete when the step is reported', async () => {
    const r = await api.ok<RunView>(
      'POST',
      '/api/runs',
      {
        schema: {
          jobs: [
            {
              name: 'logged',
              secrets: ['hunter2-secret'],
              steps: [
                { tool: 'shell', script: 'echo first line\necho "the password is hunter2-secret"\necho to stderr >&2' },
                { tool: 'shell', cmd: 'seq 1 2000' },
              ],
              environments: [{ system: 'any', agents_group: 'all' }],
            },
          ],
        },
      },
      201,
    );
    const jobId = r.jobs![0].id;
    const job = await waitFor('job done', async () => {
      const j = await api.ok<JobView>('GET', `/api/jobs/${jobId}`);
      return j.state === 'completed' && j;
    });
    expect(job.completionStatus).toBe('ok');
    expect(job.steps[0].outputTail).toBe('first line\nthe password is ******\nto stderr');

    const lines: LogLine[] = [];
    let cursor: string | null = null;
    do {
      const page: { items: LogLine[]; next: string | null } = await api.ok('GET', `/api/jobs/${jobId}/logs?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      lines.push(...page.items);
      cursor = page.next;
    } while (cursor);
    const step0 = lines.filter((l) => l.step === 0).map((l) => l.message);
    expect(step0).toEqual(['first line', 'the password is ******', 'to stderr']);
    const step1 = lines.filter((l) => l.step === 1).map((l) => l.message);
    expect(step1).toEqual(Array.from({ length: 2000 }, (_, i) => String(i + 1)));
    expect(lines.filter((l) => l.step === 1).every((l) => l.job === jobId && l.run === r.id && l.tool === 'shell')).toBe(true);
    expect(JSON.stringify(lines)).not.toContain('hunter2-secret');
  });

  it('streams a running step\'s lines live (SSE) before the job finishes', async () => {
    const r = await api.ok<RunView>(
      'POST',
      '/api/runs',
      { schema: { jobs: [{ name: 'live', steps: [{ tool: 'shell', cmd: 'for i in 1 2 3; do echo tick $i; sleep 1; done' }], environments: [{ system: 'any', agents_group: 'all' }] }] } },
      201,
    );
    const jobId = r.jobs![0].id;
    const res = await fetch(`${server.url}/api/jobs/${jobId}/logs/stream`, {
      headers: { authorization: `Basic ${Buffer.from('admin:test-admin-password').toString('base64')}` },
    });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('tick 1')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString();
    }
    expect(text).toContain('tick 1');
    // The line arrived while the job was still running.
    expect((await api.ok<JobView>('GET', `/api/jobs/${jobId}`)).state).not.toBe('completed');
    await reader.cancel();
  });
});
