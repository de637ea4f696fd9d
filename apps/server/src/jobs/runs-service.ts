import { parseWorkflow, describeIssues, type JobView, type RunView, type Workflow, type WorkflowView } from '@kraken/protocol';
import type { Db, Prisma } from '../db/prisma';
import type { EventBus } from '../events/bus';
import { badRequest, conflict, HttpError, notFound } from '../http/errors';
import { retryOnDeadlock } from '../db/retry';
import { completeJobsTx, completeJobTx } from './job-completion';
import { jobInclude, toJobView, toRunView } from './job-view';
import { insertRun } from './run-insert';
import { waitingNotes } from './waiting-notes';

export class RunsService {
  constructor(
    private readonly db: Db,
    private readonly bus: EventBus,
  ) {}

  static validate(schema: unknown): Workflow {
    const parsed = parseWorkflow(schema);
    if (!parsed.ok) throw badRequest(`invalid workflow schema: ${describeIssues(parsed.issues)}`, parsed.issues.map((i) => ({ ...i, path: i.path ? `schema.${i.path}` : 'schema' })));
    return parsed.workflow;
  }

  async createWorkflow(name: string, schema: unknown): Promise<WorkflowView> {
    const workflow = RunsService.validate(schema);
    if (await this.db.workflow.findUnique({ where: { name } })) throw conflict(`a workflow named '${name}' already exists`);
    const row = await this.db.workflow.create({ data: { name, schema: workflow as unknown as Prisma.InputJsonValue } });
    return { id: row.id, name: row.name, schema: workflow, createdAt: row.createdAt.toISOString(), runsCount: 0 };
  }

  async listWorkflows(): Promise<WorkflowView[]> {
    const rows = await this.db.workflow.findMany({ orderBy: { id: 'asc' }, include: { _count: { select: { runs: true } } } });
    return rows.map((r) => ({ id: r.id, name: r.name, schema: r.schema as unknown as Workflow, createdAt: r.createdAt.toISOString(), runsCount: r._count.runs }));
  }

  async runWorkflow(workflowId: number): Promise<RunView> {
    const wf = await this.db.workflow.findUnique({ where: { id: workflowId } });
    if (!wf) throw notFound(`workflow ${workflowId}`);
    return this.createRun(RunsService.validate(wf.schema), wf.name, wf.id);
  }

  /**
   * Creates a run with one job per job × environment × system (see insertRun): jobs whose group
   * is missing or has no authorized agent complete at once, the rest are queued.
   */
  async createRun(workflow: Workflow, name = workflow.name ?? 'ad-hoc', workflowId: number | null = null): Promise<RunView> {
    const { view, groupIds } = await insertRun(this.db, workflow, name, workflowId);
    await this.bus.publish({ kind: 'schedule' });
    const queued = view.jobs!.filter((j) => j.state === 'queued');
    const notes = await waitingNotes(
      this.db,
      queued.map((j) => ({ id: j.id, groupId: groupIds.get(j.id) ?? null, groupName: j.group, executor: j.executor, system: j.system, note: j.note })),
    );
    for (const j of queued) j.note = notes.get(j.id) ?? j.note;
    return view;
  }

  async listRuns(q: { offset: number; limit: number; workflow?: number }): Promise<{ items: RunView[]; total: number }> {
    const where: Prisma.RunWhereInput = q.workflow ? { workflowId: q.workflow } : {};
    const [rows, total] = await this.db.$transaction(
      [this.db.run.findMany({ where, orderBy: { id: 'desc' }, skip: q.offset, take: q.limit }), this.db.run.count({ where })],
      { isolationLevel: 'RepeatableRead' }, // the page and the total from one snapshot
    );
    const counts = await this.db.job.groupBy({ by: ['runId', 'state'], where: { runId: { in: rows.map((r) => r.id) } }, _count: true });
    return {
      items: rows.map((r) => {
        const mine = counts.filter((c) => c.runId === r.id);
        return toRunView(r, {
          total: mine.reduce((n, c) => n + c._count, 0),
          completed: mine.filter((c) => c.state === 'completed').reduce((n, c) => n + c._count, 0),
        });
      }),
      total,
    };
  }

  async getRun(id: number): Promise<RunView> {
    const run = await this.db.run.findUnique({ where: { id } });
    if (!run) throw notFound(`run ${id}`);
    const jobs = await this.db.job.findMany({ where: { runId: id }, include: jobInclude, orderBy: { id: 'asc' } });
    const views = await this.jobViews(jobs);
    return toRunView(run, { total: jobs.length, completed: jobs.filter((j) => j.state === 'completed').length }, views);
  }

  async getJob(id: number): Promise<JobView> {
    const job = await this.db.job.findUnique({ where: { id }, include: jobInclude });
    if (!job) throw notFound(`job ${id}`);
    return (await this.jobViews([job]))[0];
  }

  private async jobViews(jobs: Prisma.JobGetPayload<{ include: typeof jobInclude }>[]): Promise<JobView[]> {
    const notes = await waitingNotes(this.db, jobs.filter((j) => j.state === 'queued'));
    return jobs.map((j) => toJobView(j, notes.get(j.id) ?? j.note));
  }

  async agentJobs(agentId: number, q: { offset: number; limit: number }): Promise<{ items: JobView[]; total: number }> {
    if (!(await this.db.agent.findUnique({ where: { id: agentId } }))) throw notFound(`agent ${agentId}`);
    const where = { assignments: { some: { agentId } } };
    const [jobs, total] = await this.db.$transaction(
      [this.db.job.findMany({ where, include: jobInclude, orderBy: { id: 'desc' }, skip: q.offset, take: q.limit }), this.db.job.count({ where })],
      { isolationLevel: 'RepeatableRead' }, // the page and the total from one snapshot
    );
    return { items: await this.jobViews(jobs), total };
  }

  /** Cancels every unfinished job of a run at once (see cancel); the run completes as cancelled. */
  async cancelRun(runId: number): Promise<RunView> {
    const run = await this.db.run.findUnique({ where: { id: runId } });
    if (!run) throw notFound(`run ${runId}`);
    if (run.state === 'completed') throw new HttpError(409, 'conflict', `run ${runId} already completed as ${run.status}`);
    // Jobs of the run may be completing in a batch of agents' reports at this moment, which locks
    // them in its own order: a deadlock is possible, and rolls back one side whole.
    const held = await retryOnDeadlock(() =>
      this.db.$transaction(async (tx) => {
        const open = await tx.$queryRawUnsafe<{ id: number; agent_id: number | null; state: string }[]>(
          `SELECT id, agent_id, state FROM jobs WHERE run_id = $1 AND state <> 'completed' ORDER BY id FOR UPDATE`,
          runId,
        );
        const note = 'cancelled by the user (the whole run)';
        const done = new Set(await completeJobsTx(tx, open.map((j) => ({ jobId: j.id, status: 'cancelled' as const, note }))));
        // Jobs an agent holds: it is told to stop them.
        return open.filter((j) => done.has(j.id) && j.agent_id !== null && j.state !== 'queued');
      }),
    );
    for (const j of held) await this.bus.publish({ kind: 'job-cancel', agentId: j.agent_id!, jobId: j.id, reason: 'cancelled' });
    return this.getRun(runId);
  }

  /** Cancels a job: a queued one at once; a running one is completed now and its agent told to kill it. */
  async cancel(jobId: number): Promise<JobView> {
    const job = await this.db.job.findUnique({ where: { id: jobId } });
    if (!job) throw notFound(`job ${jobId}`);
    if (job.state === 'completed') throw new HttpError(409, 'conflict', `job ${jobId} already completed as ${job.completionStatus}`);
    const done = await this.db.$transaction((tx) => completeJobTx(tx, jobId, 'cancelled', 'cancelled by the user'));
    if (done && job.agentId && job.state !== 'queued') {
      await this.bus.publish({ kind: 'job-cancel', agentId: job.agentId, jobId, reason: 'cancelled' });
    }
    return this.getJob(jobId);
  }
}
