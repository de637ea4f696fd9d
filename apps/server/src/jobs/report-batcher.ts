import type { Logger } from 'pino';
import type { AgentToServerMessage } from '@kraken/protocol';
import type { Db, Prisma } from '../db/prisma';
import { completeJobsTx } from './job-completion';

type Tx = Prisma.TransactionClient;

/** What agents report about their jobs, as they run them. */
export type JobReport = Extract<AgentToServerMessage, { type: 'job-started' | 'step-started' | 'step-finished' | 'job-finished' }>;

export interface QueuedReport {
  agentId: number;
  msg: JobReport;
  /** When the report arrived (epoch ms): the time stored for a start. */
  at: number;
}

export interface BatchOutcome {
  /** Reports that matched no job the agent holds: the agent may have to be told to drop the job. */
  unmatched: QueuedReport[];
  /** Jobs the batch completed. */
  completed: number[];
}

interface Waiting extends QueuedReport {
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** At most this many reports go into one transaction. */
const MAX_BATCH = 1000;

/**
 * Writes agents' reports in batches: whatever arrived while the previous batch was being written
 * goes into the next one, as a handful of set-based statements in one transaction. An idle
 * server writes a lone report at once; a busy one does the same work for hundreds of reports,
 * which is what keeps the dispatcher ahead of 200 agents finishing jobs back to back.
 *
 * Order: batches are written one after the other, and inside a batch the statements follow the
 * order in which an agent reports a job (started, step started, step finished, finished), so
 * each job's reports take effect in the order they were sent.
 */
export class ReportBatcher {
  private queue: Waiting[] = [];
  private writing = false;

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
    /** Called after each written batch (outside its transaction). */
    private readonly onWritten: (outcome: BatchOutcome) => Promise<void>,
  ) {}

  /** Resolves once the report is stored (or found to match nothing the agent holds). */
  submit(agentId: number, msg: JobReport, at = Date.now()): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ agentId, msg, at, resolve, reject });
      if (!this.writing) {
        this.writing = true;
        // Let the reports that arrived in the same turn of the event loop join this batch.
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length) {
        const batch = this.queue.splice(0, MAX_BATCH);
        await this.write(batch);
      }
    } finally {
      this.writing = false;
    }
  }

  private async write(batch: Waiting[]): Promise<void> {
    let outcome: BatchOutcome;
    try {
      outcome = await this.db.$transaction((tx) => applyReports(tx, batch), { timeout: 60_000 });
    } catch (err) {
      if (batch.length === 1) {
        batch[0].reject(err);
        return;
      }
      // One bad report must not lose the others: write them one by one.
      this.log.warn({ err, reports: batch.length }, 'writing a batch of agent reports failed; writing them one at a time');
      for (const r of batch) await this.write([r]);
      return;
    }
    try {
      await this.onWritten(outcome);
    } catch (err) {
      this.log.error({ err }, 'after writing agent reports');
    }
    for (const r of batch) r.resolve();
  }
}

/**
 * Applies reports in one transaction, one statement per kind of report. A report counts only
 * from the agent that holds the job while it is active; the others are answered as unmatched.
 */
export async function applyReports(tx: Tx, reports: QueuedReport[]): Promise<BatchOutcome> {
  const unmatched: QueuedReport[] = [];
  const of = <T extends JobReport['type']>(type: T) => reports.filter((r): r is QueuedReport & { msg: Extract<JobReport, { type: T }> } => r.msg.type === type);

  const started = of('job-started');
  if (started.length) {
    const rows = await tx.$queryRawUnsafe<{ id: number }[]>(
      `UPDATE jobs SET state = 'running', started_at = to_timestamp(u.at / 1000.0)
       FROM unnest($1::int[], $2::int[], $3::float8[]) AS u(id, agent_id, at)
       WHERE jobs.id = u.id AND jobs.agent_id = u.agent_id AND jobs.state = 'assigned'
       RETURNING jobs.id`,
      started.map((r) => r.msg.jobId),
      started.map((r) => r.agentId),
      started.map((r) => r.at),
    );
    const hit = new Set(rows.map((r) => r.id));
    unmatched.push(...started.filter((r) => !hit.has(r.msg.jobId)));
  }

  const stepStarted = of('step-started');
  if (stepStarted.length) {
    const rows = await tx.$queryRawUnsafe<{ job_id: number; index: number }[]>(
      `UPDATE job_steps s SET status = 'running', started_at = to_timestamp(u.at / 1000.0)
       FROM unnest($1::int[], $2::int[], $3::int[], $4::float8[]) AS u(job_id, idx, agent_id, at), jobs j
       WHERE s.job_id = u.job_id AND s."index" = u.idx AND j.id = u.job_id AND j.agent_id = u.agent_id AND j.state IN ('assigned', 'running')
       RETURNING s.job_id, s."index"`,
      stepStarted.map((r) => r.msg.jobId),
      stepStarted.map((r) => r.msg.index),
      stepStarted.map((r) => r.agentId),
      stepStarted.map((r) => r.at),
    );
    const hit = new Set(rows.map((r) => `${r.job_id}/${r.index}`));
    unmatched.push(...stepStarted.filter((r) => !hit.has(`${r.msg.jobId}/${r.msg.index}`)));
  }

  const stepFinished = of('step-finished');
  if (stepFinished.length) {
    const rows = await tx.$queryRawUnsafe<{ job_id: number; index: number }[]>(
      `UPDATE job_steps s SET status = u.status, exit_code = u.exit_code, duration_ms = u.duration_ms, output_tail = u.output_tail, message = u.message
       FROM unnest($1::int[], $2::int[], $3::int[], $4::text[], $5::int[], $6::int[], $7::text[], $8::text[])
         AS u(job_id, idx, agent_id, status, exit_code, duration_ms, output_tail, message), jobs j
       WHERE s.job_id = u.job_id AND s."index" = u.idx AND j.id = u.job_id AND j.agent_id = u.agent_id AND j.state IN ('assigned', 'running')
       RETURNING s.job_id, s."index"`,
      stepFinished.map((r) => r.msg.jobId),
      stepFinished.map((r) => r.msg.index),
      stepFinished.map((r) => r.agentId),
      stepFinished.map((r) => r.msg.result.status),
      stepFinished.map((r) => r.msg.result.exitCode),
      stepFinished.map((r) => r.msg.result.durationMs),
      // PostgreSQL text cannot hold NUL; a program's output can.
      stepFinished.map((r) => r.msg.result.outputTail.replace(/\0/g, '')),
      stepFinished.map((r) => r.msg.result.message ?? null),
    );
    const hit = new Set(rows.map((r) => `${r.job_id}/${r.index}`));
    unmatched.push(...stepFinished.filter((r) => !hit.has(`${r.msg.jobId}/${r.msg.index}`)));
  }

  const finished = of('job-finished');
  const completed = finished.length
    ? await completeJobsTx(
        tx,
        finished.map((r) => ({ jobId: r.msg.jobId, status: r.msg.status, note: r.msg.message ?? null, agentId: r.agentId })),
      )
    : [];
  // A job-finished that matched nothing needs no answer: the agent is done with the job anyway.
  return { unmatched, completed };
}
