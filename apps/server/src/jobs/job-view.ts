import type { CompletionStatus, JobView, RunView, StepView } from '@kraken/protocol';
import type { Prisma } from '../db/prisma';

export const jobInclude = {
  steps: { orderBy: { index: 'asc' } },
  agent: { select: { id: true, name: true } },
} satisfies Prisma.JobInclude;

export type JobRow = Prisma.JobGetPayload<{ include: typeof jobInclude }>;

const iso = (d: Date | null) => d?.toISOString() ?? null;

export function toStepView(s: JobRow['steps'][number]): StepView {
  return {
    index: s.index,
    tool: s.tool,
    name: s.name,
    status: s.status as StepView['status'],
    exitCode: s.exitCode,
    durationMs: s.durationMs,
    startedAt: iso(s.startedAt),
    outputTail: s.outputTail,
    message: s.message,
  };
}

export function toJobView(j: JobRow, note: string | null = j.note): JobView {
  return {
    id: j.id,
    runId: j.runId,
    name: j.name,
    group: j.groupName,
    executor: j.executor as JobView['executor'],
    system: j.system,
    state: j.state as JobView['state'],
    completionStatus: j.completionStatus as CompletionStatus | null,
    note,
    agent: j.agent,
    attempt: j.attempt,
    retries: j.retries,
    timeout: j.timeoutS,
    createdAt: j.createdAt.toISOString(),
    assignedAt: iso(j.assignedAt),
    startedAt: iso(j.startedAt),
    finishedAt: iso(j.finishedAt),
    steps: j.steps.map(toStepView),
  };
}

/** Worst first: the run's status is the first of these that any of its jobs has. */
const SEVERITY: CompletionStatus[] = ['error', 'agent-lost', 'timeout', 'failed', 'missing-group', 'no-agents', 'cancelled', 'ok'];

export function runStatus(statuses: (string | null)[]): CompletionStatus {
  for (const s of SEVERITY) if (statuses.includes(s)) return s;
  return 'ok';
}

export function toRunView(
  r: Prisma.RunGetPayload<object>,
  counts: { total: number; completed: number },
  jobs?: JobView[],
): RunView {
  return {
    id: r.id,
    workflowId: r.workflowId,
    name: r.name,
    state: r.state as RunView['state'],
    status: r.status as CompletionStatus | null,
    createdAt: r.createdAt.toISOString(),
    finishedAt: iso(r.finishedAt),
    jobsTotal: counts.total,
    jobsCompleted: counts.completed,
    ...(jobs ? { jobs } : {}),
  };
}
