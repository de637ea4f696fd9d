import type { CompletionStatus } from '@kraken/protocol';
import type { Db, Prisma } from '../db/prisma';
import { runStatus } from './job-view';

type Tx = Prisma.TransactionClient;

/** Active job states: the job holds an agent. */
export const ACTIVE_STATES = ['assigned', 'running'];

export interface Completion {
  jobId: number;
  status: CompletionStatus;
  note: string | null;
  /** When set, the job is completed only if this agent holds it (an agent's own report). */
  agentId?: number;
}

/**
 * Completes jobs (inside the caller's transaction): their unfinished steps are closed, their
 * current assignments ended, and each run completed when its last job is. A job already
 * completed (a cancel and an agent report racing), or not held by the reporting agent, is left
 * alone. Answers the ids of the jobs it completed.
 *
 * Bulk: the dispatcher completes the jobs of a whole batch of agent reports at once, and its
 * throughput depends on the statements here, not on their count of jobs.
 */
export async function completeJobsTx(tx: Tx, completions: Completion[]): Promise<number[]> {
  const byJob = new Map(completions.map((c) => [c.jobId, c])); // a job once, its last word wins
  if (!byJob.size) return [];
  const items = [...byJob.values()];
  const rows = await tx.$queryRawUnsafe<{ id: number; run_id: number }[]>(
    `WITH u AS (
       SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::int[]) AS u(id, status, note, agent_id)
     ), j AS (
       UPDATE jobs SET state = 'completed', completion_status = u.status, finished_at = now(), note = u.note, deadline = NULL
       FROM u
       WHERE jobs.id = u.id AND jobs.state <> 'completed'
         AND (u.agent_id IS NULL OR (jobs.agent_id = u.agent_id AND jobs.state IN ('assigned', 'running')))
       RETURNING jobs.id, jobs.run_id, u.status
     ), s AS (
       UPDATE job_steps SET status = CASE
           WHEN job_steps.status <> 'running' THEN 'skipped'
           WHEN j.status IN ('cancelled', 'timeout') THEN j.status
           ELSE 'error' END
       FROM j WHERE job_steps.job_id = j.id AND job_steps.status IN ('running', 'not-started')
     ), a AS (
       UPDATE job_assignments SET ended_at = now(), outcome = j.status
       FROM j WHERE job_assignments.job_id = j.id AND job_assignments.ended_at IS NULL
     )
     SELECT id, run_id FROM j`,
    items.map((c) => c.jobId),
    items.map((c) => c.status),
    items.map((c) => c.note),
    items.map((c) => c.agentId ?? null),
  );
  await finishRunsIfDone(tx, [...new Set(rows.map((r) => r.run_id))]);
  return rows.map((r) => r.id);
}

/** Completes one job; false when it was already completed. */
export async function completeJobTx(tx: Tx, jobId: number, status: CompletionStatus, note: string | null): Promise<boolean> {
  return (await completeJobsTx(tx, [{ jobId, status, note }])).length > 0;
}

export async function completeJob(db: Db, jobId: number, status: CompletionStatus, note: string | null): Promise<boolean> {
  return db.$transaction((tx) => completeJobTx(tx, jobId, status, note));
}

/** Completes the runs among `runIds` whose every job is completed; answers when each finished. */
export async function finishRunsIfDone(tx: Tx, runIds: number[]): Promise<Map<number, Date>> {
  if (!runIds.length) return new Map();
  // Jobs of one run completing at once in two transactions: the run row locks make the later one
  // see the other's jobs done. Its count below is a new statement, so a new snapshot, taken after
  // the lock was granted; the locks are taken in id order, so two batches cannot deadlock.
  await tx.$queryRawUnsafe('SELECT id FROM runs WHERE id = ANY($1::int[]) ORDER BY id FOR UPDATE', runIds);
  const done = await tx.$queryRawUnsafe<{ run_id: number; statuses: (string | null)[] }[]>(
    `SELECT run_id, array_agg(DISTINCT completion_status) AS statuses FROM jobs
     WHERE run_id = ANY($1::int[]) GROUP BY run_id HAVING bool_and(state = 'completed')`,
    runIds,
  );
  if (!done.length) return new Map();
  const finished = await tx.$queryRawUnsafe<{ id: number; finished_at: Date }[]>(
    `UPDATE runs SET state = 'completed', status = u.status, finished_at = now()
     FROM unnest($1::int[], $2::text[]) AS u(id, status) WHERE runs.id = u.id AND runs.state = 'in-progress'
     RETURNING runs.id, runs.finished_at`,
    done.map((d) => d.run_id),
    done.map((d) => runStatus(d.statuses)),
  );
  return new Map(finished.map((r) => [r.id, r.finished_at]));
}
