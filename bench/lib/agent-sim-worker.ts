import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import type { ConnectRequest, ConnectResult, WorkerStatus } from './agent-sim';

/**
 * One worker process of simulated agents (forked by AgentFleet). Each agent is one WebSocket:
 * it sends hello with its own random 43-character secret, waits for the welcome, then stays
 * connected; `ws` answers the server's pings by itself.
 */

const sockets = new Set<WebSocket>();
const status: WorkerStatus = { ev: 'status', open: 0, closedAfterWelcome: 0, closeCodes: {}, pings: 0, messages: {} };
let closing = false;
/** `job-assign`s received: job id and epoch ms (sub-ms) of arrival, for JobsReport. */
const received: [number, number][] = [];
let cancels = 0;
const nowEpochMs = () => performance.timeOrigin + performance.now();

/**
 * With `completeJobs`, an agent finishes every assigned job at once: job-started, then
 * step-started and step-finished (ok, exit code 0) for each step, then job-finished ok.
 */
function completeJob(ws: WebSocket, job: { id: number; steps: { index: number }[] }): void {
  const jobId = job.id;
  ws.send(JSON.stringify({ type: 'job-started', jobId }));
  for (const s of job.steps) {
    ws.send(JSON.stringify({ type: 'step-started', jobId, index: s.index }));
    ws.send(JSON.stringify({ type: 'step-finished', jobId, index: s.index, result: { status: 'ok', exitCode: 0, durationMs: 0, outputTail: '' } }));
  }
  ws.send(JSON.stringify({ type: 'job-finished', jobId, status: 'ok' }));
}

const send = (m: object) => process.send?.(m);

function hostInfo(i: number) {
  return {
    hostname: `bench-agent-${i}`,
    system: 'debian-12',
    systemType: 'linux' as const,
    distroName: 'Debian GNU/Linux',
    distroVersion: '12',
    isolation: 'bare-metal' as const,
    capabilities: {},
    cpus: 2,
    memoryMb: 4096,
    agentVersion: 'bench',
  };
}

/** One attempt: resolves with authorized on the welcome, rejects on error/close/timeout before it. */
function connectOnce(req: ConnectRequest, index: number, secret: string): Promise<{ authorized: boolean; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const ws = new WebSocket(req.wsUrl, { handshakeTimeout: 10_000, perMessageDeflate: false });
    let welcomed = false;
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error('no welcome within 30 s'));
    }, 30_000);
    ws.on('open', () => {
      ws.send(JSON.stringify({ type: 'hello', secret, token: req.token, hostInfo: hostInfo(index), slots: 1, runningJobs: [] }));
    });
    ws.on('ping', () => status.pings++);
    ws.on('message', (data) => {
      const at = nowEpochMs();
      let msg: { type?: string; authorized?: boolean; code?: string; message?: string; job?: { id: number; steps: { index: number }[] } };
      try {
        msg = JSON.parse(data.toString());
      } catch {
        return;
      }
      if (!welcomed) {
        if (msg.type === 'welcome') {
          welcomed = true;
          clearTimeout(timer);
          sockets.add(ws);
          status.open++;
          resolve({ authorized: msg.authorized === true, ms: performance.now() - t0 });
        } else if (msg.type === 'error') {
          clearTimeout(timer);
          ws.terminate();
          reject(new Error(`error before welcome: ${msg.code} ${msg.message}`));
        }
        return;
      }
      const type = msg.type ?? '?';
      status.messages[type] = (status.messages[type] ?? 0) + 1;
      if (type === 'job-assign' && msg.job) {
        received.push([msg.job.id, at]);
        // Answer after this read's other messages are timestamped: each simulated agent is one
        // socket of a shared process, and a real agent would not wait for the others' replies.
        const job = msg.job;
        if (req.completeJobs) setImmediate(() => completeJob(ws, job));
      } else if (type === 'job-cancel') cancels++;
    });
    ws.on('error', (err) => {
      if (!welcomed) {
        clearTimeout(timer);
        reject(err);
      }
    });
    ws.on('close', (code) => {
      if (!welcomed) {
        clearTimeout(timer);
        reject(new Error(`closed before welcome (${code})`));
        return;
      }
      sockets.delete(ws);
      status.open--;
      if (!closing) {
        status.closedAfterWelcome++;
        status.closeCodes[code] = (status.closeCodes[code] ?? 0) + 1;
      }
    });
  });
}

async function connectAll(req: ConnectRequest): Promise<void> {
  const result: ConnectResult = { ev: 'connected', welcomed: 0, authorized: 0, failed: 0, retries: 0, latenciesMs: [], firstWelcomeAt: 0, lastWelcomeAt: 0, errors: [] };
  const deadline = Date.now() + req.timeoutMs;
  const progress = setInterval(() => send({ ev: 'progress', welcomed: result.welcomed, failed: result.failed }), 500);
  let next = 0;
  const runOne = async (i: number) => {
    const secret = randomBytes(32).toString('base64url'); // 43 characters
    for (let attempt = 1; ; attempt++) {
      try {
        const w = await connectOnce(req, req.offset + i, secret);
        const now = Date.now();
        result.welcomed++;
        if (w.authorized) result.authorized++;
        result.latenciesMs.push(w.ms);
        result.firstWelcomeAt ||= now;
        result.lastWelcomeAt = now;
        return;
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        if (attempt >= req.attempts || Date.now() > deadline) {
          result.failed++;
          if (result.errors.length < 10) result.errors.push(`agent ${req.offset + i}: ${msg}`);
          return;
        }
        result.retries++;
        await new Promise((r) => setTimeout(r, 200 + Math.random() * 800));
      }
    }
  };
  const lane = async () => {
    while (next < req.count && Date.now() < deadline) await runOne(next++);
  };
  await Promise.all(Array.from({ length: Math.min(req.concurrency, req.count) }, lane));
  result.failed += req.count - result.welcomed - result.failed;
  clearInterval(progress);
  send({ ev: 'progress', welcomed: result.welcomed, failed: result.failed });
  send(result);
}

process.on('message', (m: { cmd: string } & Partial<ConnectRequest>) => {
  if (m.cmd === 'connect') void connectAll(m as ConnectRequest);
  else if (m.cmd === 'status') send({ ...status });
  else if (m.cmd === 'jobs') send({ ev: 'jobs', received, cancels });
  else if (m.cmd === 'close') {
    closing = true;
    for (const s of sockets) s.close(1000, 'benchmark done');
    const done = () => {
      if (process.send) process.send({ ev: 'closed' }, () => process.exit(0));
      else process.exit(0);
    };
    if (!sockets.size) return done();
    const t = setTimeout(done, 3000);
    const check = setInterval(() => {
      if (!sockets.size) {
        clearTimeout(t);
        clearInterval(check);
        done();
      }
    }, 50);
  }
});
// The parent is gone: do not linger with open sockets.
process.on('disconnect', () => process.exit(0));
