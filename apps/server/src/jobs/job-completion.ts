import type { CompletionStatus } from '@kraken/protocol';
import type { Db, Prisma } from '../db/prisma';
import { runStatus } from './job-view';

type Tx = Prisma.TransactionClient;

/** Active job states: the job holds an agent. */
export const ACTIVE_STATES = ['assigned', 'running'];

/**
 * Completes a job (inside the caller's transaction): its unfinished steps are closed, its current
 * assignment ended, and its run completed when it was the run's last job. Answers false when the
 * job was already completed (e.g. a cancel and an agent report racing): nothing is changed then.
 * One statement: this runs for every job, and the dispatcher's throughput depends on it.
 */
export async function completeJobTx(tx: Tx, jobId: number, status: CompletionStatus, note: string | null): Promise<boolean> {
  const stoppedAs = status === 'cancelled' ? 'cancelled' : status === 'timeout' ? 'timeout' : 'error';
  const rows = await tx.$queryRawUnsafe<{ run_id: number }[]>(
    `WITH j AS (
       UPDATE jobs SET state = 'completed', completion_status = $2, finished_at = now(), note = $3, deadline = NULL
       WHERE id = $1 AND state <> 'completed' RETURNING id, run_id
     ), s AS (
       UPDATE job_steps SET status = CASE WHEN status = 'running' THEN $4 ELSE 'skipped' END
       WHERE job_id IN (SELECT id FROM j) AND status IN ('running', 'not-started')
     ), a AS (
       UPDATE job_assignments SET ended_at = now(), outcome = $2 WHERE job_id IN (SELECT id FROM j) AND ended_at IS NULL
     )
     SELECT run_id FROM j`,
    jobId,
    status,
    note,
    stoppedAs,
  );
  if (!rows.length) return false;
  await finishRunIfDone(tx, rows[0].run_id);
  return true;
}

export async function finishRunIfDone(tx: Tx, runId: number): Promise<void> {
  // Jobs of one run completing at once: the run row lock makes the last one see all the others done.
  await tx.$queryRawUnsafe('SELECT id FROM runs WHERE id = $1 FOR UPDATE', runId);
  const [{ open, statuses }] = await tx.$queryRawUnsafe<{ open: number; statuses: (string | null)[] }[]>(
    `SELECT count(*) FILTER (WHERE state <> 'completed')::int AS open, array_agg(DISTINCT completion_status) AS statuses
     FROM jobs WHERE run_id = $1`,
    runId,
  );
  if (open > 0) return;
  await tx.run.updateMany({
    where: { id: runId, state: 'in-progress' },
    data: { state: 'completed', status: runStatus(statuses), finishedAt: new Date() },
  });
}

export async function completeJob(db: Db, jobId: number, status: CompletionStatus, note: string | null): Promise<boolean> {
  return db.$transaction((tx) => completeJobTx(tx, jobId, status, note));
}
