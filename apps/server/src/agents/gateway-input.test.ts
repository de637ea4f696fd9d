import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { AGENT_WS_PATH, MAX_FRAME_BYTES, type HelloMessage } from '@kraken/protocol';
import { ApiClient } from '../test-support/api-client';
import { startTestServer, type TestServer } from '../test-support/server';
import { waitFor } from '../test-support/wait';

function hello(secret = randomBytes(32).toString('base64url')): HelloMessage {
  return {
    type: 'hello',
    secret,
    hostInfo: {
      hostname: 'sim-1',
      system: 'debian-12',
      systemType: 'linux',
      distroName: 'debian',
      distroVersion: '12',
      isolation: 'bare-metal',
      capabilities: {},
      cpus: 2,
      memoryMb: 1024,
      agentVersion: 'test',
    },
    slots: 1,
    runningJobs: [],
  };
}

/** A raw protocol client, to send what a real agent never would. */
class RawClient {
  readonly ws: WebSocket;
  readonly messages: any[] = [];
  closed?: { code: number; reason: string };
  constructor(url: string) {
    this.ws = new WebSocket(url.replace(/^http/, 'ws') + AGENT_WS_PATH);
    this.ws.on('message', (d) => this.messages.push(JSON.parse(d.toString())));
    this.ws.on('close', (code, reason) => (this.closed = { code, reason: reason.toString() }));
    this.ws.on('error', () => undefined);
  }
  open() {
    return new Promise<void>((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
  }
  send(data: string | object) {
    this.ws.send(typeof data === 'string' ? data : JSON.stringify(data));
  }
  next(type: string) {
    return waitFor(`a '${type}' message`, () => this.messages.find((m) => m.type === type), 5000);
  }
}

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
