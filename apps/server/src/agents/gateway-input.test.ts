import WebSocket from 'ws';
import { MAX_FRAME_BYTES } from '@kraken/protocol';
import { connectAuthorized, hello, RawClient } from '../test-support/raw-agent';
import { ApiClient } from '../test-support/api-client';
import { startTestServer, type TestServer } from '../test-support/server';
import { waitFor } from '../test-support/wait';

describe('agent gateway: bad frames', () => {
  let server: TestServer;
  let api: ApiClient;
  beforeEach(async () => {
    server = await startTestServer();
    api = await ApiClient.loggedIn(server.url);
  });
  afterEach(() => server.stop());

  it('answers malformed frames with errors naming the problem, and keeps stored data intact', async () => {
    const good = new RawClient(server.url);
    await good.open();
    good.send(hello());
    const welcome = await good.next('welcome');
    expect(welcome).toMatchObject({ authorized: false, agentId: expect.any(Number) });
    const before = await api.ok('GET', `/api/agents/${welcome.agentId}`);

    const bad = new RawClient(server.url);
    await bad.open();
    bad.send('this is not json');
    expect(await bad.next('error')).toMatchObject({ code: 'bad-json' });
    bad.messages.length = 0;
    bad.send({ type: 'hello', secret: 'short', hostInfo: { hostname: 'x' } });
    const err = await bad.next('error');
    expect(err.code).toBe('bad-message');
    expect(err.message).toContain('secret');
    expect(err.message).toContain('hostInfo.system: required');
    bad.messages.length = 0;
    bad.send({ type: 'launch-missiles' });
    expect((await bad.next('error')).message).toContain('type');
    bad.messages.length = 0;
    bad.send({ type: 'job-started', jobId: 1 });
    expect(await bad.next('error')).toMatchObject({ code: 'not-hello' });

    // The well-behaved agent is unaffected and nothing was recorded for the bad client.
    expect(good.ws.readyState).toBe(WebSocket.OPEN);
    expect(await api.ok('GET', `/api/agents/${welcome.agentId}`)).toEqual(before);
    expect((await api.ok('GET', '/api/agents')).total).toBe(1);
    good.ws.close();
    bad.ws.close();
  });

  it('refuses a report whose numbers do not fit, naming the field', async () => {
    const { client } = await connectAuthorized(server.url, api);
    client.send({ type: 'step-finished', jobId: 1, index: 0, result: { status: 'ok', exitCode: 2 ** 40, durationMs: 1, outputTail: '' } });
    const err = await client.next('error');
    expect(err.code).toBe('bad-message');
    expect(err.message).toContain('result.exitCode');
    client.ws.close();
  });

  it('closes a connection that sends an oversize frame (1009) without harm to others', async () => {
    const c = new RawClient(server.url);
    await c.open();
    c.send(hello());
    await c.next('welcome');
    c.send({ type: 'hello', secret: 'x'.repeat(MAX_FRAME_BYTES + 10) });
    await waitFor('connection closed', () => c.closed, 5000);
    expect(c.closed!.code).toBe(1009);
    expect((await api.ok('GET', '/api/agents')).total).toBe(1);
    const after = new RawClient(server.url);
    await after.open();
    after.send(hello());
    expect(await after.next('welcome')).toMatchObject({ type: 'welcome' });
    after.ws.close();
  });

  it('refuses job messages from an unauthorized agent', async () => {
    const c = new RawClient(server.url);
    await c.open();
    c.send(hello());
    await c.next('welcome');
    c.send({ type: 'job-started', jobId: 1 });
    expect((await c.next('error')).message).toContain('not authorized');
    c.ws.close();
  });

  it('closes a connection that never says hello', async () => {
    // HELLO_TIMEOUT_MS is 10 s; a connection that stays silent is closed with code 4000.
    const c = new RawClient(server.url);
    await c.open();
    await waitFor('closed for no hello', () => c.closed, 15_000);
    expect(c.closed!.code).toBe(4000);
  }, 20_000);
});
