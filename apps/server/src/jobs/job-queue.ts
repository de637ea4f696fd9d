import type { Db } from '../db/prisma';
import type { AgentProfile } from './agent-fit';

/** A queued job as a pass reads it: what matching needs, and what the agent is sent. */
export interface QueuedRow {
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

/** What jobs an agent can take: its groups and its host. */
export interface AgentKind {
  groups: number[];
  profile: AgentProfile;
}

/**
 * The oldest queued jobs that an agent of one of `kinds` fits (FIFO by queue time), leaving out
 * `exclude`. No locks: the claim decides (see claimJobs).
 */
export async function readQueuedJobs(db: Db, kinds: AgentKind[], exclude: number[], limit: number): Promise<QueuedRow[]> {
  // One SQL condition per distinct kind of agent.
  const params: unknown[] = [exclude];
  const clauses = kinds.map(({ groups, profile }) => {
    params.push(groups, profile.system);
    const g = params.length - 1;
    const s = params.length;
    const containers = `${profile.docker ? " OR executor = 'docker'" : ''}${profile.lxd ? " OR executor = 'lxd'" : ''}`;
    return `(group_id = ANY($${g}::int[]) AND ((executor = 'local' AND (system = 'any' OR system = $${s}))${containers}))`;
  });
  params.push(limit);
  return db.$queryRawUnsafe<QueuedRow[]>(
    `SELECT id, run_id, name, group_id, executor, system, timeout_s, attempt, secrets, steps_spec FROM jobs
     WHERE state = 'queued' AND NOT (id = ANY($1::int[])) AND (${clauses.join(' OR ')})
     ORDER BY queued_at, id LIMIT $${params.length}`,
    ...params,
  );
}

/**
 * Assigns jobs to agents in one statement: it locks the job rows `FOR UPDATE SKIP LOCKED`, keeps
 * those still queued whose agent is still authorized and enabled, assigns them (deadline: the
 * job's timeout plus `graceS`) and records the assignments. A job another server claimed in
 * between is skipped, or once committed no longer queued, so no job is ever assigned twice.
 * Answers the ids of the jobs assigned.
 */
export async function claimJobs(db: Db, picks: { jobId: number; agentId: number }[], graceS: number): Promise<Set<number>> {
  const claimed = await db.$queryRawUnsafe<{ id: number }[]>(
    `WITH c AS (
       SELECT jobs.id, u.agent_id FROM unnest($1::int[], $2::int[]) AS u(job_id, agent_id)
       JOIN jobs ON jobs.id = u.job_id
       JOIN agents a ON a.id = u.agent_id AND a.authorized AND NOT a.disabled AND a.deleted_at IS NULL
       WHERE jobs.state = 'queued'
       FOR UPDATE OF jobs SKIP LOCKED
     ), j AS (
       UPDATE jobs SET state = 'assigned', agent_id = c.agent_id, assigned_at = now(), attempt = jobs.attempt + 1,
         deadline = now() + make_interval(secs => jobs.timeout_s + $3), note = NULL
       FROM c WHERE jobs.id = c.id
       RETURNING jobs.id, jobs.agent_id, jobs.attempt
     ), a AS (
       INSERT INTO job_assignments (job_id, agent_id, attempt) SELECT id, agent_id, attempt FROM j
     )
     SELECT id FROM j`,
    picks.map((p) => p.jobId),
    picks.map((p) => p.agentId),
    graceS,
  );
  return new Set(claimed.map((r) => r.id));
}
