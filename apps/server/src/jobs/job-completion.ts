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
 */
export async function completeJobTx(tx: Tx, jobId: number, status: CompletionStatus, note: string | null): Promise<boolean> {
  const now = new Date();
  const { count } = await tx.job.updateMany({
    where: { id: jobId, state: { not: 'completed' } },
    data: { state: 'completed', completionStatus: status, finishedAt: now, note, deadline: null },
  });
  if (!count) return false;
  const stoppedAs = status === 'cancelled' ? 'cancelled' : status === 'timeout' ? 'timeout' : 'error';
  await tx.jobStep.updateMany({ where: { jobId, status: 'running' }, data: { status: stoppedAs } });
  await tx.jobStep.updateMany({ where: { jobId, status: 'not-started' }, data: { status: 'skipped' } });
  await tx.jobAssignment.updateMany({ where: { jobId, endedAt: null }, data: { endedAt: now, outcome: status } });
  const job = await tx.job.findUniqueOrThrow({ where: { id: jobId }, select: { runId: true } });
  await finishRunIfDone(tx, job.runId);
  return true;
}

export async function finishRunIfDone(tx: Tx, runId: number): Promise<void> {
  // Jobs of one run completing at once: the run row lock makes the last one see all the others done.
  await tx.$queryRawUnsafe('SELECT id FROM runs WHERE id = $1 FOR UPDATE', runId);
  const jobs = await tx.job.findMany({ where: { runId }, select: { state: true, completionStatus: true } });
  if (jobs.some((j) => j.state !== 'completed')) return;
  await tx.run.updateMany({
    where: { id: runId, state: 'in-progress' },
    data: { state: 'completed', status: runStatus(jobs.map((j) => j.completionStatus)), finishedAt: new Date() },
  });
}

export async function completeJob(db: Db, jobId: number, status: CompletionStatus, note: string | null): Promise<boolean> {
  return db.$transaction((tx) => completeJobTx(tx, jobId, status, note));
}
