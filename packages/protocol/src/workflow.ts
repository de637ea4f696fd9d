import { z } from 'zod';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { issuesOf, type FieldIssue } from './errors';

/**
 * The workflow schema, with upstream Kraken's field names. A run creates one job per
 * job × environment (× system, when `system` is a list).
 */

export const executorSchema = z.enum(['local', 'docker', 'lxd']);
export type Executor = z.infer<typeof executorSchema>;

const envVars = z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'environment variable names are letters, digits and _'), z.string());
const stepTimeout = z.number().int().min(1, 'at least 1 second').max(7 * 24 * 3600);

export const shellStepSchema = z
  .strictObject({
    tool: z.literal('shell'),
    name: z.string().max(200).optional(),
    cmd: z.string().min(1).optional(),
    script: z.string().min(1).optional(),
    cwd: z.string().optional(),
    env: envVars.optional(),
    timeout: stepTimeout.optional(),
    shell_exe: z.string().optional(),
  })
  .refine((s) => !!s.cmd !== !!s.script, { message: 'give exactly one of cmd or script', path: ['cmd'] });

export const gitStepSchema = z.strictObject({
  tool: z.literal('git'),
  name: z.string().max(200).optional(),
  url: z.string().min(1),
  branch: z.string().min(1).optional(),
  commit: z.string().regex(/^[0-9a-fA-F]{4,64}$/, 'a commit hash').optional(),
  destination: z.string().min(1).optional(),
  cwd: z.string().optional(),
  env: envVars.optional(),
  timeout: stepTimeout.optional(),
});

export const stepSchema = z.discriminatedUnion('tool', [shellStepSchema, gitStepSchema]);
export type Step = z.infer<typeof stepSchema>;
export type ShellStep = z.infer<typeof shellStepSchema>;
export type GitStep = z.infer<typeof gitStepSchema>;
export const TOOLS = ['shell', 'git'] as const;

export const environmentSchema = z.strictObject({
  system: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  agents_group: z.string().min(1),
  executor: executorSchema.default('local'),
  config: z.string().optional(),
});

export const DEFAULT_JOB_TIMEOUT_S = 600;
export const DEFAULT_JOB_RETRIES = 1;

export const jobSchema = z.strictObject({
  name: z.string().min(1).max(200),
  timeout: z.number().int().min(1, 'at least 1 second').max(7 * 24 * 3600).default(DEFAULT_JOB_TIMEOUT_S),
  /** How often a job whose agent is lost is re-queued before it completes as `agent-lost`. */
  retries: z.number().int().min(0).max(10).default(DEFAULT_JOB_RETRIES),
  /** Values masked in every log line the agent ships. */
  secrets: z.array(z.string().min(1)).optional(),
  steps: z.array(stepSchema).min(1, 'a job needs at least one step'),
  environments: z.array(environmentSchema).min(1, 'a job needs at least one environment'),
});
export type WorkflowJob = z.infer<typeof jobSchema>;

/** A run's jobs are stored in one statement and answered in one response: a bound keeps both sane. */
export const MAX_RUN_JOBS = 10_000;

export const workflowSchema = z
  .object({
    name: z.string().min(1).max(200).optional(),
    jobs: z.array(jobSchema).min(1, 'a workflow needs at least one job'),
  })
  .superRefine((wf, ctx) => {
    const runJobs = wf.jobs.reduce((n, j) => n + j.environments.reduce((m, e) => m + (Array.isArray(e.system) ? e.system.length : 1), 0), 0);
    if (runJobs > MAX_RUN_JOBS) {
      ctx.addIssue({ code: 'custom', path: ['jobs'], message: `a run may have at most ${MAX_RUN_JOBS} jobs (one per job × environment × system); this schema makes ${runJobs}` });
    }
    const seen = new Map<string, number>();
    wf.jobs.forEach((j, i) => {
      const first = seen.get(j.name);
      if (first !== undefined) ctx.addIssue({ code: 'custom', path: ['jobs', i, 'name'], message: `duplicate job name '${j.name}' (also jobs[${first}])` });
      else seen.set(j.name, i);
    });
  });
export type Workflow = z.infer<typeof workflowSchema>;
export type WorkflowInput = z.input<typeof workflowSchema>;

export type WorkflowParseResult = { ok: true; workflow: Workflow } | { ok: false; issues: FieldIssue[] };

/** Validates a workflow given as an object, or as JSON or YAML text; every problem is listed by path. */
export function parseWorkflow(input: unknown): WorkflowParseResult {
  let value = input;
  if (typeof input === 'string') {
    try {
      value = parseYaml(input, { prettyErrors: true }); // JSON is YAML too
    } catch (err) {
      const line = err instanceof YAMLParseError && err.linePos ? ` (line ${err.linePos[0].line})` : '';
      return { ok: false, issues: [{ path: '', message: `not valid YAML or JSON${line}: ${(err as Error).message.split('\n')[0]}` }] };
    }
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, issues: [{ path: '', message: 'a workflow schema is an object with `jobs`' }] };
  }
  const parsed = workflowSchema.safeParse(value);
  return parsed.success ? { ok: true, workflow: parsed.data } : { ok: false, issues: issuesOf(parsed.error) };
}
