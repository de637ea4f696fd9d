import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LogShipper } from '@kraken/agent/src/logs/shipper';
import type { LogLine, LogsPage } from '@kraken/protocol';
import { AgentProcess } from '../test-support/agent-process';
import { ApiClient } from '../test-support/api-client';
import { startTestServer, TEST_ADMIN_PASSWORD, type TestServer } from '../test-support/server';
import { waitFor } from '../test-support/wait';

/** The reading API and the live tail of a real server, fed by a LogShipper through the server's own intake. */
describe('logs API', () => {
  let server: TestServer;
  let api: ApiClient;
  let dataDir: string;
  let openStream: ReadableStreamDefaultReader<Uint8Array> | undefined;
  const basic = `Basic ${Buffer.from(`admin:${TEST_ADMIN_PASSWORD}`).toString('base64')}`;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'kk-logs-api-'));
    server = await startTestServer({ env: { KRAKEN_DATA_DIR: dataDir, KRAKEN_CLICKHOUSE_PORT: '0' } });
    api = await ApiClient.loggedIn(server.url);
  });
  afterAll(async () => {
    await server?.stop();
    // The server ended the stream.
    if (openStream) for (;;) if ((await openStream.read()).done) break;
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** A shipper as the agent makes it when no intake address is configured: the server's own. */
  const newShipper = () => new LogShipper({ address: '', serverUrl: server.url, context: { agent: 4 } });

  it('needs a session to read logs; the intake is public', async () => {
    const anon = new ApiClient(server.url);
    expect((await anon.request('GET', '/api/jobs/1/logs')).status).toBe(401);
    expect((await anon.request('GET', '/api/jobs/1/logs/stream')).status).toBe(401);
    expect((await anon.request('GET', '/api/agents/1/logs')).status).toBe(401);
    const res = await anon.request('POST', '/api/logs/intake', undefined, { rawBody: JSON.stringify({ message: 'x', job: 700 }), headers: { 'content-type': 'application/x-ndjson' } });
    expect(res.status).toBe(200);
  });

  it('pages a job log in order with level and step filters; rejects bad queries', async () => {
    const job = 701;
    const shipper = newShipper();
    for (let s = 0; s < 3; s++) {
      const w = shipper.writer({ run: 70, job, step: s, tool: 'shell', service: 'tool' });
      for (let i = 0; i < 100; i++) w.write(`s${s} l${i}`, i === 50 ? 'error' : 'info');
    }
    await shipper.flush();
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: LogsPage = await api.ok('GET', `/api/jobs/${job}/logs?limit=40${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.items.map((l) => l.message));
      cursor = page.next;
      pages++;
    } while (cursor);
    expect(pages).toBe(8); // 300 lines: 7 full pages and an empty last one
    expect(seen).toEqual([0, 1, 2].flatMap((s) => Array.from({ length: 100 }, (_, i) => `s${s} l${i}`)));

    const errors: LogsPage = await api.ok('GET', `/api/jobs/${job}/logs?level=error`);
    expect(errors.items.map((l) => l.message)).toEqual(['s0 l50', 's1 l50', 's2 l50']);
    expect(errors.next).toBeNull();
    const step2: LogsPage = await api.ok('GET', `/api/jobs/${job}/logs?step=2&limit=1000`);
    expect(step2.items).toHaveLength(100);
    expect(step2.items[0]).toMatchObject({ step: 2, job, run: 70, agent: 4, tool: 'shell', service: 'tool', level: 'info', seq: 0 });
    expect(step2.items[0].time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);

    expect((await api.request('GET', `/api/jobs/${job}/logs?level=loud`)).status).toBe(400);
    expect((await api.request('GET', `/api/jobs/${job}/logs?cursor=nonsense`)).status).toBe(400);
    expect((await api.request('GET', `/api/jobs/${job}/logs?limit=0`)).status).toBe(400);
    expect((await api.request('GET', `/api/jobs/abc/logs`)).status).toBe(400);
    await shipper.close();
  });

  it("returns an agent's own records", async () => {
    const shipper = newShipper();
    shipper.setContext({ agent: 44 });
    // As shipPinoLogs does for the agent's pino records.
    const dest = shipper.pinoDestination();
    dest.write(JSON.stringify({ level: 30, time: Date.now(), service: 'agent', msg: 'connected to server; authorized' }));
    dest.write(JSON.stringify({ level: 50, time: Date.now(), service: 'agent', msg: 'job failed', job: 702, err: { message: 'boom', stack: 'Error: boom\n    at x' } }));
    shipper.writer({ job: 702, step: 0, service: 'tool' }).write('tool output is not an agent record');
    await shipper.flush();
    const page: LogsPage = await api.ok('GET', '/api/agents/44/logs');
    expect(page.items.map((l) => [l.message, l.level, l.job])).toEqual([
      ['connected to server; authorized', 'info', null],
      ['job failed: Error: boom', 'error', 702],
      ['    at x', 'error', 702],
    ]);
    await shipper.close();
  });

  /** Reads SSE events from the live tail until `until` says stop. */
  async function tail(job: number, opts: { lastEventId?: string; until: (events: { id: string; line: LogLine; at: number }[]) => boolean }) {
    const ctrl = new AbortController();
    const res = await fetch(`${server.url}/api/jobs/${job}/logs/stream`, {
      headers: { authorization: basic, ...(opts.lastEventId ? { 'last-event-id': opts.lastEventId } : {}) },
      signal: ctrl.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events: { id: string; line: LogLine; at: number }[] = [];
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    try {
      while (!opts.until(events)) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += decoder.decode(value, { stream: true });
        let sep: number;
        while ((sep = buf.indexOf('\n\n')) !== -1) {
          const block = buf.slice(0, sep);
          buf = buf.slice(sep + 2);
          let id = '';
          let data = '';
          for (const l of block.split('\n')) {
            if (l.startsWith('id: ')) id = l.slice(4);
            else if (l.startsWith('data: ')) data += l.slice(6);
          }
          if (data) events.push({ id, line: JSON.parse(data) as LogLine, at: Date.now() });
        }
      }
    } finally {
      ctrl.abort();
    }
    return events;
  }

  it('live tail (SSE) delivers lines while they are being written, and resumes from an event id', async () => {
    const job = 703;
    const shipper = newShipper();
    const w = shipper.writer({ run: 71, job, step: 0, service: 'tool' });
    w.write('before the tail opened');
    await shipper.flush();
    let writing = true;
    const writer = (async () => {
      for (let i = 0; i < 30; i++) {
        w.write(`live ${i}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      writing = false;
    })();
    let firstLiveWhileWriting = false;
    const events = await tail(job, {
      until: (ev) => {
        if (ev.some((e) => e.line.message.startsWith('live')) && writing) firstLiveWhileWriting = true;
        return ev.length >= 31;
      },
    });
    await writer;
    expect(firstLiveWhileWriting).toBe(true);
    expect(events.map((e) => e.line.message)).toEqual(['before the tail opened', ...Array.from({ length: 30 }, (_, i) => `live ${i}`)]);

    // Resume after the 10th event (as EventSource does with Last-Event-ID).
    const resumed = await tail(job, { lastEventId: events[9].id, until: (ev) => ev.length >= 21 });
    expect(resumed.map((e) => e.line.message)).toEqual(events.slice(10).map((e) => e.line.message));
    await shipper.close();
  });

  it("ships a real agent process's own records to the intake the server names", async () => {
    // No clickhouse_addr anywhere: the agent uses <server>/api/logs/intake.
    const agent = new AgentProcess(server.url);
    try {
      const id = await waitFor('the agent to be discovered', async () => {
        const list = await api.ok('GET', '/api/agents?authorized=false');
        return (list.items ?? list)[0]?.id as number | undefined;
      });
      const page = await waitFor(
        "the agent's records",
        async () => {
          const p: LogsPage = await api.ok('GET', `/api/agents/${id}/logs`);
          return p.items.some((l) => l.message.includes('waiting for an administrator')) ? p : undefined;
        },
        20_000,
        200,
      );
      expect(page.items[0]).toMatchObject({ service: 'agent', agent: id, job: null, level: 'info' });
      expect(page.items[0].host).not.toBe('');
      // Records written before the welcome (no id yet) carry the id too.
      expect(page.items.some((l) => l.message === 'kkagent starting')).toBe(true);
    } finally {
      await agent.kill();
    }
  });

  it('leaves no live tail open when the server stops', async () => {
    // This stream stays open: afterAll's server.stop() must still finish.
    const res = await fetch(`${server.url}/api/jobs/704/logs/stream`, { headers: { authorization: basic } });
    expect(res.status).toBe(200);
    openStream = res.body!.getReader();
  });
});
