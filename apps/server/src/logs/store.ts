import { mkdirSync } from 'node:fs';
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import type { Logger } from 'pino';
import { LOG_LEVELS, type LogLevel, type LogLine, type LogsPage } from '@kraken/protocol';

/**
 * The ClickHouse table `logs` and every query on it. One code path for a ClickHouse server
 * (`KRAKEN_CLICKHOUSE_URL`, HTTP) and for embedded ClickHouse (chdb, plugged into
 * `@clickhouse/client` as its connection); the same SQL, parameters always bound.
 *
 * Columns: ids are 0 when absent and `step` is -1 when absent; the API maps them to null.
 * ORDER BY (job, time, seq) reads one job's log in order; monthly partitions; TTL in months.
 */

/** A row as inserted (JSONEachRow). `time` is `YYYY-MM-DD hh:mm:ss.ffffff` UTC. */
export interface LogRow {
  time: string;
  seq: number;
  level: LogLevel;
  message: string;
  service: string;
  host: string;
  agent: number;
  run: number;
  job: number;
  step: number;
  tool: string;
  /** Arrival order at the intake: breaks ties of (time, seq), e.g. records stamped in the same ms. */
  ord: number;
  /** Id of the shipper batch the row came in ('' for datagrams): a retried batch is stored once. */
  batch: string;
}

export interface LogStoreOptions {
  /** A ClickHouse server's HTTP URL, e.g. http://default:pw@clickhouse:8123/kraken; absent: embedded chdb. */
  url?: string;
  /** Where embedded ClickHouse keeps its data (one per process). */
  chdbPath: string;
  /** Retention in months. */
  ttlMonths: number;
  log: Logger;
}

/** Query filters of a page. */
export interface ReadOptions {
  cursor?: string;
  limit: number;
  level?: LogLevel;
  step?: number;
}

const LEVEL_RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

const CREATE_TABLE = `
CREATE TABLE IF NOT EXISTS logs (
  time DateTime64(6, 'UTC') CODEC(Delta, ZSTD),
  seq UInt32,
  level LowCardinality(String),
  message String CODEC(ZSTD),
  service LowCardinality(String),
  host LowCardinality(String),
  agent UInt64,
  run UInt64,
  job UInt64,
  step Int32,
  tool LowCardinality(String),
  ord UInt64,
  batch String CODEC(ZSTD),
  INDEX batch_idx batch TYPE bloom_filter GRANULARITY 4,
  INDEX agent_idx agent TYPE set(1000) GRANULARITY 4,
  INDEX run_idx run TYPE set(1000) GRANULARITY 4
) ENGINE = MergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (job, time, seq, ord)
TTL toDateTime(time) + toIntervalMonth({ttl:UInt32})`;

const COLUMNS = 'time, seq, level, message, service, host, agent, run, job, step, tool, ord';
const INSERT_COLUMNS = `${COLUMNS}, batch`.split(', ') as [string, ...string[]];

interface RawRow {
  time: string;
  seq: number;
  level: string;
  message: string;
  service: string;
  host: string;
  agent: string | number;
  run: string | number;
  job: string | number;
  step: number;
  tool: string;
  ord: number;
}

/** A page position: after the row (time, seq, ord). */
interface Cursor {
  time: string;
  seq: number;
  ord: number;
}

export function encodeCursor(c: Cursor): string {
  return Buffer.from(`${c.time}|${c.seq}|${c.ord}`).toString('base64url');
}

export function decodeCursor(text: string | undefined): Cursor | undefined {
  if (!text) return undefined;
  const parts = Buffer.from(text, 'base64url').toString('utf8').split('|');
  if (parts.length !== 3) throw new CursorError();
  const [time, seq, ord] = [parts[0], Number(parts[1]), Number(parts[2])];
  if (!/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$/.test(time) || !Number.isSafeInteger(seq) || !Number.isSafeInteger(ord) || seq < 0 || ord < 0) throw new CursorError();
  return { time, seq, ord };
}

export class CursorError extends Error {
  constructor() {
    super('bad cursor: use the `next` value of a previous page');
  }
}

const toId = (v: string | number) => {
  const n = Number(v);
  return n === 0 ? null : n;
};

/** `2026-11-30 11:50:00.123456` → `2026-11-30T11:50:00.123456Z` */
const isoOf = (t: string) => `${t.slice(0, 10)}T${t.slice(11)}Z`;

function toLine(r: RawRow): LogLine {
  return {
    time: isoOf(r.time),
    seq: r.seq,
    level: (LOG_LEVELS as readonly string[]).includes(r.level) ? (r.level as LogLevel) : 'info',
    message: r.message,
    service: r.service,
    host: r.host,
    agent: toId(r.agent),
    run: toId(r.run),
    job: toId(r.job),
    step: r.step < 0 ? null : r.step,
    tool: r.tool === '' ? null : r.tool,
  };
}

export class LogStore {
  private client?: ClickHouseClient;
  private opening?: Promise<ClickHouseClient>;
  private ttlMonths: number;
  private closed = false;

  constructor(private readonly opts: LogStoreOptions) {
    this.ttlMonths = opts.ttlMonths;
  }

  get embedded(): boolean {
    return !this.opts.url;
  }

  /**
   * Connects (embedded: opens chdb) and creates the table. Called lazily by every operation, so
   * a server whose logs are never used never starts the embedded engine (about 270 MB).
   */
  open(): Promise<ClickHouseClient> {
    if (this.client) return Promise.resolve(this.client);
    if (this.closed) return Promise.reject(new Error('log store is closed'));
    this.opening ??= this.connect().then(
      (c) => {
        this.client = c;
        return c;
      },
      (err) => {
        this.opening = undefined;
        throw err;
      },
    );
    return this.opening;
  }

  private async connect(): Promise<ClickHouseClient> {
    let client: ClickHouseClient;
    if (this.opts.url) {
      // Errors are thrown to us and logged by the intake; the client's own console logging is off.
      client = createClient({ url: this.opts.url, request_timeout: 60_000, log: { level: ClickHouseLogLevel.OFF } });
    } else {
      mkdirSync(this.opts.chdbPath, { recursive: true });
      // Loaded only when needed: the chdb library is big.
      const { createChdbConnection } = await import('chdb/connection');
      client = createClient({ connection: createChdbConnection({ path: this.opts.chdbPath }) as never, log: { level: ClickHouseLogLevel.OFF } });
    }
    try {
      await client.command({ query: CREATE_TABLE, query_params: { ttl: this.ttlMonths } });
      await client.command({ query: 'ALTER TABLE logs MODIFY TTL toDateTime(time) + toIntervalMonth({ttl:UInt32})', query_params: { ttl: this.ttlMonths } });
    } catch (err) {
      await client.close().catch(() => undefined);
      throw err;
    }
    this.opts.log.info({ store: this.opts.url ? 'clickhouse-server' : `chdb:${this.opts.chdbPath}`, ttlMonths: this.ttlMonths }, 'log store ready');
    return client;
  }

  /** Changes the retention (months) when the setting changes. */
  async setTtl(months: number): Promise<void> {
    if (!Number.isInteger(months) || months < 1) throw new Error(`bad log TTL ${months}`);
    if (months === this.ttlMonths) return;
    this.ttlMonths = months;
    if (!this.client) return; // applied at open
    await this.client.command({ query: 'ALTER TABLE logs MODIFY TTL toDateTime(time) + toIntervalMonth({ttl:UInt32})', query_params: { ttl: months } });
  }

  async insert(rows: LogRow[]): Promise<void> {
    if (!rows.length) return;
    const client = await this.open();
    // Arrays (JSONCompactEachRow) insert about a third faster than objects.
    const values = rows.map((r) => [r.time, r.seq, r.level, r.message, r.service, r.host, r.agent, r.run, r.job, r.step, r.tool, r.ord, r.batch]);
    await client.insert({ table: 'logs', values, format: 'JSONCompactEachRow', columns: INSERT_COLUMNS });
  }

  /** One job's lines in order; `next` is set when the page is full (more may follow). */
  async readJob(job: number, opts: ReadOptions): Promise<LogsPage> {
    return pageOf(await this.read('job', job, opts), opts.limit);
  }

  /** An agent's own records (service `agent`), in time order. */
  async readAgent(agent: number, opts: ReadOptions): Promise<LogsPage> {
    return pageOf(await this.read('agent', agent, opts), opts.limit);
  }

  /** Lines after a position; `cursor` is the position after the last one (for a live tail). */
  async read(what: 'job' | 'agent', id: number, opts: ReadOptions): Promise<{ items: LogLine[]; cursor: string | null; cursors: string[] }> {
    const where = what === 'job' ? 'job = {id:UInt64}' : "agent = {id:UInt64} AND service = 'agent'";
    const cursor = decodeCursor(opts.cursor);
    const client = await this.open();
    const conds = [where];
    const params: Record<string, unknown> = { id, limit: opts.limit };
    if (cursor) {
      // The first condition is the primary key's range (job, time…); the tuple one is exact.
      conds.push("time >= toDateTime64({ctime:String}, 6, 'UTC')");
      conds.push("(time, seq, ord) > (toDateTime64({ctime:String}, 6, 'UTC'), {cseq:UInt32}, {cord:UInt64})");
      params.ctime = cursor.time;
      params.cseq = cursor.seq;
      params.cord = cursor.ord;
    }
    if (opts.level && opts.level !== 'debug') {
      conds.push('level IN {levels:Array(String)}');
      params.levels = LOG_LEVELS.filter((l) => LEVEL_RANK[l] >= LEVEL_RANK[opts.level!]);
    }
    if (opts.step !== undefined) {
      conds.push('step = {step:Int32}');
      params.step = opts.step;
    }
    const rs = await client.query({
      query: `SELECT toString(time) AS t, ${COLUMNS.replace('time, ', '')} FROM logs WHERE ${conds.join(' AND ')}
              ORDER BY time, seq, ord LIMIT {limit:UInt32}`,
      query_params: params,
      format: 'JSONEachRow',
      clickhouse_settings: { output_format_json_quote_64bit_integers: 0 },
    });
    const raw = (await rs.json<RawRow & { t: string }>()).map((r) => ({ ...r, time: r.t }));
    const cursors = raw.map((r) => encodeCursor({ time: r.time, seq: r.seq, ord: Number(r.ord) }));
    return { items: raw.map(toLine), cursor: cursors.length ? cursors[cursors.length - 1] : cursor ? encodeCursor(cursor) : null, cursors };
  }

  /** Whether rows of a shipper batch are stored (a retry after the intake died before answering). */
  async hasBatch(batch: string): Promise<boolean> {
    const client = await this.open();
    const rs = await client.query({ query: 'SELECT 1 AS x FROM logs WHERE batch = {batch:String} LIMIT 1', query_params: { batch }, format: 'JSONEachRow' });
    return (await rs.json()).length > 0;
  }

  /** Applies the TTL now (it is otherwise applied as parts merge). */
  async optimize(): Promise<void> {
    const client = await this.open();
    await client.command({ query: 'OPTIMIZE TABLE logs FINAL' });
  }

  /** Counts rows; for tests and the benchmark. */
  async count(where: { job?: number; agent?: number } = {}): Promise<number> {
    const client = await this.open();
    const conds: string[] = ['1'];
    if (where.job !== undefined) conds.push('job = {job:UInt64}');
    if (where.agent !== undefined) conds.push('agent = {agent:UInt64}');
    const rs = await client.query({ query: `SELECT count() AS n FROM logs WHERE ${conds.join(' AND ')}`, query_params: where, format: 'JSONEachRow' });
    const [row] = await rs.json<{ n: string | number }>();
    return Number(row.n);
  }

  async close(): Promise<void> {
    this.closed = true;
    const c = this.client;
    this.client = undefined;
    if (c) await c.close();
    // Still connecting: close when it is done, without waiting for it.
    else void this.opening?.then((late) => late.close(), () => undefined);
  }
}

function pageOf(r: { items: LogLine[]; cursor: string | null }, limit: number): LogsPage {
  return { items: r.items, next: r.items.length >= limit ? r.cursor : null };
}

