import { z } from 'zod';
import { executorSchema, stepSchema, workflowSchema } from './workflow';

/** Job and step states and results, shared by the agent messages and the REST API. */

/** A whole number the database's `integer` columns hold. */
export const int32 = () => z.number().int().min(-(2 ** 31)).max(2 ** 31 - 1);

export const jobStateSchema = z.enum(['queued', 'assigned', 'running', 'completed']);
export type JobState = z.infer<typeof jobStateSchema>;

export const completionStatusSchema = z.enum(['ok', 'failed', 'error', 'cancelled', 'timeout', 'agent-lost', 'no-agents', 'missing-group']);
export type CompletionStatus = z.infer<typeof completionStatusSchema>;

export const stepStatusSchema = z.enum(['not-started', 'running', 'ok', 'failed', 'error', 'timeout', 'cancelled', 'skipped']);
export type StepStatus = z.infer<typeof stepStatusSchema>;

/** At most this much of a step's output travels with its result; the full log goes to the log store. */
export const OUTPUT_TAIL_BYTES = 64 * 1024;

// ---- the job as an agent receives it ----------------------------------------

export const assignedStepSchema = z.intersection(stepSchema, z.object({ index: z.number().int().min(0) }));
export type AssignedStep = z.infer<typeof assignedStepSchema>;

export const assignedJobSchema = z.object({
  id: z.number().int().positive(),
  runId: z.number().int().positive(),
  name: z.string(),
  executor: executorSchema,
  system: z.string(),
  /** Seconds left of the job's timeout when it was sent. */
  timeout: z.number().int().positive(),
  attempt: z.number().int().min(1),
  secrets: z.array(z.string()),
  steps: z.array(assignedStepSchema).min(1),
});
export type AssignedJob = z.infer<typeof assignedJobSchema>;

export const stepResultSchema = z.object({
  status: stepStatusSchema.exclude(['not-started', 'running', 'skipped']),
  exitCode: int32().nullable(),
  durationMs: int32().min(0),
  /** The last OUTPUT_TAIL_BYTES of stdout and stderr, interleaved as they came. */
  outputTail: z.string().max(OUTPUT_TAIL_BYTES * 2),
  message: z.string().max(10_000).optional(),
});
export type StepResult = z.infer<typeof stepResultSchema>;

// ---- REST API -----------------------------------------------------------------

export const createWorkflowBodySchema = z.strictObject({
  name: z.string().trim().min(1, 'required').max(200),
  /** The schema as an object, or as JSON or YAML text. */
  schema: z.unknown(),
});
export const runWorkflowBodySchema = z.strictObject({}).optional();
export const adHocRunBodySchema = z.strictObject({ schema: z.unknown() });

export const workflowViewSchema = z.object({
  id: z.number().int(),
  name: z.string(),
  schema: workflowSchema,
  createdAt: z.string(),
  runsCount: z.number().int(),
});
export type WorkflowView = z.infer<typeof workflowViewSchema>;

export const stepViewSchema = z.object({
  index: z.number().int(),
  tool: z.string(),
  name: z.string(),
  status: stepStatusSchema,
  exitCode: z.number().int().nullable(),
  durationMs: z.number().int().nullable(),
  startedAt: z.string().nullable(),
  outputTail: z.string(),
  message: z.string().nullable(),
});
export type StepView = z.infer<typeof stepViewSchema>;

export const jobViewSchema = z.object({
  id: z.number().int(),
  runId: z.number().int(),
  name: z.string(),
  group: z.string(),
  executor: executorSchema,
  system: z.string(),
  state: jobStateSchema,
  completionStatus: completionStatusSchema.nullable(),
  /** Why a queued job waits, e.g. `no agents in group 'linux'`, or how it ended. */
  note: z.string().nullable(),
  agent: z.object({ id: z.number().int(), name: z.string() }).nullable(),
  attempt: z.number().int(),
  retries: z.number().int(),
  timeout: z.number().int(),
  createdAt: z.string(),
  assignedAt: z.string().nullable(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  steps: z.array(stepViewSchema),
});
export type JobView = z.infer<typeof jobViewSchema>;

export const runStateSchema = z.enum(['in-progress', 'completed']);
export const runViewSchema = z.object({
  id: z.number().int(),
  workflowId: z.number().int().nullable(),
  name: z.string(),
  state: runStateSchema,
  /** `ok` when every job completed ok, else the worst job status; null while in progress. */
  status: completionStatusSchema.nullable(),
  createdAt: z.string(),
  finishedAt: z.string().nullable(),
  jobsTotal: z.number().int(),
  jobsCompleted: z.number().int(),
  jobs: z.array(jobViewSchema).optional(),
});
export type RunView = z.infer<typeof runViewSchema>;

export const listRunsQuerySchema = z.strictObject({
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(200).default(30),
  workflow: z.coerce.number().int().positive().optional(),
});
export const listAgentJobsQuerySchema = z.strictObject({
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(200).default(30),
});
