import { EventEmitter } from 'node:events';
import dgram from 'node:dgram';
import type { Logger } from 'pino';
import type { IntakeAck, IntakeStats } from '@kraken/protocol';
import { chTimeOf, recordToRows } from './records';
import type { LogRow, LogStore } from './store';

/**
 * The log intake ("log proxy"): takes records from agents, buffers them and inserts them into
 * the store in batches.
 *
 * - Reliable path (`submitBatch`, behind `POST /api/logs/intake`): the promise resolves once the
 *   rows are stored, so an HTTP 200 means stored; an insert failure rejects it (HTTP 503, the
 *   shipper retries). Batch ids make a retried batch (answer lost) count once.
 * - UDP path (`submitDatagram`): upstream's one JSON record per datagram; best effort.
 * - Batches: an insert starts at once when a reliable batch waits (agents batch already), or
 *   when `batchRows` rows are pending, or when the oldest pending row is `batchAgeMs` old.
 *   One insert at a time; what arrives meanwhile forms the next batch.
 * - Bounded: above `maxBufferRows` pending rows, reliable batches are refused with
 *   `BackpressureError` (HTTP 503 + Retry-After) and datagrams are dropped and counted.
 */

export interface LogIntakeOptions {
  store: LogStore;
  log: Logger;
  /** Pending rows above which input is refused. */
  maxBufferRows?: number;
  /** Rows that start an insert without waiting. */
  batchRows?: number;
  /** Longest a datagram's row waits before an insert. */
  batchAgeMs?: number;
  /** Host recorded for datagrams without one. */
  defaultHost?: string;
}

export class BackpressureError extends Error {
  constructor(readonly retryAfterSec: number) {
    super('log intake buffer is full; retry later');
  }
}

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

/** Events: `stored` (jobs: Set<number>, agents: Set<number>) after each insert. */
export class LogIntake extends EventEmitter {
  private pending: LogRow[] = [];
  /** How many of `pending` came by UDP (dropped, not retried, when an insert fails). */
  private pendingUdp = 0;
  private waiters: Waiter[] = [];
  private pendingSince = 0;
  /** Arrival order of rows (`ord`): microseconds since the epoch, strictly increasing. */
  private lastOrd = 0;
  private inserting = false;
  private timer?: NodeJS.Timeout;
  private retryDelayMs = 0;
  private closed = false;
  private readonly done = new Map<string, true>();
  private readonly inFlight = new Map<string, Promise<IntakeAck>>();
  private lastErrorLog = 0;
  private readonly maxBufferRows: number;
  private readonly batchRows: number;
  private readonly batchAgeMs: number;
  readonly stats: IntakeStats = {
    receivedRecords: 0,
    storedRows: 0,
    malformed: 0,
    rejectedBatches: 0,
    udpDatagrams: 0,
    udpDropped: 0,
    insertErrors: 0,
    bufferedRows: 0,
    duplicateBatches: 0,
  };

  constructor(private readonly opts: LogIntakeOptions) {
    super();
    this.setMaxListeners(0); // one `stored` listener per open live tail
    this.maxBufferRows = opts.maxBufferRows ?? 200_000;
    this.batchRows = opts.batchRows ?? 50_000;
    this.batchAgeMs = opts.batchAgeMs ?? 200;
  }

  /** Parses an NDJSON body; malformed lines are counted and dropped. */
  parseNdjson(body: string): { rows: LogRow[]; accepted: number; malformed: number } {
    const rows: LogRow[] = [];
    let accepted = 0;
    let malformed = 0;
    const now = nowFn();
    // Fast path: the whole body as one JSON array (one parser call); any bad line: line by line.
    let all: unknown;
    try {
      all = JSON.parse(`[${body.trim().replace(/\r?\n(?:\s*\r?\n)*/g, ',')}]`);
    } catch {
      all = undefined;
    }
    if (Array.isArray(all)) {
      for (const rec of all) {
        if (recordToRows(rec, { now, host: this.opts.defaultHost }, rows)) accepted++;
        else malformed++;
      }
      return { rows, accepted, malformed };
    }
    let start = 0;
    while (start < body.length) {
      let end = body.indexOf('\n', start);
      if (end === -1) end = body.length;
      const line = body.slice(start, end).trim();
      start = end + 1;
      if (!line) continue;
      let rec: unknown;
      try {
        rec = JSON.parse(line);
      } catch {
        malformed++;
        continue;
      }
      if (recordToRows(rec, { now, host: this.opts.defaultHost }, rows)) accepted++;
      else malformed++;
    }
    return { rows, accepted, malformed };
  }

  /**
   * A shipper's batches are numbered (`<shipper>-<n>`) and may be sent two at a time: a batch whose
   * predecessor has not been queued yet waits for it (at most `ORDER_WAIT_MS`), so that a job's
   * rows are stored in order and a live tail never passes over a late batch.
   */
  private readonly order = new Map<string, { last: number; waiters: { n: number; done(): void }[] }>();

  /** A promise when the batch must wait for its predecessor, else undefined (queue it now). */
  private inOrder(batchId: string | undefined): Promise<void> | undefined {
    const m = batchId ? /^(.+)-(\d+)$/.exec(batchId) : null;
    if (!m) return undefined;
    const [sid, n] = [m[1], Number(m[2])];
    const st = this.order.get(sid);
    if (!st || n <= st.last + 1) return undefined;
    return new Promise<void>((resolve) => {
      const t = setTimeout(done, ORDER_WAIT_MS);
      function done() {
        clearTimeout(t);
        resolve();
      }
      st.waiters.push({ n, done });
    });
  }

  private queued(batchId: string | undefined): void {
    const m = batchId ? /^(.+)-(\d+)$/.exec(batchId) : null;
    if (!m) return;
    const [sid, n] = [m[1], Number(m[2])];
    let st = this.order.get(sid);
    if (!st) {
      if (this.order.size >= 10_000) this.order.delete(this.order.keys().next().value!);
      st = { last: n, waiters: [] };
      this.order.set(sid, st);
    }
    st.last = Math.max(st.last, n);
    if (st.waiters.length) {
      const last = st.last;
      const ready = st.waiters.filter((w) => w.n <= last + 1);
      st.waiters = st.waiters.filter((w) => w.n > last + 1);
      for (const w of ready) w.done();
    }
  }

  /**
   * Stores an NDJSON batch; resolves when stored. Throws BackpressureError when full.
   * `retry`: the shipper sent this batch before without an answer; if this intake does not know
   * the id (it restarted), the store is asked whether its rows are there already.
   */
  submitBatch(body: string, batchId?: string, retry = false): Promise<IntakeAck> {
    if (this.closed) return Promise.reject(new BackpressureError(1));
    if (batchId) {
      if (this.done.has(batchId)) {
        this.stats.duplicateBatches++;
        return Promise.resolve({ accepted: 0, rows: 0, malformed: 0, duplicate: true });
      }
      const running = this.inFlight.get(batchId);
      if (running) return running;
    }
    if (this.pending.length >= this.maxBufferRows) {
      this.stats.rejectedBatches++;
      return Promise.reject(new BackpressureError(1));
    }
    if (!batchId) return this.accept(body, undefined);
    const p = retry
      ? this.opts.store.hasBatch(batchId).then((stored): Promise<IntakeAck> | IntakeAck => {
          if (!stored) return this.accept(body, batchId);
          this.stats.duplicateBatches++;
          this.queued(batchId);
          return { accepted: 0, rows: 0, malformed: 0, duplicate: true };
        })
      : this.accept(body, batchId);
    this.inFlight.set(batchId, p);
    p.then(
      () => {
        this.inFlight.delete(batchId);
        this.done.set(batchId, true);
        if (this.done.size > 20_000) this.done.delete(this.done.keys().next().value!);
      },
      () => this.inFlight.delete(batchId),
    );
    return p;
  }

  private accept(body: string, batchId: string | undefined): Promise<IntakeAck> {
    const { rows, accepted, malformed } = this.parseNdjson(body);
    this.stats.receivedRecords += accepted;
    this.stats.malformed += malformed;
    if (malformed) this.warn(`dropped ${malformed} malformed log record(s)`);
    const ack: IntakeAck = { accepted, rows: rows.length, malformed };
    if (!rows.length) {
      this.queued(batchId);
      return Promise.resolve(ack);
    }
    // The batch id on its first row is enough: a batch is stored by one insert, all or nothing.
    if (batchId) rows[0].batch = batchId;
    const go = (): Promise<IntakeAck> => {
      if (this.closed) return Promise.reject(new BackpressureError(1));
      const stored = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
      this.enqueue(rows, true);
      this.queued(batchId);
      return stored.then(() => ack);
    };
    const wait = this.inOrder(batchId);
    return wait ? wait.then(go) : go();
  }

  /** One upstream-style JSON datagram. Never throws. */
  submitDatagram(buf: Buffer): void {
    this.stats.udpDatagrams++;
    if (this.closed) return;
    let rec: unknown;
    try {
      rec = JSON.parse(buf.toString('utf8'));
    } catch {
      this.stats.malformed++;
      this.warn('dropped a malformed log datagram');
      return;
    }
    const rows: LogRow[] = [];
    if (!recordToRows(rec, { now: nowFn(), host: this.opts.defaultHost }, rows)) {
      this.stats.malformed++;
      this.warn('dropped a malformed log datagram');
      return;
    }
    if (this.pending.length + rows.length > this.maxBufferRows) {
      this.stats.udpDropped += rows.length;
      this.warn('log intake buffer full: dropping datagrams');
      return;
    }
    this.stats.receivedRecords++;
    this.pendingUdp += rows.length;
    this.enqueue(rows, false);
  }

  private enqueue(rows: LogRow[], urgent: boolean): void {
    const now = Date.now();
    if (!this.pending.length) this.pendingSince = now;
    let ord = Math.max(this.lastOrd + 1, now * 1000);
    for (const r of rows) {
      r.ord = ord++;
      this.pending.push(r);
    }
    this.lastOrd = ord - 1;
    this.stats.bufferedRows = this.pending.length;
    this.schedule(urgent);
  }

  private schedule(urgent = false): void {
    if (this.inserting || !this.pending.length) return;
    const wait = this.retryDelayMs
      ? this.retryDelayMs
      : urgent || this.waiters.length || this.pending.length >= this.batchRows
        ? 0
        : Math.max(0, this.pendingSince + this.batchAgeMs - Date.now());
    if (wait === 0 && !this.retryDelayMs) {
      clearTimeout(this.timer);
      this.timer = undefined;
      void this.insertNow();
      return;
    }
    if (!this.timer) this.timer = setTimeout(() => {
      this.timer = undefined;
      this.retryDelayMs = 0;
      void this.insertNow();
    }, wait);
  }

  private async insertNow(): Promise<void> {
    if (this.inserting || !this.pending.length) return;
    this.inserting = true;
    const rows = this.pending;
    const waiters = this.waiters;
    const udpRows = this.pendingUdp;
    this.pendingUdp = 0;
    this.pending = [];
    this.waiters = [];
    this.stats.bufferedRows = 0;
    try {
      await this.opts.store.insert(rows);
      this.stats.storedRows += rows.length;
      this.retryDelayMs = 0;
      for (const w of waiters) w.resolve();
      const jobs = new Set<number>();
      const agents = new Set<number>();
      for (const r of rows) {
        jobs.add(r.job);
        agents.add(r.agent);
      }
      this.emit('stored', jobs, agents);
    } catch (err) {
      this.stats.insertErrors++;
      // Reliable rows are retried by their senders; datagram rows are lost (counted).
      for (const w of waiters) w.reject(err);
      this.stats.udpDropped += udpRows;
      this.retryDelayMs = 1000;
      if (Date.now() - this.lastErrorLog > 10_000) {
        this.lastErrorLog = Date.now();
        this.opts.log.error({ err }, 'log store insert failed');
      }
    } finally {
      this.inserting = false;
      if (this.pending.length) this.pendingSince = Math.min(this.pendingSince, Date.now());
      this.stats.bufferedRows = this.pending.length;
      this.schedule();
    }
  }

  private lastWarn = new Map<string, number>();
  private warn(msg: string): void {
    const now = Date.now();
    if (now - (this.lastWarn.get(msg) ?? 0) < 10_000) return;
    this.lastWarn.set(msg, now);
    this.opts.log.warn({ stats: this.stats }, msg);
  }

  /** Stores what is pending, then refuses input. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.retryDelayMs = 0;
    for (let i = 0; i < 50 && (this.pending.length || this.inserting); i++) {
      if (!this.inserting) await this.insertNow();
      else await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** Longest a numbered batch waits for its predecessor. */
const ORDER_WAIT_MS = 300;

const nowFn = () => {
  let cached: string | undefined;
  return () => (cached ??= chTimeOf(Date.now()));
};

/** The UDP listener of the intake (upstream agents' datagrams). */
export async function listenUdp(intake: LogIntake, port: number, host: string, log: Logger): Promise<{ port: number; close(): Promise<void> }> {
  const sock = dgram.createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', recvBufferSize: 8 * 1024 * 1024 });
  sock.on('message', (msg) => intake.submitDatagram(msg));
  sock.on('error', (err) => log.error({ err }, 'log intake UDP socket error'));
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(port, host, () => {
      sock.off('error', reject);
      resolve();
    });
  });
  try {
    sock.setRecvBufferSize(8 * 1024 * 1024);
  } catch {
    /* the OS may cap it */
  }
  return {
    port: sock.address().port,
    close: () => new Promise<void>((resolve) => sock.close(() => resolve())),
  };
}
