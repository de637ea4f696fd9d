import type { JobView, RunView } from '@kraken/protocol';
import { ApiClient } from '../test-support/api-client';
import { connectAuthorized as connectAuthorizedAgent, hello, RawClient } from '../test-support/raw-agent';
import { startTestServer, type TestServer } from '../test-support/server';
import { waitFor } from '../test-support/wait';

describe('a final report lost with the connection', () => {
  let server: TestServer;
  let api: ApiClient;
  beforeEach(async () => {
    server = await startTestServer({ agentLostMs: 60_000 });
    api = await ApiClient.loggedIn(server.url);
  });
  afterEach(() => server.stop());

  const connectAuthorized = () => connectAuthorizedAgent(server.url, api);

  it('is applied when the agent reconnects and repeats it in its hello', async () => {
    const { token, secret, client: first } = await connectAuthorized();
    const run = await api.ok<RunView>('POST', '/api/runs', { schema: { jobs: [{ name: 'j', steps: [{ tool: 'shell', cmd: 'echo hi' }], environments: [{ system: 'any', agents_group: 'all' }] }] } }, 201);
    const assign = await first.next('job-assign');
    const jobId: number = assign.job.id;
    expect(jobId).toBe(run.jobs![0].id);
    first.send({ type: 'job-started', jobId });
    first.send({ type: 'step-started', jobId, index: 0 });
    await waitFor('job running', async () => (await api.ok<JobView>('GET', `/api/jobs/${jobId}`)).state === 'running');
    // The job finishes while the connection is down: the agent could not deliver its reports.
    first.ws.terminate();
    await waitFor('connection closed', () => first.closed);

    const result = { status: 'ok' as const, exitCode: 0, durationMs: 12, outputTail: 'hi' };
    const again = new RawClient(server.url);
    await again.open();
    again.send(hello(secret, { token, finishedJobs: [{ jobId, status: 'ok', steps: [{ index: 0, result }] }] }));
    await again.next('welcome');
    const job = await waitFor('job completed from the repeated report', async () => {
      const j = await api.ok<JobView>('GET', `/api/jobs/${jobId}`);
      return j.state === 'completed' && j;
    });
    expect(job).toMatchObject({ completionStatus: 'ok', attempt: 1, steps: [{ status: 'ok', exitCode: 0, outputTail: 'hi' }] });
    again.ws.close();
  });

  it('re-queues a running job the agent no longer has and did not report', async () => {
    const { token, secret, client: first } = await connectAuthorized();
    await api.ok('POST', '/api/runs', { schema: { jobs: [{ name: 'j', steps: [{ tool: 'shell', cmd: 'true' }], environments: [{ system: 'any', agents_group: 'all' }] }] } }, 201);
    const jobId: number = (await first.next('job-assign')).job.id;
    first.send({ type: 'job-started', jobId });
    await waitFor('job running', async () => (await api.ok<JobView>('GET', `/api/jobs/${jobId}`)).state === 'running');
    first.ws.terminate();
    await waitFor('connection closed', () => first.closed);
    // It comes back having forgotten the job (a restart): the job is given out again, to it.
    const again = new RawClient(server.url);
    await again.open();
    again.send(hello(secret, { token }));
    const reassigned = await again.next('job-assign');
    expect(reassigned.job).toMatchObject({ id: jobId, attempt: 2 });
    again.ws.close();
  });
});
