import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import pino, { type Logger } from 'pino';
import { LOG_BATCH_HEADER, LOG_RETRY_HEADER, type LogLevel } from '@kraken/protocol';
import { Backoff } from '../connection/backoff';

/**
 * Ships log records to the log intake (docs/logs.md): step output and the agent's own log.
 *
 * - `write()` never blocks and never throws: the record is masked (secrets), stamped with a
 *   strictly increasing microsecond time and queued. It returns false when the queue is above
 *   its high-water mark: a producer that can wait (a step's stdout) should then pause until
 *   `drained()` resolves, like a Node stream.
 * - One HTTP POST at a time of an NDJSON batch (≤ `maxBatchLines`, ≤ `maxBatchBytes`), with a
 *   batch id so that a retry after a lost answer is stored once. The intake answers 200 only once
 *   the rows are stored. Failures (network, 5xx, 503 + Retry-After) are retried with exponential
 *   backoff, forever, in order.
 * - `flush()` resolves when every record written before it is stored (acknowledged) or dropped.
 * - Bounded: at most `maxBufferLines` records are kept while the intake is unreachable. When full,
 *   the OLDEST queued records are dropped (never the batch being sent), counted in
 *   `stats.dropped`, logged as a warning and reported by a marker line in the log itself.
 */

export interface ShipperContext {
  agent?: number | null;
  run?: number | null;
  job?: number | null;
  step?: number | null;
  tool?: string | null;
  service?: string;
}

export interface ShipRecord extends ShipperContext {
  message: string;
  level?: LogLevel;
}

export interface LogShipperOptions {
  /**
   * The intake: `host:port` (HTTP POST to http://host:port/api/logs/intake), a URL (its path, or
   * /api/logs/intake when it has none), or empty: `<serverUrl>/api/logs/intake`.
   */
  address?: string;
  /** The Kraken server, for an empty `address`. */
  serverUrl?: URL | string;
  /** Context of every record: usually `{ agent }` (set later with `setContext`). */
  context?: ShipperContext;
  /** Host name recorded with each line (default: this machine's). */
  host?: string;
  /** Where the shipper reports its own trouble. Not shipped through itself. */
  log?: Logger;
  maxBufferLines?: number;
  highWaterLines?: number;
  maxBatchLines?: number;
  maxBatchBytes?: number;
  /** How long a partial batch waits for more lines. */
  lingerMs?: number;
  requestTimeoutMs?: number;
  /** Batches sent before the first is acknowledged (default 2: the intake parses one while it stores the other). */
  maxInFlight?: number;
  /** Start sending at once (default true); false: queue until `start()`. */
  autoStart?: boolean;
}

interface PostResult {
  ok: boolean;
  retryAfterMs?: number;
  reason?: string;
}

interface Entry {
  seq: number;
  time: string;
  level: LogLevel;
  /** Masked. */
  message: string;
  /** Shared by all lines of a writer; its JSON fragment is cached. */
  ctx: ShipperContext;
}

export interface ShipperStats {
  written: number;
  acked: number;
  dropped: number;
  retries: number;
  batches: number;
  queued: number;
}

/** A writer with fixed context, e.g. one step of a job. */
export interface LogWriter {
  /** Queues one line (or a multi-line text); false: above the high-water mark, see `drained()`. */
  write(message: string, level?: LogLevel): boolean;
  drained(): Promise<void>;
  flush(timeoutMs?: number): Promise<void>;
}

const pad3 = (n: number) => (n < 10 ? `00${n}` : n < 100 ? `0${n}` : String(n));
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
export const MASK = '******';
/** Longest message shipped (characters); longer ones are cut. */
export const MAX_MESSAGE = 1024 * 1024;

/** The intake URL for an address (see `LogShipperOptions.address`). */
export function intakeUrl(address: string | undefined, serverUrl?: URL | string): URL {
  const a = (address ?? '').trim();
  if (!a) {
    if (!serverUrl) throw new Error('no log intake address and no server URL');
    return new URL('api/logs/intake', serverUrl.toString().endsWith('/') ? serverUrl : `${serverUrl}/`);
  }
  const url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(a) ? a : `http://${a}`);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`bad log intake address '${a}': http(s) only`);
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/api/logs/intake';
  return url;
}

export class LogShipper {
  private queue: Entry[] = [];
  private head = 0;
  private seq = 0;
  private lastMicros = 0;
  private url?: URL;
  private agentHttp: http.Agent;
  private ctx: ShipperContext;
  private readonly host: string;
  private secretsRe?: RegExp;
  private readonly secrets = new Set<string>();
  private sending = false;
  private started: boolean;
  private closed = false;
  private stopped = false;
  private lingerTimer?: NodeJS.Timeout;
  private wakeRetry?: () => void;
  private flushWaiters: { target: number; resolve(): void }[] = [];
  private drainWaiters: (() => void)[] = [];
  private droppedSinceMarker = 0;
  /** Context of the last dropped line: the marker goes to the same log. */
  private droppedCtx: ShipperContext = {};
  private failing = false;
  private readonly id = randomBytes(6).toString('hex');
  private batchNo = 0;
  private readonly backoff = new Backoff(200, 5_000, 50);
  private readonly o: Required<Pick<LogShipperOptions, 'maxBufferLines' | 'highWaterLines' | 'maxBatchLines' | 'maxBatchBytes' | 'lingerMs' | 'requestTimeoutMs' | 'maxInFlight'>>;
  readonly stats: ShipperStats = { written: 0, acked: 0, dropped: 0, retries: 0, batches: 0, queued: 0 };

  constructor(private readonly opts: LogShipperOptions = {}) {
    this.o = {
      maxBufferLines: opts.maxBufferLines ?? 200_000,
      highWaterLines: opts.highWaterLines ?? Math.min(50_000, opts.maxBufferLines ?? 50_000),
      maxBatchLines: opts.maxBatchLines ?? 10_000,
      maxBatchBytes: opts.maxBatchBytes ?? 4 * 1024 * 1024,
      lingerMs: opts.lingerMs ?? 20,
      requestTimeoutMs: opts.requestTimeoutMs ?? 30_000,
      maxInFlight: Math.max(1, opts.maxInFlight ?? 2),
    };
    this.ctx = { service: 'agent', ...opts.context };
    this.host = opts.host ?? os.hostname();
    this.agentHttp = new http.Agent({ keepAlive: true, maxSockets: 4 });
    this.started = opts.autoStart ?? true;
    if (opts.address || opts.serverUrl) this.url = intakeUrl(opts.address, opts.serverUrl);
  }

  /** Changes the intake (e.g. the address the server handed out). */
  setAddress(address: string | undefined, serverUrl?: URL | string): void {
    this.url = intakeUrl(address, serverUrl ?? this.opts.serverUrl);
    this.wakeRetry?.();
    this.kick();
  }

  get address(): string | undefined {
    return this.url?.toString();
  }

  /** Sets context for every record without its own (e.g. `{ agent: 12 }` after the welcome). */
  setContext(ctx: ShipperContext): void {
    this.ctx = { ...this.ctx, ...ctx };
    this.fragVersion++;
  }

  /** Starts sending (with `autoStart: false`). */
  start(): void {
    this.started = true;
    this.kick();
  }

  /** Values masked in every line written from now on (adds to those set before). */
  setSecrets(secrets: readonly string[]): void {
    for (const s of secrets) if (typeof s === 'string' && s.length > 0) this.secrets.add(s);
    this.buildMask();
  }

  clearSecrets(secrets?: readonly string[]): void {
    if (secrets) for (const s of secrets) this.secrets.delete(s);
    else this.secrets.clear();
    this.buildMask();
  }

  private buildMask(): void {
    const list = [...this.secrets].sort((a, b) => b.length - a.length);
    this.secretsRe = list.length ? new RegExp(list.map(escapeRe).join('|'), 'g') : undefined;
    this.fragVersion++;
  }

  mask(text: string): string {
    return this.secretsRe ? text.replace(this.secretsRe, MASK) : text;
  }

  /** An ISO time with microseconds, strictly increasing for this shipper. */
  private now(): string {
    let micros = Date.now() * 1000;
    if (micros <= this.lastMicros) micros = this.lastMicros + 1;
    this.lastMicros = micros;
    const ms = Math.floor(micros / 1000);
    if (ms !== this.isoMs) {
      this.isoMs = ms;
      this.isoPrefix = new Date(ms).toISOString().slice(0, 23);
    }
    return `${this.isoPrefix}${pad3(micros % 1000)}Z`;
  }

  private isoMs = -1;
  private isoPrefix = '';
  /** JSON fragments of contexts (`"service":…,"tool":…`), valid for one `fragVersion`. */
  private readonly frags = new WeakMap<ShipperContext, { v: number; frag: string }>();
  private fragVersion = 0;

  private fragOf(ctx: ShipperContext): string {
    const hit = this.frags.get(ctx);
    if (hit && hit.v === this.fragVersion) return hit.frag;
    const c = this.ctx;
    const tool = ctx.tool ?? c.tool ?? null;
    const frag = JSON.stringify({
      service: ctx.service ?? c.service ?? 'agent',
      host: this.host,
      agent: ctx.agent ?? c.agent ?? null,
      run: ctx.run ?? c.run ?? null,
      job: ctx.job ?? c.job ?? null,
      step: ctx.step ?? c.step ?? null,
      tool: tool === null ? null : this.mask(tool),
    }).slice(1, -1);
    this.frags.set(ctx, { v: this.fragVersion, frag });
    return frag;
  }

  /** Queues a record; see the class comment. */
  write(rec: ShipRecord): boolean {
    return this.push(rec, rec.message, rec.level ?? 'info');
  }

  private push(ctx: ShipperContext, message: string, level: LogLevel): boolean {
    if (this.closed) return false;
    let text = this.mask(String(message));
    // A batch must fit the intake's body limit (16 MiB); the intake keeps 64 KiB of each line anyway.
    if (text.length > MAX_MESSAGE) text = `${text.slice(0, MAX_MESSAGE)} [truncated by the agent]`;
    this.queue.push({ seq: ++this.seq, time: this.now(), level, message: text, ctx });
    this.stats.written++;
    if (this.queue.length - this.head > this.o.maxBufferLines) this.dropOldest();
    this.stats.queued = this.queue.length - this.head;
    this.kick();
    return this.stats.queued < this.o.highWaterLines;
  }

  /** A writer for one context (e.g. `{ run, job, step, tool, service: 'tool' }`). */
  writer(ctx: ShipperContext): LogWriter {
    return {
      write: (message, level = 'info') => this.push(ctx, message, level),
      drained: () => this.drained(),
      flush: (t) => this.flush(t),
    };
  }

  /** Resolves when the queue is below half the high-water mark. */
  drained(): Promise<void> {
    if (this.closed || this.queue.length - this.head < this.o.highWaterLines / 2) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /**
   * Resolves when everything written so far is stored by the intake (or dropped because the
   * buffer was full). With `timeoutMs`, rejects after that long.
   */
  flush(timeoutMs?: number): Promise<void> {
    const target = this.seq;
    if (this.settledThrough() >= target) return Promise.resolve();
    const p = new Promise<void>((resolve) => this.flushWaiters.push({ target, resolve }));
    this.kick(true);
    if (timeoutMs === undefined) return p;
    let timer: NodeJS.Timeout;
    return Promise.race([
      p.finally(() => clearTimeout(timer)),
      new Promise<void>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`log flush timed out after ${timeoutMs} ms (${this.queue.length - this.head} lines queued; intake ${this.url ?? 'unknown'})`)), timeoutMs);
      }),
    ]);
  }

  /**
   * Flushes (up to `timeoutMs`, default 5 s; not at all when no intake address is known yet),
   * then stops. Lines not stored by then are lost.
   */
  async close(timeoutMs = 5_000): Promise<void> {
    if (this.stopped) return;
    this.started = true;
    // Without an intake address (no welcome yet) nothing can be stored: do not wait.
    if (this.url) {
      try {
        await this.flush(timeoutMs);
      } catch (err) {
        this.opts.log?.warn({ kkShipper: true, err: String(err) }, 'log shipper closed before every line was stored');
      }
    }
    this.closed = true;
    this.stopped = true;
    clearTimeout(this.lingerTimer);
    this.wakeRetry?.();
    this.agentHttp.destroy();
    for (const w of this.flushWaiters.splice(0)) w.resolve();
    for (const d of this.drainWaiters.splice(0)) d();
  }

  /** A pino destination shipping the agent's own records (see `shipPinoLogs`). */
  pinoDestination(): { write(chunk: string): void } {
    return {
      write: (chunk: string) => {
        let obj: Record<string, unknown>;
        try {
          obj = JSON.parse(chunk);
        } catch {
          return;
        }
        if (obj.kkShipper) return; // the shipper's own trouble would loop
        let message = typeof obj.msg === 'string' ? obj.msg : '';
        const err = obj.err as { message?: string; stack?: string } | undefined;
        if (err && typeof err === 'object') message = message ? `${message}: ${err.stack ?? err.message}` : String(err.stack ?? err.message);
        const num = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : undefined);
        const lvl = typeof obj.level === 'number' ? obj.level : 30;
        this.write({
          message,
          level: lvl >= 50 ? 'error' : lvl >= 40 ? 'warn' : lvl >= 30 ? 'info' : 'debug',
          service: 'agent',
          run: num(obj.run) ?? num(obj.runId),
          job: num(obj.job) ?? num(obj.jobId),
          step: num(obj.step),
          tool: typeof obj.tool === 'string' ? obj.tool : undefined,
        });
      },
    };
  }

  // ---- internals ----------------------------------------------------------------

  private settledThrough(): number {
    return this.queue.length > this.head ? this.queue[this.head].seq - 1 : this.seq;
  }

  private dropOldest(): void {
    // Keep the batch being sent (at the head); drop a chunk after it to amortize the splice.
    const keep = this.head + this.inFlightCount;
    const n = Math.max(1, Math.floor(this.o.maxBufferLines / 100));
    const removed = this.queue.splice(keep, Math.min(n, this.queue.length - keep - 1));
    this.stats.dropped += removed.length;
    if (removed.length) {
      const { agent, run, job, step, tool } = removed[removed.length - 1].ctx;
      this.droppedCtx = { agent, run, job, step, tool };
    }
    this.droppedSinceMarker += removed.length;
    if (this.droppedSinceMarker === removed.length) {
      this.opts.log?.warn({ kkShipper: true, dropped: this.stats.dropped, intake: this.url?.toString() }, 'log buffer full: dropping the oldest log lines');
    }
  }

  private inFlightCount = 0;

  private kick(now = false): void {
    if (!this.started || this.stopped || !this.url) return;
    if (now && this.lingerTimer) {
      clearTimeout(this.lingerTimer);
      this.lingerTimer = undefined;
      if (!this.sending) void this.pump();
      return;
    }
    if (this.sending || this.lingerTimer) return;
    const pending = this.queue.length - this.head;
    if (pending === 0) return;
    if (now || pending >= this.o.maxBatchLines || this.flushWaiters.length) {
      void this.pump();
      return;
    }
    this.lingerTimer = setTimeout(() => {
      this.lingerTimer = undefined;
      void this.pump();
    }, this.o.lingerMs);
  }

  private buildBatch(from: number): { body: string; count: number } {
    const parts: string[] = [];
    let bytes = 0;
    let i = from;
    for (; i < this.queue.length && parts.length < this.o.maxBatchLines; i++) {
      const e = this.queue[i];
      const line = `{"time":"${e.time}","level":"${e.level}","message":${JSON.stringify(e.message)},${this.fragOf(e.ctx)}}`;
      if (parts.length && bytes + line.length + 1 > this.o.maxBatchBytes) break;
      parts.push(line);
      bytes += line.length + 1;
    }
    return { body: parts.join('\n') + '\n', count: parts.length };
  }

  /**
   * Sends batches, up to `maxInFlight` at once (the intake stores a shipper's batches in the
   * order of their numbers), and retries a failed one, with the same id and lines, until stored.
   */
  private async pump(): Promise<void> {
    if (this.sending) return;
    this.sending = true;
    const inflight: { id: string; count: number; body: string; result: Promise<PostResult>; resent?: boolean }[] = [];
    try {
      while (!this.stopped && this.url) {
        // Fill the pipeline: full batches, or whatever there is when someone waits or nothing is in flight.
        while (inflight.length < this.o.maxInFlight && !this.failing) {
          const unsent = this.queue.length - this.head - this.inFlightCount;
          if (unsent <= 0) break;
          if (inflight.length && unsent < this.o.maxBatchLines && !this.flushWaiters.length) break;
          if (this.droppedSinceMarker) this.addDropMarker();
          const { body, count } = this.buildBatch(this.head + this.inFlightCount);
          const id = `${this.id}-${++this.batchNo}`;
          this.inFlightCount += count;
          inflight.push({ id, count, body, result: this.post(body, id) });
        }
        if (!inflight.length) break;
        const batch = inflight[0];
        let res = await batch.result;
        // Retry this very batch (same id, same lines) until it is stored.
        while (!res.ok) {
          if (this.stopped) return;
          this.stats.retries++;
          if (!this.failing) {
            this.failing = true;
            this.opts.log?.warn({ kkShipper: true, intake: this.url?.toString(), reason: res.reason }, 'log intake unavailable; retrying');
          }
          await this.sleep(res.retryAfterMs ?? this.backoff.next());
          if (this.stopped) return;
          res = await this.post(batch.body, batch.id, true);
        }
        inflight.shift();
        // Later batches sent before the failure are re-sent in order (stored once: same ids).
        if (this.failing) {
          for (const b of inflight) {
            if (b.resent) continue;
            b.resent = true;
            b.result = b.result.then((r) => (r.ok ? r : this.post(b.body, b.id, true)));
          }
        }
        if (this.failing && !inflight.length) {
          this.failing = false;
          this.opts.log?.info({ kkShipper: true, intake: this.url?.toString() }, 'log intake reachable again');
        }
        this.backoff.reset();
        this.head += batch.count;
        this.inFlightCount -= batch.count;
        this.stats.acked += batch.count;
        this.stats.batches++;
        if (this.head > 10_000 && this.head > this.queue.length / 2) {
          this.queue = this.queue.slice(this.head);
          this.head = 0;
        }
        this.stats.queued = this.queue.length - this.head;
        this.settle();
        // Let a small tail gather unless someone waits for it.
        if (!inflight.length && this.queue.length - this.head < this.o.maxBatchLines && !this.flushWaiters.length) break;
      }
    } finally {
      this.sending = false;
      this.inFlightCount = 0;
    }
    this.kick();
  }

  private addDropMarker(): void {
    const n = this.droppedSinceMarker;
    this.droppedSinceMarker = 0;
    this.queue.push({
      seq: ++this.seq,
      time: this.now(),
      level: 'warn',
      ctx: { ...this.droppedCtx, service: 'agent' },
      message: `[kraken] ${n} log line(s) were dropped: the log intake was unreachable and the agent's log buffer was full`,
    });
  }

  private settle(): void {
    const through = this.settledThrough();
    if (this.flushWaiters.length) {
      const still: typeof this.flushWaiters = [];
      for (const w of this.flushWaiters) (w.target <= through ? w.resolve() : still.push(w));
      this.flushWaiters = still;
    }
    if (this.drainWaiters.length && this.queue.length - this.head < this.o.highWaterLines / 2) {
      for (const d of this.drainWaiters.splice(0)) d();
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wakeRetry = () => {
        this.wakeRetry = undefined;
        done();
      };
    });
  }

  private post(body: string, batchId: string, retry = false): Promise<PostResult> {
    const url = this.url!;
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise((resolve) => {
      const req = mod.request(
        url,
        {
          method: 'POST',
          agent: url.protocol === 'https:' ? undefined : this.agentHttp,
          headers: { 'content-type': 'application/x-ndjson', 'content-length': Buffer.byteLength(body), [LOG_BATCH_HEADER]: batchId, ...(retry ? { [LOG_RETRY_HEADER]: '1' } : {}) },
          timeout: this.o.requestTimeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (err) => resolve({ ok: false, reason: err.message }));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) return resolve({ ok: true });
            const ra = Number(res.headers['retry-after']);
            resolve({
              ok: false,
              retryAfterMs: status === 503 && Number.isFinite(ra) && ra > 0 ? Math.min(ra * 1000, 30_000) : undefined,
              reason: `HTTP ${status}: ${Buffer.concat(chunks).toString('utf8').slice(0, 200)}`,
            });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (err) => resolve({ ok: false, reason: err.message }));
      req.end(body);
    });
  }
}

/**
 * Ships a pino logger's records (and its children's) through `shipper` too, keeping its output.
 * Uses pino's public `symbols.streamSym`; records of the shipper itself are not shipped.
 */
export function shipPinoLogs(log: Logger, shipper: LogShipper): void {
  const sym = pino.symbols.streamSym as unknown as keyof Logger;
  const original = log[sym] as unknown as { write(s: string): void; flushSync?(): void; flush?(cb?: () => void): void; end?(): void };
  const dest = shipper.pinoDestination();
  const tee = {
    write(s: string) {
      original.write(s);
      dest.write(s);
    },
    flushSync: original.flushSync ? () => original.flushSync!() : undefined,
    flush: original.flush ? (cb?: () => void) => original.flush!(cb) : undefined,
    end: original.end ? () => original.end!() : undefined,
  };
  (log as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] = tee;
}
