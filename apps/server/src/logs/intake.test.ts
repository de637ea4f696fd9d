import dgram from 'node:dgram';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { LOG_BATCH_HEADER, type IntakeAck } from '@kraken/protocol';
import { waitFor } from '../test-support/wait';
import { LogIntake } from './intake';
import { LogStore } from './store';
import { startTestIntake, testLog } from './test-helpers';

/** The intake over real HTTP and UDP sockets, storing into embedded ClickHouse (chdb). */
describe('log intake', () => {
  let intake: Awaited<ReturnType<typeof startTestIntake>>;
  let job = 1000;
  const nextJob = () => ++job;

  beforeAll(async () => {
    intake = await startTestIntake();
  });
  afterAll(async () => {
    await intake?.close();
  });

  const post = async (body: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`${intake.url}/api/logs/intake`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson', ...headers }, body });
    return { status: res.status, body: (await res.json()) as IntakeAck & { error?: string }, headers: res.headers };
  };
  const now = () => new Date().toISOString();

  it('stores an NDJSON batch once stored, one row per line of a multi-line message', async () => {
    const j = nextJob();
    const t = now();
    const body = [
      { time: t, message: 'hello', level: 'info', service: 'tool', host: 'h1', agent: 3, run: 2, job: j, step: 0, tool: 'shell' },
      { time: t, message: 'a\nb\r\nc\n', level: 'error', agent: 3, run: 2, job: j, step: 1, tool: 'shell' },
    ]
      .map((r) => JSON.stringify(r))
      .join('\n');
    const res = await post(body);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ accepted: 2, rows: 4, malformed: 0 });
    // Acknowledged means stored: readable at once.
    const page = await intake.service.store.readJob(j, { limit: 100 });
    expect(page.items.map((l) => [l.message, l.seq, l.level, l.step])).toEqual([
      ['hello', 0, 'info', 0],
      ['a', 0, 'error', 1],
      ['b', 1, 'error', 1],
      ['c', 2, 'error', 1],
    ]);
    expect(page.items[0]).toMatchObject({ service: 'tool', host: 'h1', agent: 3, run: 2, job: j, tool: 'shell' });
    expect(page.items[0].time).toBe(t.replace('Z', '000Z'));
    expect(page.next).toBeNull();
  });

  it('counts and drops malformed records, storing the good ones and never failing', async () => {
    const j = nextJob();
    const before = intake.service.intake.stats.malformed;
    const good = (m: string) => JSON.stringify({ message: m, job: j });
    const body = [
      good('one'),
      '{not json',
      JSON.stringify({ level: 'info' }), // no message
      JSON.stringify({ message: 'x', level: 'loud', job: j }), // unknown level
      JSON.stringify({ message: 'x', job: -4 }), // bad id
      JSON.stringify({ message: 'x', job: j, time: 'yesterday' }), // bad time
      JSON.stringify({ message: 'x', job: j, step: 'two' }),
      '[1,2]',
      'null',
      good('two'),
    ].join('\n');
    const res = await post(body);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ accepted: 2, rows: 2, malformed: 8 });
    expect(intake.service.intake.stats.malformed - before).toBe(8);
    expect((await intake.service.store.readJob(j, { limit: 10 })).items.map((l) => l.message)).toEqual(['one', 'two']);
    // A body that is not NDJSON at all, or of another type, is still an answer, not a crash.
    expect((await post('\u0000\u0001garbage')).body.malformed).toBe(1);
    const r = await fetch(`${intake.url}/api/logs/intake`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: 'xx' });
    expect(r.status).toBe(200);
  });

  it('stores a retried batch (same batch id) once', async () => {
    const j = nextJob();
    const body = JSON.stringify({ message: 'only once', job: j });
    expect((await post(body, { [LOG_BATCH_HEADER]: 'b-1' })).body.duplicate).toBeUndefined();
    expect((await post(body, { [LOG_BATCH_HEADER]: 'b-1' })).body.duplicate).toBe(true);
    expect(await intake.service.store.count({ job: j })).toBe(1);
    // An intake that restarted knows no ids: a batch marked as re-sent is looked up in the store.
    const restarted = new LogIntake({ store: intake.service.store, log: testLog });
    expect((await restarted.submitBatch(body, 'b-1', true)).duplicate).toBe(true);
    expect((await restarted.submitBatch(JSON.stringify({ message: 'new one', job: j }), 'b-2', true)).duplicate).toBeUndefined();
    expect(await intake.service.store.count({ job: j })).toBe(2);
    await restarted.close();
  });

  it('stores upstream-style UDP datagrams and drops malformed ones', async () => {
    const j = nextJob();
    const port = intake.service.udpPort!;
    const sock = dgram.createSocket('udp4');
    const send = (msg: string) => new Promise<void>((resolve, reject) => sock.send(msg, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
    const before = intake.service.intake.stats.malformed;
    // What upstream's ClickhouseHandler sends (Python logging record + context).
    for (let i = 0; i < 20; i++) {
      await send(
        JSON.stringify({
          '@timestamp': now(),
          message: `upstream line ${i}`,
          host: 'old-agent.example.com',
          path: '/opt/kraken/agent/kraken/agent/local_run.py',
          lineno: 81,
          level: i === 7 ? 'WARNING' : 'INFO',
          logger_name: 'kraken.agent',
          service: 'agent',
          agent: 5,
          branch: 1,
          flow_kind: 0,
          flow: 9,
          run: 4,
          job: j,
          step: 2,
          tool: 'shell',
        }),
      );
    }
    await send('this is not json');
    await send(JSON.stringify({ message: 42, job: j }));
    sock.close();
    await waitFor('20 datagram rows', async () => (await intake.service.store.count({ job: j })) === 20, 10_000, 100);
    const { items } = await intake.service.store.readJob(j, { limit: 100 });
    expect(items[7]).toMatchObject({ message: 'upstream line 7', level: 'warn', agent: 5, run: 4, step: 2, tool: 'shell', host: 'old-agent.example.com' });
    expect(intake.service.intake.stats.malformed - before).toBe(2);
    expect(intake.service.intake.stats.udpDatagrams).toBeGreaterThanOrEqual(22);
  });

  it('pages one job in order with level and step filters', async () => {
    const j = nextJob();
    const base = Date.now();
    const lines = Array.from({ length: 250 }, (_, i) =>
      JSON.stringify({ time: new Date(base + Math.floor(i / 3)).toISOString(), message: `m${i}`, level: i % 10 === 0 ? 'error' : 'info', job: j, step: i % 2 }),
    );
    // Same time for three records in a row: the cursor must neither skip nor repeat them.
    expect((await post(lines.join('\n'))).status).toBe(200);
    const all: string[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await intake.service.store.readJob(j, { limit: 7, cursor });
      all.push(...page.items.map((l) => l.message));
      if (!page.next) break;
      cursor = page.next;
    }
    expect(all).toEqual(Array.from({ length: 250 }, (_, i) => `m${i}`));
    const errors = await intake.service.store.readJob(j, { limit: 1000, level: 'warn' });
    expect(errors.items.map((l) => l.message)).toEqual(Array.from({ length: 25 }, (_, i) => `m${i * 10}`));
    const step1 = await intake.service.store.readJob(j, { limit: 1000, step: 1 });
    expect(step1.items).toHaveLength(125);
    expect(step1.items.every((l) => l.step === 1)).toBe(true);
  });

  it('keeps lines younger than the TTL and drops older ones', async () => {
    const j = nextJob();
    const old = new Date(Date.now() - 400 * 24 * 3600 * 1000).toISOString();
    const res = await post([JSON.stringify({ message: 'old', time: old, job: j }), JSON.stringify({ message: 'new', job: j })].join('\n'));
    expect(res.status).toBe(200);
    await intake.service.store.optimize();
    const { items } = await intake.service.store.readJob(j, { limit: 10 });
    expect(items.map((l) => l.message)).toEqual(['new']);
  });

  it('follows the retention setting (months)', async () => {
    const ttlOf = async () => {
      const client = await intake.service.store.open();
      const rs = await client.query({ query: "SELECT create_table_query AS q FROM system.tables WHERE database = currentDatabase() AND name = 'logs'", format: 'JSONEachRow' });
      return ((await rs.json()) as { q: string }[])[0].q;
    };
    expect(await ttlOf()).toMatch(/TTL toDateTime\(time\) \+ toIntervalMonth\(_CAST\(6, 'UInt32'\)\)/);
    await intake.service.store.setTtl(13);
    expect(await ttlOf()).toMatch(/toIntervalMonth\(_CAST\(13, 'UInt32'\)\)/);
    await intake.service.store.setTtl(6);
  });

  it('applies back-pressure (503 + Retry-After) instead of growing without bound', async () => {
    // A ClickHouse server that never answers keeps one insert in flight.
    const hanging = http.createServer(() => undefined);
    await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', r));
    const store = new LogStore({ url: `http://127.0.0.1:${(hanging.address() as AddressInfo).port}`, chdbPath: '/nonexistent', ttlMonths: 6, log: testLog });
    const small = new LogIntake({ store, log: testLog, maxBufferRows: 10 });
    const rows = (n: number) => Array.from({ length: n }, (_, i) => JSON.stringify({ message: `r${i}` })).join('\n');
    const first = small.submitBatch(rows(5)); // the insert hangs (opening the store)
    first.catch(() => undefined);
    const second = small.submitBatch(rows(10)); // waits in the buffer
    second.catch(() => undefined);
    await expect(small.submitBatch(rows(1))).rejects.toMatchObject({ retryAfterSec: 1 });
    expect(small.stats.rejectedBatches).toBe(1);
    hanging.closeAllConnections();
    hanging.close();
    await store.close().catch(() => undefined);
  });
});
