import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { AGENT_WS_PATH, type HelloMessage } from '@kraken/protocol';
import type { ApiClient } from './api-client';
import { waitFor } from './wait';

/** A valid hello of a simulated agent. */
export function hello(secret = randomBytes(32).toString('base64url'), extra: Partial<HelloMessage> = {}): HelloMessage {
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
    finishedJobs: [],
    ...extra,
  };
}

/** A protocol-level agent client, to send what a real agent never would (or to simulate one). */
export class RawClient {
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


/**
 * A simulated agent that presents the enrollment token, so it is authorized at once (group
 * `all`); its secret lets it come back as itself.
 */
export async function connectAuthorized(serverUrl: string, api: ApiClient): Promise<{ token: string; secret: string; client: RawClient }> {
  const { enrollment_token: token } = await api.ok<{ enrollment_token: string }>('GET', '/api/settings');
  const secret = randomBytes(32).toString('base64url');
  const client = new RawClient(serverUrl);
  await client.open();
  client.send(hello(secret, { token }));
  await client.next('welcome');
  return { token, secret, client };
}

/** Makes a simulated agent finish every job it is given at once, each step ok; answers how many it ran. */
export function completeJobsAtOnce(client: RawClient): { ran: number[] } {
  const ran: number[] = [];
  client.ws.on('message', (data) => {
    const msg = JSON.parse(data.toString());
    if (msg.type !== 'job-assign') return;
    const jobId: number = msg.job.id;
    ran.push(jobId);
    client.send({ type: 'job-started', jobId });
    for (const { index } of msg.job.steps as { index: number }[]) {
      client.send({ type: 'step-started', jobId, index });
      client.send({ type: 'step-finished', jobId, index, result: { status: 'ok', exitCode: 0, durationMs: 1, outputTail: '' } });
    }
    client.send({ type: 'job-finished', jobId, status: 'ok' });
  });
  return { ran };
}
