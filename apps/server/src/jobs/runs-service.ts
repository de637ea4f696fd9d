import { parseWorkflow, describeIssues, type JobView, type RunView, type Workflow, type WorkflowView } from '@kraken/protocol';
import type { Db, Prisma } from '../db/prisma';
import type { EventBus } from '../events/bus';
import { badRequest, conflict, HttpError, notFound } from '../http/errors';
import { completeJobTx } from './job-completion';
import { jobInclude, toJobView, toRunView } from './job-view';
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
   * Creates a run with one job per job × environment × system. A job whose group does not
   * exist completes at once as `missing-group`; one whose group has no authorized agent at all
   * as `no-agents`; every other job is queued.
   */
  async createRun(workflow: Workflow, name = workflow.name ?? 'ad-hoc', workflowId: number | null = null): Promise<RunView> {
    const groupNames = [...new Set(workflow.jobs.flatMap((j) => j.environments.map((e) => e.agents_group)))];
    const runId = await this.db.$transaction(async (tx) => {
      const groups = await tx.agentsGroup.findMany({
        where: { name: { in: groupNames } },
        include: { _count: { select: { agents: { where: { agent: { authorized: true, deletedAt: null } } } } } },
      });
      const byName = new Map(groups.map((g) => [g.name, g]));
      const run = await tx.run.create({ data: { name, workflowId } });
      const specs = workflow.jobs.flatMap((job) =>
        job.environments.flatMap((env) => (Array.isArray(env.system) ? env.system : [env.system]).map((system) => ({ job, env, system }))),
      );
      // Bulk inserts: a run may have hundreds of jobs.
      const inserted = await tx.job.createManyAndReturn({
        data: specs.map(({ job, env, system }) => ({
          runId: run.id,
          name: job.name,
          groupName: env.agents_group,
          groupId: byName.get(env.agents_group)?.id ?? null,
          executor: env.executor,
          system,
          timeoutS: job.timeout,
          retries: job.retries,
          secrets: job.secrets ?? [],
          stepsSpec: job.steps as unknown as Prisma.InputJsonValue,
        })),
        select: { id: true },
      });
      // Serial ids follow the order of the rows given.
      const created = inserted.sort((a, b) => a.id - b.id);
      await tx.jobStep.createMany({
        data: created.flatMap((row, i) => specs[i].job.steps.map((s, index) => ({ jobId: row.id, index, tool: s.tool, name: s.name ?? defaultStepName(s) }))),
      });
      const finished: { id: number; status: 'missing-group' | 'no-agents'; note: string }[] = [];
      created.forEach((row, i) => {
        const groupName = specs[i].env.agents_group;
        const group = byName.get(groupName);
        if (!group) finished.push({ id: row.id, status: 'missing-group', note: `group '${groupName}' does not exist` });
        else if (group._count.agents === 0) finished.push({ id: row.id, status: 'no-agents', note: `there are no authorized agents in group '${groupName}'; add some` });
      });
      for (const f of finished) await completeJobTx(tx, f.id, f.status, f.note);
      return run.id;
    }, { timeout: 60_000 });
    // A job is queued from the moment its run is committed (the insert's now() is the start of a
    // transaction that may take a while for a big run); FIFO order between runs is unchanged.
    await this.db.$executeRawUnsafe(`UPDATE jobs SET queued_at = clock_timestamp() WHERE run_id = $1 AND state = 'queued'`, runId);
    await this.bus.publish({ kind: 'schedule' });
    return this.getRun(runId);
  }

  async listRuns(q: { offset: number; limit: number; workflow?: number }): Promise<{ items: RunView[]; total: number }> {
    const where: Prisma.RunWhereInput = q.workflow ? { workflowId: q.workflow } : {};
    const [rows, total] = await Promise.all([
      this.db.run.findMany({ where, orderBy: { id: 'desc' }, skip: q.offset, take: q.limit }),
      this.db.run.count({ where }),
    ]);
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
    const [jobs, total] = await Promise.all([
      this.db.job.findMany({ where, include: jobInclude, orderBy: { id: 'desc' }, skip: q.offset, take: q.limit }),
      this.db.job.count({ where }),
    ]);
    return { items: await this.jobViews(jobs), total };
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

function defaultStepName(s: Workflow['jobs'][number]['steps'][number]): string {
  if (s.tool === 'shell') return (s.cmd ?? s.script ?? '').split('\n')[0].slice(0, 80);
  return `git ${s.url}`;
}
