import type { Logger } from 'pino';
import {
  type AgentToServerMessage,
  type AssignedJob,
  type FinishedJobReport,
  type JobCancelMessage,
  type Step,
} from '@kraken/protocol';
import type { Db, Prisma } from '../db/prisma';
import type { BusEvent, EventBus } from '../events/bus';
import type { AgentConnection, AgentGateway } from '../agents/gateway';
import { OFFLINE_AFTER_MS } from '../agents/agent-view';
import { ACTIVE_STATES, completeJobsTx, completeJobTx } from './job-completion';
import { fits, profileOf, type AgentProfile } from './agent-fit';
import { ReportBatcher, type BatchOutcome } from './report-batcher';
import { claimJobs, readQueuedJobs, type QueuedRow } from './job-queue';
import { levelForDbError } from '../lifecycle/shutdown';

type Tx = Prisma.TransactionClient;

export interface DispatcherOptions {
  db: Db;
  bus: EventBus;
  gateway: AgentGateway;
  log: Logger;
  /** An agent gone this long has lost its jobs: they are re-queued (or completed as agent-lost). */
  agentLostMs: number;
  /** How often the watchdog looks for lost agents, timed-out jobs and jobs of deleted groups. */
  watchdogMs: number;
  /** The server completes a job as `timeout` this long after the agent should have. */
  timeoutGraceS: number;
}

/** How long a job lost to another server's claim is left out of this server's reads. */
const LOST_EXCLUSION_MS = 500;

/** A connected agent as the scheduler sees it; only the server holding its socket assigns it work. */
interface Worker {
  conn: AgentConnection;
  /** The agent's groups, loaded when it connects and whenever memberships change. */
  groups: number[];
  profile: AgentProfile;
  /** Groups and profile as one key: agents of one kind fit the same jobs. */
  kind: string;
  /** Jobs the agent is busy with, until it reports them finished. */
  busy: Set<number>;
  stopping: boolean;
  lastAssignedAt: number;
}

/** A job an agent holds (onReady reconciles it with what the agent says it runs), or one being sent. */
interface ActiveJobRow {
  id: number;
  runId: number;
  name: string;
  executor: string;
  system: string;
  timeoutS: number;
  secrets: unknown;
  stepsSpec: unknown;
  attempt: number;
  deadline: Date | null;
  state: string;
}

/**
 * Gives queued jobs to fitting agents the moment either appears (no polling interval), follows
 * the agents' reports, and re-queues the jobs of lost agents. Several server processes may share
 * one database: job rows are claimed with `FOR UPDATE SKIP LOCKED`, so a job is assigned once.
 */
export class Dispatcher {
  private readonly workers = new Map<number, Worker>();
  private passRunning = false;
  private passAgain = false;
  /** Jobs this server's passes are claiming right now (see pass). */
  private readonly claiming = new Set<number>();
  /** Jobs a claim just lost to another server, left out of reads until then (epoch ms). */
  private readonly lostUntil = new Map<number, number>();
  private watchdogTimer?: NodeJS.Timeout;
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly reports: ReportBatcher;

  constructor(private readonly o: DispatcherOptions) {
    this.reports = new ReportBatcher(o.db, o.log, (outcome) => this.afterReports(outcome));
  }

  start(): void {
    const { gateway, bus } = this.o;
    gateway.on('ready', (conn) => this.track(this.onReady(conn)));
    gateway.on('gone', (agentId) => this.onGone(agentId));
    // The gateway answers a report that failed with an error message: hand it the failure.
    gateway.jobMessageHandler = (conn, msg) => this.awaitOnClose(this.onMessage(conn, msg));
    bus.on('event', (ev) => this.onBusEvent(ev));
    this.watchdogTimer = setInterval(() => this.track(this.watchdog()), this.o.watchdogMs);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.watchdogTimer);
    this.timers.forEach(clearTimeout);
    while (this.inflight.size) await Promise.allSettled([...this.inflight]);
  }

  private track(p: Promise<unknown>): Promise<void> {
    const wrapped = p.then(
      () => undefined,
      (err) => this.o.log[levelForDbError()]({ err }, 'dispatcher task failed'),
    );
    this.inflight.add(wrapped);
    void wrapped.finally(() => this.inflight.delete(wrapped));
    return wrapped;
  }

  /** Lets close() wait for `p`, and gives `p` back to the caller to handle its failure. */
  private awaitOnClose<T>(p: Promise<T>): Promise<T> {
    const settled = p.then(
      () => undefined,
      () => undefined,
    );
    this.inflight.add(settled);
    void settled.finally(() => this.inflight.delete(settled));
    return p;
  }

  private later(ms: number, fn: () => Promise<unknown>): void {
    if (this.closed) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      void this.track(fn());
    }, ms);
    this.timers.add(t);
  }

  private onBusEvent(ev: BusEvent): void {
    if (this.closed) return;
    if (ev.kind === 'schedule') this.requestPass();
    else if (ev.kind === 'groups-changed') void this.track(this.reloadGroups([...this.workers.values()]).then(() => this.requestPass()));
    else if (ev.kind === 'agent-status') this.requestPass(); // the gateway has refreshed authorized/disabled
    else if (ev.kind === 'job-cancel') {
      const reason = (['cancelled', 'timeout', 'moved'].includes(ev.reason) ? ev.reason : 'unknown') as JobCancelMessage['reason'];
      this.o.gateway.send(ev.agentId, { type: 'job-cancel', jobId: ev.jobId, reason });
    }
  }

  // ---- agents come and go ---------------------------------------------------

  /** An authorized agent connected (or was just authorized): reconcile what it runs with what the database says. */
  private async onReady(conn: AgentConnection): Promise<void> {
    const existing = this.workers.get(conn.agentId);
    if (existing?.conn === conn) return this.requestPass();
    const worker: Worker = { conn, groups: [], profile: profileOf(conn.hello.hostInfo), kind: '', busy: new Set(), stopping: false, lastAssignedAt: 0 };
    this.workers.set(conn.agentId, worker);
    await this.reloadGroups([worker]);
    const running = new Set(conn.hello.runningJobs);
    let mine = await this.o.db.$queryRawUnsafe<ActiveJobRow[]>(
      `SELECT id, run_id AS "runId", name, executor, system, timeout_s AS "timeoutS", secrets, steps_spec AS "stepsSpec", attempt, deadline, state
       FROM jobs WHERE agent_id = $1 AND state = ANY($2::text[])`,
      conn.agentId,
      ACTIVE_STATES,
    );
    // Final reports that may have been lost with the previous connection.
    for (const report of conn.hello.finishedJobs) {
      if (running.has(report.jobId) || !mine.some((j) => j.id === report.jobId)) continue;
      await this.applyFinishedReport(conn.agentId, report);
      mine = mine.filter((j) => j.id !== report.jobId);
    }
    for (const id of running) {
      worker.busy.add(id); // until the agent says it finished it
      const job = mine.find((j) => j.id === id);
      if (!job) this.o.gateway.send(conn.agentId, { type: 'job-cancel', jobId: id, reason: 'moved' });
    }
    let requeued = false;
    for (const job of mine) {
      if (running.has(job.id)) continue;
      if (job.state === 'assigned') {
        // The assignment may never have arrived: send it again.
        worker.busy.add(job.id);
        this.sendAssignment(conn.agentId, this.assignedJobOf(job, job.deadline));
      } else {
        await this.o.db.$transaction((tx) => this.requeueOrLose(tx, job.id, `agent '${conn.hello.hostInfo.hostname}' restarted and no longer runs the job`));
        requeued = true;
      }
    }
    // A re-queued job may fit agents of other servers too.
    if (requeued) await this.o.bus.publish({ kind: 'schedule' });
    else this.requestPass();
  }

  private async applyFinishedReport(agentId: number, report: FinishedJobReport): Promise<void> {
    const { jobId } = report;
    await Promise.all([
      ...report.steps.map(({ index, result }) => this.reports.submit(agentId, { type: 'step-finished', jobId, index, result })),
      this.reports.submit(agentId, { type: 'job-finished', jobId, status: report.status, message: report.message }),
    ]);
    this.o.log.info({ agentId, jobId }, 'applied a job result the agent re-sent after reconnecting');
  }

  private async reloadGroups(workers: Worker[]): Promise<void> {
    if (!workers.length) return;
    const rows = await this.o.db.$queryRawUnsafe<{ agent_id: number; group_id: number }[]>(
      'SELECT agent_id, group_id FROM agent_assignments WHERE agent_id = ANY($1::int[]) ORDER BY group_id',
      workers.map((w) => w.conn.agentId),
    );
    const byAgent = new Map<number, number[]>();
    for (const r of rows) {
      const groups = byAgent.get(r.agent_id);
      if (groups) groups.push(r.group_id);
      else byAgent.set(r.agent_id, [r.group_id]);
    }
    for (const w of workers) {
      w.groups = byAgent.get(w.conn.agentId) ?? [];
      w.kind = `${w.groups.join(',')}|${w.profile.system}|${w.profile.docker}|${w.profile.lxd}`;
    }
  }

  private onGone(agentId: number): void {
    this.workers.delete(agentId);
    // If it does not come back in time, the watchdog hands its jobs to other agents.
    this.later(this.o.agentLostMs + 200, () => this.checkLostAgents());
  }

  // ---- scheduling -------------------------------------------------------------

  /** Runs a scheduling pass now, or right after the one in progress. */
  requestPass(): void {
    if (this.closed) return;
    if (this.passRunning) {
      this.passAgain = true;
      return;
    }
    this.passRunning = true;
    void this.track(
      (async () => {
        try {
          do {
            this.passAgain = false;
            try {
              await this.pass();
            } catch (err) {
              // E.g. the database was briefly unreachable: try again soon rather than leave agents idle.
              this.o.log[levelForDbError()]({ err }, 'scheduling pass failed; retrying in 1 s');
              this.later(1000, async () => this.requestPass());
            }
          } while (this.passAgain && !this.closed);
        } finally {
          this.passRunning = false;
        }
      })(),
    );
  }

  /**
   * One scheduling pass, in two statements and no transaction held open while deciding:
   * 1. read the oldest queued jobs that some free agent could take (no locks);
   * 2. pick an agent for each (FIFO, least recently used agent first) and claim them (see claim).
   * Passes are pipelined: the next pass reads the queue while this one's claim is being written.
   * The agents picked are reserved (busy) and the jobs excluded from the next read until then.
   */
  private async pass(): Promise<void> {
    const candidates = [...this.workers.values()].filter(
      (w) =>
        w.conn.authorized &&
        !w.conn.disabled &&
        !w.stopping &&
        w.groups.length &&
        w.busy.size < w.conn.hello.slots &&
        w.conn.socket.readyState === w.conn.socket.OPEN,
    );
    if (!candidates.length) return;

    // Agents of one kind fit the same jobs: one SQL condition per kind.
    const kinds = new Map<string, Worker>();
    for (const w of candidates) kinds.set(w.kind, w);
    const now = Date.now();
    for (const [id, until] of this.lostUntil) if (until <= now) this.lostUntil.delete(id);
    const freeSlots = candidates.reduce((n, w) => n + w.conn.hello.slots - w.busy.size, 0);
    // Read past the free slots a little: the oldest jobs may all wait for one busy kind of agent.
    const limit = Math.min(freeSlots + 100, 2000);
    const jobs = await readQueuedJobs(this.o.db, [...kinds.values()], [...this.claiming, ...this.lostUntil.keys()], limit);
    if (!jobs.length) return;

    const picked: { worker: Worker; job: QueuedRow }[] = [];
    for (const job of jobs) {
      let best: Worker | undefined;
      for (const w of candidates) {
        if (w.busy.size >= w.conn.hello.slots) continue;
        if (!w.groups.includes(job.group_id) || !fits(job, w.profile)) continue;
        if (!best || w.lastAssignedAt < best.lastAssignedAt) best = w;
      }
      if (!best) continue;
      best.busy.add(job.id); // reserved until the claim says
      best.lastAssignedAt = Date.now() + picked.length / 1000; // least recently used first
      this.claiming.add(job.id);
      picked.push({ worker: best, job });
      if (picked.length === freeSlots) break;
    }
    if (!picked.length) return;
    void this.track(this.claim(picked));
    // Slots left and the read was cut short: more jobs may fit.
    if (picked.length < freeSlots && jobs.length === limit) this.passAgain = true;
  }

  /**
   * Claims the picked jobs (claimJobs) and sends the ones won. A job another server claimed in
   * between is lost: its agent is freed and the next pass reads past it.
   */
  private async claim(picked: { worker: Worker; job: QueuedRow }[]): Promise<void> {
    let won: Set<number>;
    try {
      won = await claimJobs(
        this.o.db,
        picked.map((p) => ({ jobId: p.job.id, agentId: p.worker.conn.agentId })),
        this.o.timeoutGraceS,
      );
    } catch (err) {
      for (const { worker, job } of picked) worker.busy.delete(job.id);
      this.o.log[levelForDbError()]({ err }, 'claiming jobs failed; retrying in 1 s');
      this.later(1000, async () => this.requestPass());
      return;
    } finally {
      for (const { job } of picked) this.claiming.delete(job.id);
    }
    for (const { worker, job } of picked) {
      if (!won.has(job.id)) {
        worker.busy.delete(job.id);
        continue;
      }
      this.sendAssignment(worker.conn.agentId, this.assignedJobOf({ id: job.id, runId: job.run_id, name: job.name, executor: job.executor, system: job.system, timeoutS: job.timeout_s, secrets: job.secrets, stepsSpec: job.steps_spec, attempt: job.attempt + 1 }, null));
    }
    if (won.size) this.o.log.debug({ assigned: won.size }, 'jobs assigned');
    if (won.size < picked.length) {
      // Most likely another server claimed them: look again at once, past them. Should one still
      // be queued (its agent was just disabled, say), it is read again after LOST_EXCLUSION_MS.
      const until = Date.now() + LOST_EXCLUSION_MS;
      for (const { job } of picked) if (!won.has(job.id)) this.lostUntil.set(job.id, until);
      this.requestPass();
      this.later(LOST_EXCLUSION_MS + 10, async () => this.requestPass());
    }
  }

  private assignedJobOf(
    job: Omit<ActiveJobRow, 'deadline' | 'state'>,
    deadline: Date | null,
  ): AssignedJob {
    const left = deadline ? Math.floor((deadline.getTime() - Date.now()) / 1000) - this.o.timeoutGraceS : job.timeoutS;
    return {
      id: job.id,
      runId: job.runId,
      name: job.name,
      executor: job.executor as AssignedJob['executor'],
      system: job.system,
      timeout: Math.max(1, Math.min(job.timeoutS, left)),
      attempt: Math.max(1, job.attempt),
      secrets: (job.secrets as string[]) ?? [],
      steps: (job.stepsSpec as Step[]).map((s, index) => ({ ...s, index })),
    };
  }

  private sendAssignment(agentId: number, job: AssignedJob): void {
    if (!this.o.gateway.send(agentId, { type: 'job-assign', job })) {
      this.o.log.warn({ agentId, jobId: job.id }, 'agent went away before its job could be sent; it will be re-sent or re-queued');
    }
  }

  // ---- what agents report -------------------------------------------------------

  private async onMessage(conn: AgentConnection, msg: AgentToServerMessage): Promise<void> {
    const worker = this.workers.get(conn.agentId);
    switch (msg.type) {
      case 'job-started':
      case 'step-started':
      case 'step-finished':
        return this.reports.submit(conn.agentId, msg);
      case 'job-finished':
        worker?.busy.delete(msg.jobId);
        return this.reports.submit(conn.agentId, msg);
      case 'stopping':
        if (worker) worker.stopping = true;
        this.o.log.info({ agentId: conn.agentId }, 'agent is stopping: no new jobs for it');
        return;
      case 'hello':
        return;
    }
  }

  /** After a batch of reports is stored: finished jobs free their agents; strays are refused. */
  private async afterReports({ unmatched, completed }: BatchOutcome): Promise<void> {
    // Only this server's agents were freed: no other server needs to look.
    if (completed.length) this.requestPass();
    const seen = new Set<string>();
    for (const { agentId, msg } of unmatched) {
      if (msg.type === 'job-finished' || seen.has(`${agentId}/${msg.jobId}`)) continue;
      seen.add(`${agentId}/${msg.jobId}`);
      await this.refuseIfNotOwned(agentId, msg.jobId);
    }
  }

  /** An agent spoke about a job that is not (or no longer) its own: tell it to drop the job. */
  private async refuseIfNotOwned(agentId: number, jobId: number): Promise<void> {
    const job = await this.o.db.job.findUnique({ where: { id: jobId }, select: { agentId: true, state: true, completionStatus: true } });
    if (job && job.agentId === agentId && ACTIVE_STATES.includes(job.state)) return;
    const reason: JobCancelMessage['reason'] =
      job?.completionStatus === 'cancelled' ? 'cancelled' : job?.completionStatus === 'timeout' ? 'timeout' : job ? 'moved' : 'unknown';
    this.o.gateway.send(agentId, { type: 'job-cancel', jobId, reason });
  }

  // ---- the watchdog -------------------------------------------------------------------

  private async watchdog(): Promise<void> {
    if (this.closed) return;
    await this.checkLostAgents();
    await this.checkTimeouts();
    await this.checkDeletedGroups();
  }

  /** Jobs whose agent has been gone longer than agentLostMs go to another agent, or complete as agent-lost. */
  private async checkLostAgents(): Promise<void> {
    let changed = 0;
    await this.o.db.$transaction(async (tx) => {
      const lost = await tx.$queryRawUnsafe<{ id: number; name: string }[]>(
        `SELECT j.id, a.name FROM jobs j JOIN agents a ON a.id = j.agent_id
         WHERE j.state IN ('assigned', 'running')
           AND (NOT a.connected OR a.last_seen < now() - make_interval(secs => $1))
           AND a.last_seen < now() - make_interval(secs => $2)
         FOR UPDATE OF j SKIP LOCKED`,
        OFFLINE_AFTER_MS / 1000,
        this.o.agentLostMs / 1000,
      );
      for (const j of lost) {
        await this.requeueOrLose(tx, j.id, `agent '${j.name}' was lost`);
        changed++;
      }
    });
    if (changed) await this.o.bus.publish({ kind: 'schedule' });
  }

  private async requeueOrLose(tx: Tx, jobId: number, why: string): Promise<void> {
    const job = await tx.job.findUniqueOrThrow({ where: { id: jobId } });
    if (!ACTIVE_STATES.includes(job.state)) return;
    if (job.attempt <= job.retries) {
      await tx.job.update({
        where: { id: jobId },
        data: { state: 'queued', agentId: null, assignedAt: null, startedAt: null, deadline: null, note: `${why}; re-queued (attempt ${job.attempt + 1} of ${job.retries + 1})` },
      });
      await tx.jobStep.updateMany({ where: { jobId }, data: { status: 'not-started', exitCode: null, durationMs: null, startedAt: null, outputTail: '', message: null } });
      await tx.jobAssignment.updateMany({ where: { jobId, endedAt: null }, data: { endedAt: new Date(), outcome: 'agent-lost' } });
      this.o.log.warn({ jobId, attempt: job.attempt }, `${why}; job re-queued`);
    } else {
      await completeJobTx(tx, jobId, 'agent-lost', `${why}; no retries left (${job.retries})`);
      this.o.log.warn({ jobId }, `${why}; job completed as agent-lost`);
    }
  }

  /** The agent enforces the job timeout; this catches agents that could not (hung, partitioned). */
  private async checkTimeouts(): Promise<void> {
    const expired = await this.o.db.$transaction(async (tx) => {
      const rows = await tx.$queryRawUnsafe<{ id: number; agent_id: number | null; timeout_s: number }[]>(
        `SELECT id, agent_id, timeout_s FROM jobs WHERE state IN ('assigned', 'running') AND deadline < now() FOR UPDATE SKIP LOCKED`,
      );
      const done = new Set(await completeJobsTx(tx, rows.map((r) => ({ jobId: r.id, status: 'timeout' as const, note: `job timed out after ${r.timeout_s} s (server watchdog)` }))));
      return rows.filter((r) => done.has(r.id));
    });
    for (const r of expired) if (r.agent_id) await this.o.bus.publish({ kind: 'job-cancel', agentId: r.agent_id, jobId: r.id, reason: 'timeout' });
  }

  private async checkDeletedGroups(): Promise<void> {
    await this.o.db.$transaction(async (tx) => {
      const rows = await tx.$queryRawUnsafe<{ id: number; group_name: string }[]>(
        `SELECT id, group_name FROM jobs WHERE state = 'queued' AND group_id IS NULL FOR UPDATE SKIP LOCKED`,
      );
      await completeJobsTx(tx, rows.map((r) => ({ jobId: r.id, status: 'missing-group' as const, note: `group '${r.group_name}' was deleted` })));
    });
  }
}
