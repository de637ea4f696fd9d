import type { CompletionStatus, JobView, RunView, Workflow } from '@kraken/protocol';
import type { Db } from '../db/prisma';
import { finishRunsIfDone } from './job-completion';
import { runStatus } from './job-view';

type WorkflowJob = Workflow['jobs'][number];

export interface InsertedRun {
  /** The run as stored, with its jobs (the note of a queued job is left for waitingNotes). */
  view: RunView;
  /** Each job's group id (null when its group does not exist), for waitingNotes. */
  groupIds: Map<number, number | null>;
}

/**
 * Stores a run with one job per job × environment × system, in one statement (so one commit):
 * - a job whose group does not exist is stored completed as `missing-group`, one whose group has
 *   no authorized agent at all as `no-agents` (both with their steps skipped); the rest queued;
 * - `queued_at` is the clock when the row is written, moments before the commit that makes the
 *   job visible to the dispatcher; FIFO order follows the jobs of the schema.
 * A run can have hundreds of jobs: this is the API's busiest write, so it is set-based SQL rather
 * than one ORM call per table.
 */
export async function insertRun(db: Db, workflow: Workflow, name: string, workflowId: number | null): Promise<InsertedRun> {
  const specs = workflow.jobs.flatMap((job) =>
    job.environments.flatMap((env) => (Array.isArray(env.system) ? env.system : [env.system]).map((system) => ({ job, env, system }))),
  );
  // Ids first, so that the steps can name their job in the same statement.
  const ids = (
    await db.$queryRawUnsafe<{ id: number }[]>(`SELECT nextval(pg_get_serial_sequence('jobs', 'id'))::int AS id FROM generate_series(1, $1)`, specs.length)
  )
    .map((r) => r.id)
    .sort((a, b) => a - b);
  const steps = specs.flatMap((spec, i) => spec.job.steps.map((s, index) => ({ jobId: ids[i], index, tool: s.tool, name: s.name ?? defaultStepName(s) })));

  const rows = await db.$queryRawUnsafe<{ run_id: number; created_at: Date; id: number; group_id: number | null; status: CompletionStatus | null; note: string | null }[]>(
    `WITH g AS (
       SELECT g.id, g.name, count(a.id) AS authorized FROM agents_groups g
       LEFT JOIN agent_assignments aa ON aa.group_id = g.id
       LEFT JOIN agents a ON a.id = aa.agent_id AND a.authorized AND a.deleted_at IS NULL
       WHERE g.name = ANY($3::text[]) GROUP BY g.id
     ), u AS (
       SELECT u.*, g.id AS group_id,
         CASE WHEN g.id IS NULL THEN 'missing-group' WHEN g.authorized = 0 THEN 'no-agents' END AS status,
         CASE WHEN g.id IS NULL THEN format('group ''%s'' does not exist', u.group_name)
              WHEN g.authorized = 0 THEN format('there are no authorized agents in group ''%s''; add some', u.group_name) END AS note
       FROM unnest($4::int[], $5::text[], $3::text[], $6::text[], $7::text[], $8::int[], $9::int[], $10::text[], $11::text[])
         AS u(id, name, group_name, executor, system, timeout_s, retries, secrets, steps_spec)
       LEFT JOIN g ON g.name = u.group_name
     ), r AS (
       INSERT INTO runs (name, workflow_id) VALUES ($1, $2) RETURNING id, created_at
     ), j AS (
       INSERT INTO jobs (id, run_id, name, group_name, group_id, executor, system, timeout_s, retries, secrets, steps_spec,
                         state, completion_status, note, finished_at, queued_at)
       SELECT u.id, r.id, u.name, u.group_name, u.group_id, u.executor, u.system, u.timeout_s, u.retries, u.secrets::jsonb, u.steps_spec::jsonb,
              CASE WHEN u.status IS NULL THEN 'queued' ELSE 'completed' END, u.status, u.note,
              CASE WHEN u.status IS NOT NULL THEN now() END, clock_timestamp()
       FROM u, r ORDER BY u.id
       RETURNING id, group_id, completion_status AS status, note
     ), s AS (
       INSERT INTO job_steps (job_id, "index", tool, name, status)
       SELECT s.job_id, s.idx, s.tool, s.name, CASE WHEN u.status IS NULL THEN 'not-started' ELSE 'skipped' END
       FROM unnest($12::int[], $13::int[], $14::text[], $15::text[]) AS s(job_id, idx, tool, name) JOIN u ON u.id = s.job_id
     )
     SELECT r.id AS run_id, r.created_at, j.* FROM r, j ORDER BY j.id`,
    name,
    workflowId,
    specs.map((s) => s.env.agents_group),
    ids,
    specs.map((s) => s.job.name),
    specs.map((s) => s.env.executor),
    specs.map((s) => s.system),
    specs.map((s) => s.job.timeout),
    specs.map((s) => s.job.retries),
    specs.map((s) => JSON.stringify(s.job.secrets ?? [])),
    specs.map((s) => JSON.stringify(s.job.steps)),
    steps.map((s) => s.jobId),
    steps.map((s) => s.index),
    steps.map((s) => s.tool),
    steps.map((s) => s.name),
  );
  const { run_id: runId, created_at: createdAt } = rows[0];
  const at = createdAt.toISOString();
  const stepsOf = new Map<number, JobView['steps']>();
  for (const st of steps) {
    const list = stepsOf.get(st.jobId) ?? [];
    list.push({ index: st.index, tool: st.tool, name: st.name, status: 'not-started', exitCode: null, durationMs: null, startedAt: null, outputTail: '', message: null });
    stepsOf.set(st.jobId, list);
  }
  const jobs: JobView[] = rows.map((r, i) => {
    const { job, env, system } = specs[i];
    const done = r.status !== null;
    return {
      id: r.id,
      runId,
      name: job.name,
      group: env.agents_group,
      executor: env.executor,
      system,
      state: done ? 'completed' : 'queued',
      completionStatus: r.status,
      note: r.note,
      agent: null,
      attempt: 0,
      retries: job.retries,
      timeout: job.timeout,
      createdAt: at,
      assignedAt: null,
      startedAt: null,
      finishedAt: done ? at : null,
      steps: (stepsOf.get(r.id) ?? []).map((st) => (done ? { ...st, status: 'skipped' as const } : st)),
    };
  });
  const completed = jobs.filter((j) => j.state === 'completed').length;
  // Every job completed at once (no usable group anywhere): so is the run.
  const finishedAt = completed === jobs.length ? (await db.$transaction((tx) => finishRunsIfDone(tx, [runId]))).get(runId) : undefined;
  const view: RunView = {
    id: runId,
    workflowId,
    name,
    state: finishedAt ? 'completed' : 'in-progress',
    status: finishedAt ? runStatus(jobs.map((j) => j.completionStatus)) : null,
    createdAt: at,
    finishedAt: finishedAt?.toISOString() ?? null,
    jobsTotal: jobs.length,
    jobsCompleted: completed,
    jobs,
  };
  return { view, groupIds: new Map(rows.map((r) => [r.id, r.group_id])) };
}

function defaultStepName(s: WorkflowJob['steps'][number]): string {
  if (s.tool === 'shell') return (s.cmd ?? s.script ?? '').split('\n')[0].slice(0, 80);
  return `git ${s.url}`;
}
