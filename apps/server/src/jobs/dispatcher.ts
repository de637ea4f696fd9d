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
import { ACTIVE_STATES, completeJob, completeJobTx } from './job-completion';
import { fits, profileOf, type AgentProfile } from './agent-fit';

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

/** A connected agent as the scheduler sees it; only the server holding its socket assigns it work. */
interface Worker {
  conn: AgentConnection;
  /** The agent's groups, loaded when it connects and whenever memberships change. */
  groups: number[];
  profile: AgentProfile;
  /** Jobs the agent is busy with, until it reports them finished. */
  busy: Set<number>;
  stopping: boolean;
  lastAssignedAt: number;
}

interface QueuedRow {
  id: number;
  run_id: number;
  name: string;
  group_id: number;
  executor: string;
  system: string;
  timeout_s: number;
  attempt: number;
  secrets: unknown;
  steps_spec: unknown;
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
  private watchdogTimer?: NodeJS.Timeout;
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;
  private readonly inflight = new Set<Promise<unknown>>();
  /** Per connection, the end of its chain of reports being handled (see inOrder). */
  private readonly reportChains = new WeakMap<AgentConnection, Promise<void>>();

  constructor(private readonly o: DispatcherOptions) {}

  start(): void {
    const { gateway, bus } = this.o;
    gateway.on('ready', (conn) => this.track(this.onReady(conn)));
    gateway.on('gone', (agentId) => this.onGone(agentId));
    gateway.jobMessageHandler = (conn, msg) => this.track(this.inOrder(conn, msg));
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
      (err) => this.o.log.error({ err }, 'dispatcher task failed'),
    );
    this.inflight.add(wrapped);
    void wrapped.finally(() => this.inflight.delete(wrapped));
    return wrapped;
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
    const worker: Worker = { conn, groups: [], profile: profileOf(conn.hello.hostInfo), busy: new Set(), stopping: false, lastAssignedAt: 0 };
    this.workers.set(conn.agentId, worker);
    await this.reloadGroups([worker]);
    const running = new Set(conn.hello.runningJobs);
    let mine = await this.o.db.job.findMany({ where: { agentId: conn.agentId, state: { in: ACTIVE_STATES } } });
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
    for (const job of mine) {
      if (running.has(job.id)) continue;
      if (job.state === 'assigned') {
        // The assignment may never have arrived: send it again.
        worker.busy.add(job.id);
        this.sendAssignment(conn.agentId, this.assignedJobOf(job, job.deadline));
      } else {
        await this.o.db.$transaction((tx) => this.requeueOrLose(tx, job.id, `agent '${conn.hello.hostInfo.hostname}' restarted and no longer runs the job`));
      }
    }
    this.requestPass();
  }

  private async applyFinishedReport(agentId: number, report: FinishedJobReport): Promise<void> {
    await this.o.db.$transaction(async (tx) => {
      for (const { index, result: r } of report.steps) {
        await tx.jobStep.updateMany({
          where: { jobId: report.jobId, index },
          data: { status: r.status, exitCode: r.exitCode, durationMs: r.durationMs, outputTail: r.outputTail.replace(/\0/g, ''), message: r.message ?? null },
        });
      }
      await completeJobTx(tx, report.jobId, report.status, report.message ?? null);
    });
    this.o.log.info({ agentId, jobId: report.jobId }, 'applied a job result the agent re-sent after reconnecting');
  }

  private async reloadGroups(workers: Worker[]): Promise<void> {
    if (!workers.length) return;
    const rows = await this.o.db.agentAssignment.findMany({
      where: { agentId: { in: workers.map((w) => w.conn.agentId) } },
      select: { agentId: true, groupId: true },
    });
    for (const w of workers) w.groups = rows.filter((r) => r.agentId === w.conn.agentId).map((r) => r.groupId).sort((a, b) => a - b);
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
              const { more, contention } = await this.pass();
              if (contention) this.later(20, async () => this.requestPass());
              if (more) this.passAgain = true;
            } catch (err) {
              // E.g. the database was briefly unreachable: try again soon rather than leave agents idle.
              this.o.log.error({ err }, 'scheduling pass failed; retrying in 1 s');
              this.later(1000, async () => this.requestPass());
            }
          } while (this.passAgain && !this.closed);
        } finally {
          this.passRunning = false;
        }
      })(),
    );
  }

  private async pass(): Promise<{ more: boolean; contention: boolean }> {
    const free = [...this.workers.values()].filter(
      (w) => w.conn.authorized && !w.conn.disabled && !w.stopping && w.busy.size < w.conn.hello.slots && w.conn.socket.readyState === w.conn.socket.OPEN,
    );
    if (!free.length) return { more: false, contention: false };
    const candidates = free.filter((w) => w.groups.length).map((worker) => ({ worker, groups: worker.groups, profile: worker.profile }));
    if (!candidates.length) return { more: false, contention: false };
    // Most passes (an agent connecting, a job finishing) find nothing queued: one cheap query.
    const [{ queued }] = await this.o.db.$queryRawUnsafe<{ queued: boolean }[]>(`SELECT EXISTS (SELECT 1 FROM jobs WHERE state = 'queued') AS queued`);
    if (!queued) return { more: false, contention: false };

    // One SQL condition per distinct kind of agent: a job is only claimed if some free agent fits it.
    const kinds = new Map<string, { groups: number[]; profile: AgentProfile }>();
    for (const c of candidates) kinds.set(`${c.groups.join(',')}|${c.profile.system}|${c.profile.docker}|${c.profile.lxd}`, c);
    const params: unknown[] = [];
    const clauses = [...kinds.values()].map(({ groups, profile }) => {
      params.push(groups, profile.system);
      const g = params.length - 1;
      const s = params.length;
      const containers = `${profile.docker ? " OR executor = 'docker'" : ''}${profile.lxd ? " OR executor = 'lxd'" : ''}`;
      return `(group_id = ANY($${g}::int[]) AND ((executor = 'local' AND (system = 'any' OR system = $${s}))${containers}))`;
    });
    const freeSlots = candidates.reduce((n, c) => n + c.worker.conn.hello.slots - c.worker.busy.size, 0);
    params.push(freeSlots);
    const where = `state = 'queued' AND (${clauses.join(' OR ')})`;

    const assignments: { worker: Worker; job: QueuedRow }[] = [];
    const claimed = await this.o.db.$transaction(async (tx) => {
      const jobs = await tx.$queryRawUnsafe<QueuedRow[]>(
        `SELECT id, run_id, name, group_id, executor, system, timeout_s, attempt, secrets, steps_spec FROM jobs
         WHERE ${where} ORDER BY queued_at, id LIMIT $${params.length} FOR UPDATE SKIP LOCKED`,
        ...params,
      );
      // The in-memory flags may lag an administrator's change by a moment: check them in the transaction.
      const usable = new Set(
        (
          await tx.agent.findMany({
            where: { id: { in: candidates.map((c) => c.worker.conn.agentId) }, authorized: true, disabled: false, deletedAt: null },
            select: { id: true },
          })
        ).map((a) => a.id),
      );
      const load = new Map(candidates.map((c) => [c.worker, usable.has(c.worker.conn.agentId) ? c.worker.busy.size : Infinity]));
      for (const job of jobs) {
        let best: (typeof candidates)[number] | undefined;
        for (const c of candidates) {
          if ((load.get(c.worker) ?? 0) >= c.worker.conn.hello.slots) continue;
          if (!c.groups.includes(job.group_id) || !fits(job, c.profile)) continue;
          if (!best || c.worker.lastAssignedAt < best.worker.lastAssignedAt) best = c;
        }
        if (!best) continue;
        load.set(best.worker, (load.get(best.worker) ?? 0) + 1);
        best.worker.lastAssignedAt = Date.now() + assignments.length / 1000; // least recently used first
        assignments.push({ worker: best.worker, job });
      }
      if (assignments.length) {
        const jobIds = assignments.map((a) => a.job.id);
        const agentIds = assignments.map((a) => a.worker.conn.agentId);
        await tx.$executeRawUnsafe(
          `UPDATE jobs j SET state = 'assigned', agent_id = u.agent_id, assigned_at = now(), attempt = j.attempt + 1,
             deadline = now() + make_interval(secs => j.timeout_s + $3), note = NULL
           FROM unnest($1::int[], $2::int[]) AS u(job_id, agent_id) WHERE j.id = u.job_id`,
          jobIds,
          agentIds,
          this.o.timeoutGraceS,
        );
        await tx.$executeRawUnsafe(
          `INSERT INTO job_assignments (job_id, agent_id, attempt)
           SELECT u.job_id, u.agent_id, j.attempt FROM unnest($1::int[], $2::int[]) AS u(job_id, agent_id) JOIN jobs j ON j.id = u.job_id`,
          jobIds,
          agentIds,
        );
      }
      return jobs.length;
    });

    for (const { worker, job } of assignments) {
      worker.busy.add(job.id);
      this.sendAssignment(worker.conn.agentId, this.assignedJobOf({ id: job.id, runId: job.run_id, name: job.name, executor: job.executor, system: job.system, timeoutS: job.timeout_s, secrets: job.secrets, stepsSpec: job.steps_spec, attempt: job.attempt + 1 }, null));
    }
    if (assignments.length) this.o.log.debug({ assigned: assignments.length }, 'jobs assigned');

    let contention = false;
    if (claimed < freeSlots) {
      // Fewer rows than exist means another server holds some of them for a moment: look again soon.
      const [{ n }] = await this.o.db.$queryRawUnsafe<{ n: number }[]>(`SELECT count(*)::int AS n FROM jobs WHERE ${where}`, ...params.slice(0, -1));
      contention = n > 0 && assignments.length < freeSlots;
    }
    return { more: claimed === freeSlots && assignments.length > 0, contention };
  }

  private assignedJobOf(
    job: { id: number; runId: number; name: string; executor: string; system: string; timeoutS: number; secrets: unknown; stepsSpec: unknown; attempt: number },
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

  /**
   * Handles an agent's reports one after the other, in the order they came. An agent sends
   * job-started, step-started, step-finished and job-finished back to back for a quick job;
   * handled concurrently, their updates raced: a step-started applied after the step-finished
   * left the step `running` (then `error` when the job completed), and a step-finished applied
   * after the job completed was refused, so the step stayed `skipped`.
   */
  private inOrder(conn: AgentConnection, msg: AgentToServerMessage): Promise<void> {
    const handled = (this.reportChains.get(conn) ?? Promise.resolve()).then(() => this.onMessage(conn, msg));
    this.reportChains.set(conn, handled.catch(() => undefined));
    return handled;
  }

  private async onMessage(conn: AgentConnection, msg: AgentToServerMessage): Promise<void> {
    const agentId = conn.agentId;
    const worker = this.workers.get(agentId);
    switch (msg.type) {
      case 'job-started': {
        const count = await this.o.db.$executeRawUnsafe(
          `UPDATE jobs SET state = 'running', started_at = $3 WHERE id = $1 AND agent_id = $2 AND state = 'assigned'`,
          msg.jobId,
          agentId,
          new Date(),
        );
        if (!count) await this.refuseIfNotOwned(agentId, msg.jobId);
        return;
      }
      // Reports come several per job: each is one plain statement, as Prisma's updateMany (with a
      // relation filter even more) costs the server 2–3 times the CPU of a raw statement.
      case 'step-started': {
        const count = await this.o.db.$executeRawUnsafe(
          `UPDATE job_steps s SET status = 'running', started_at = $4 FROM jobs j
           WHERE s.job_id = $1 AND s."index" = $2 AND j.id = s.job_id AND j.agent_id = $3 AND j.state IN ('assigned', 'running')`,
          msg.jobId,
          msg.index,
          agentId,
          new Date(),
        );
        if (!count) await this.refuseIfNotOwned(agentId, msg.jobId);
        return;
      }
      case 'step-finished': {
        const r = msg.result;
        const count = await this.o.db.$executeRawUnsafe(
          `UPDATE job_steps s SET status = $4, exit_code = $5, duration_ms = $6, output_tail = $7, message = $8 FROM jobs j
           WHERE s.job_id = $1 AND s."index" = $2 AND j.id = s.job_id AND j.agent_id = $3 AND j.state IN ('assigned', 'running')`,
          msg.jobId,
          msg.index,
          agentId,
          r.status,
          r.exitCode,
          r.durationMs,
          r.outputTail.replace(/\0/g, ''),
          r.message ?? null,
        );
        if (!count) await this.refuseIfNotOwned(agentId, msg.jobId);
        return;
      }
      case 'job-finished': {
        worker?.busy.delete(msg.jobId);
        const [owned] = await this.o.db.$queryRawUnsafe<{ id: number }[]>(
          `SELECT id FROM jobs WHERE id = $1 AND agent_id = $2 AND state IN ('assigned', 'running')`,
          msg.jobId,
          agentId,
        );
        if (owned) await completeJob(this.o.db, msg.jobId, msg.status, msg.message ?? null);
        await this.o.bus.publish({ kind: 'schedule' });
        return;
      }
      case 'stopping':
        if (worker) worker.stopping = true;
        this.o.log.info({ agentId }, 'agent is stopping: no new jobs for it');
        return;
      case 'hello':
        return;
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
      for (const r of rows) await completeJobTx(tx, r.id, 'timeout', `job timed out after ${r.timeout_s} s (server watchdog)`);
      return rows;
    });
    for (const r of expired) if (r.agent_id) await this.o.bus.publish({ kind: 'job-cancel', agentId: r.agent_id, jobId: r.id, reason: 'timeout' });
  }

  private async checkDeletedGroups(): Promise<void> {
    await this.o.db.$transaction(async (tx) => {
      const rows = await tx.$queryRawUnsafe<{ id: number; group_name: string }[]>(
        `SELECT id, group_name FROM jobs WHERE state = 'queued' AND group_id IS NULL FOR UPDATE SKIP LOCKED`,
      );
      for (const r of rows) await completeJobTx(tx, r.id, 'missing-group', `group '${r.group_name}' was deleted`);
    });
  }
}
