import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { onCleanup } from './cleanup';
import { CpuMeter, readMem } from './proc';

/**
 * Simulated agents: protocol-level WebSocket clients (hello with a random identity secret and
 * host info, the enrollment token), spread over worker processes so that the client side can be
 * measured apart from the server. See agent-sim-worker.ts for the worker's side.
 */

export interface ConnectRequest {
  cmd: 'connect';
  /** ws://127.0.0.1:port/api/agent/ws */
  wsUrl: string;
  token?: string;
  count: number;
  /** Index of this worker's first agent (for host names). */
  offset: number;
  /** Handshakes (socket open → welcome) in flight at once in this worker. */
  concurrency: number;
  /** Attempts per agent when the connection fails before the welcome. */
  attempts: number;
  timeoutMs: number;
  /** Complete every assigned job at once (job-started, step-started/-finished ok, job-finished ok). */
  completeJobs?: boolean;
}

/** The `job-assign`s a worker's agents received: [job id, epoch ms of arrival], and job-cancels. */
export interface JobsReport {
  ev: 'jobs';
  received: [number, number][];
  cancels: number;
}

export interface ConnectResult {
  ev: 'connected';
  welcomed: number;
  authorized: number;
  failed: number;
  retries: number;
  /** Per agent: ms from opening the socket to the welcome (last attempt). */
  latenciesMs: number[];
  /** Epoch ms of the first and last welcome. */
  firstWelcomeAt: number;
  lastWelcomeAt: number;
  errors: string[];
}

export interface WorkerStatus {
  ev: 'status';
  open: number;
  closedAfterWelcome: number;
  closeCodes: Record<string, number>;
  pings: number;
  /** Messages received after the welcome, by type. */
  messages: Record<string, number>;
}

type FromWorker = ConnectResult | WorkerStatus | JobsReport | { ev: 'progress'; welcomed: number; failed: number } | { ev: 'closed' };

export class AgentSimWorker {
  readonly child: ChildProcess;
  welcomed = 0;
  failed = 0;
  private waiters = new Map<string, (m: FromWorker) => void>();
  private exited: Promise<void>;

  constructor() {
    this.child = fork(path.join(__dirname, 'agent-sim-worker.ts'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.exited = new Promise((r) => this.child.once('exit', () => r()));
    this.child.on('message', (m: FromWorker) => {
      if (m.ev === 'progress') {
        this.welcomed = m.welcomed;
        this.failed = m.failed;
        return;
      }
      const w = this.waiters.get(m.ev);
      this.waiters.delete(m.ev);
      w?.(m);
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  private request<T extends FromWorker>(msg: object, reply: T['ev'], timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`agent worker ${this.pid}: no '${reply}' within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.set(reply, (m) => {
        clearTimeout(t);
        resolve(m as T);
      });
      void this.exited.then(() => {
        clearTimeout(t);
        reject(new Error(`agent worker ${this.pid} exited`));
      });
      this.child.send(msg);
    });
  }

  connect(req: Omit<ConnectRequest, 'cmd'>): Promise<ConnectResult> {
    return this.request<ConnectResult>({ cmd: 'connect', ...req }, 'connected', req.timeoutMs + 5000);
  }

  status(): Promise<WorkerStatus> {
    return this.request<WorkerStatus>({ cmd: 'status' }, 'status', 10_000);
  }

  jobs(): Promise<JobsReport> {
    return this.request<JobsReport>({ cmd: 'jobs' }, 'jobs', 10_000);
  }

  /** Closes every client and ends the worker (SIGKILL if it does not end in time). */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    try {
      await this.request({ cmd: 'close' }, 'closed', 10_000);
    } catch {
      /* killed below */
    }
    const t = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    this.child.disconnect?.();
    await this.exited;
    clearTimeout(t);
  }
}

export interface FleetConnectResult {
  /** ms from the start of the connect phase to the last welcome. */
  allWelcomedMs: number;
  welcomed: number;
  authorized: number;
  failed: number;
  retries: number;
  latenciesMs: number[];
  errors: string[];
  /** Per worker: CPU % of one core during the connect phase, and RSS. */
  workers: { pid: number; agents: number; cpuPercent: number; rssKb: number }[];
}

/** A fleet of simulated agents over `workers` processes. */
export class AgentFleet {
  readonly workers: AgentSimWorker[];

  constructor(workerCount: number) {
    this.workers = Array.from({ length: Math.max(1, workerCount) }, () => new AgentSimWorker());
    onCleanup('close the simulated agents', () => this.close(), 20_000);
  }

  /** Connects `count` agents; resolves when every one got its welcome or failed for good. */
  async connect(o: { wsUrl: string; token?: string; count: number; concurrency: number; attempts?: number; timeoutMs: number; completeJobs?: boolean; onProgress?: (welcomed: number, failed: number) => void }): Promise<FleetConnectResult> {
    const n = this.workers.length;
    const meters = this.workers.map((w) => new CpuMeter(w.pid));
    const progress = o.onProgress
      ? setInterval(() => o.onProgress!(this.workers.reduce((a, w) => a + w.welcomed, 0), this.workers.reduce((a, w) => a + w.failed, 0)), 1000)
      : undefined;
    const start = Date.now();
    let offset = 0;
    try {
      const results = await Promise.all(
        this.workers.map((w, i) => {
          const count = Math.floor(o.count / n) + (i < o.count % n ? 1 : 0);
          const req = { wsUrl: o.wsUrl, token: o.token, count, offset, concurrency: Math.max(1, Math.ceil(o.concurrency / n)), attempts: o.attempts ?? 3, timeoutMs: o.timeoutMs, completeJobs: o.completeJobs };
          offset += count;
          return w.connect(req).then((r) => ({ r, count }));
        }),
      );
      const lastWelcome = Math.max(...results.map(({ r }) => r.lastWelcomeAt || 0));
      return {
        allWelcomedMs: lastWelcome ? lastWelcome - start : NaN,
        welcomed: results.reduce((a, { r }) => a + r.welcomed, 0),
        authorized: results.reduce((a, { r }) => a + r.authorized, 0),
        failed: results.reduce((a, { r }) => a + r.failed, 0),
        retries: results.reduce((a, { r }) => a + r.retries, 0),
        latenciesMs: results.flatMap(({ r }) => r.latenciesMs),
        errors: results.flatMap(({ r }) => r.errors).slice(0, 20),
        workers: this.workers.map((w, i) => ({ pid: w.pid, agents: results[i].count, cpuPercent: meters[i].read().percent, rssKb: readMem(w.pid).rssKb })),
      };
    } finally {
      clearInterval(progress);
    }
  }

  async status(): Promise<WorkerStatus> {
    const all = await Promise.all(this.workers.map((w) => w.status()));
    const sum = (pick: (s: WorkerStatus) => Record<string, number>) => {
      const out: Record<string, number> = {};
      for (const s of all) for (const [k, v] of Object.entries(pick(s))) out[k] = (out[k] ?? 0) + v;
      return out;
    };
    return {
      ev: 'status',
      open: all.reduce((a, s) => a + s.open, 0),
      closedAfterWelcome: all.reduce((a, s) => a + s.closedAfterWelcome, 0),
      closeCodes: sum((s) => s.closeCodes),
      pings: all.reduce((a, s) => a + s.pings, 0),
      messages: sum((s) => s.messages),
    };
  }

  /** Every job-assign received by the fleet so far ([job id, epoch ms]) and the job-cancels. */
  async jobs(): Promise<{ received: [number, number][]; cancels: number }> {
    const all = await Promise.all(this.workers.map((w) => w.jobs()));
    return { received: all.flatMap((r) => r.received), cancels: all.reduce((a, r) => a + r.cancels, 0) };
  }

  close(): Promise<void[]> {
    return Promise.all(this.workers.map((w) => w.close()));
  }
}
