import path from 'node:path';
import type { Logger } from 'pino';
import type { AgentToServerMessage, AssignedJob, AssignedStep, FinishedJobReport, JobCancelMessage, StepResult } from '@kraken/protocol';
import { createExecutor, jobDirPath, pruneJobDirs, type CommandOutcome, type Executor } from '../executors';
import { commandsForStep } from '../tools';
import type { LogShipper } from '../logs/shipper';
import { OutputTail } from './output-tail';

type JobStatus = Extract<AgentToServerMessage, { type: 'job-finished' }>['status'];

export interface JobRunnerOptions {
  dataDir: string;
  log: Logger;
  /** Sends a message to the server; answers false when the connection is down (the runner keeps it for later). */
  send: (msg: AgentToServerMessage) => boolean;
  shipper?: LogShipper;
  /** Between SIGTERM and SIGKILL when a step is killed. */
  killGraceMs?: number;
  /** Job work dirs kept for inspection. */
  keepJobDirs?: number;
}

interface RunningJob {
  job: AssignedJob;
  abort: AbortController;
  cancelReason?: JobCancelMessage['reason'];
  done: Promise<void>;
}

const MASK = '******';

/**
 * Runs the jobs the server assigns: each in a fresh work dir, step after step, reporting every
 * step's start and result and the job's end. Reports made while the server is unreachable wait
 * in an outbox and go out, in order, as soon as the agent is connected again.
 */
export class JobRunner {
  private readonly running = new Map<number, RunningJob>();
  private readonly outbox: AgentToServerMessage[] = [];
  private readonly recent: number[] = [];
  /** Final reports of the last jobs, repeated in every hello in case one was lost with a connection. */
  private readonly finished: FinishedJobReport[] = [];

  constructor(private readonly o: JobRunnerOptions) {}

  get runningJobIds(): number[] {
    return [...this.running.keys()];
  }

  get finishedReports(): FinishedJobReport[] {
    return [...this.finished];
  }

  get idle(): boolean {
    return this.running.size === 0;
  }

  /** Sends the reports kept while disconnected (call after each welcome). */
  flushOutbox(): void {
    while (this.outbox.length) {
      if (!this.o.send(this.outbox[0])) return;
      this.outbox.shift();
    }
  }

  get pendingReports(): number {
    return this.outbox.length;
  }

  private report(msg: AgentToServerMessage): void {
    if (this.outbox.length || !this.o.send(msg)) this.outbox.push(msg);
  }

  assign(job: AssignedJob): void {
    if (this.running.has(job.id)) {
      this.o.log.debug({ jobId: job.id }, 'job already running; duplicate assignment ignored');
      return;
    }
    const abort = new AbortController();
    const entry: RunningJob = { job, abort, done: Promise.resolve() };
    entry.done = this.run(entry)
      .catch((err) => this.o.log.error({ err, jobId: job.id }, 'job runner failed'))
      .finally(() => this.running.delete(job.id));
    this.running.set(job.id, entry);
  }

  cancel(jobId: number, reason: JobCancelMessage['reason']): void {
    const entry = this.running.get(jobId);
    if (!entry) return;
    this.o.log.info({ jobId, reason }, reason === 'moved' ? 'the server moved this job elsewhere; dropping it' : `job ${reason}; stopping it`);
    entry.cancelReason = reason;
    entry.abort.abort();
  }

  cancelAll(reason: JobCancelMessage['reason']): void {
    for (const id of this.running.keys()) this.cancel(id, reason);
  }

  /** Resolves when no job runs any more. */
  async whenIdle(): Promise<void> {
    while (this.running.size) await Promise.allSettled([...this.running.values()].map((r) => r.done));
  }

  private mask(job: AssignedJob, text: string): string {
    let out = text;
    for (const s of job.secrets) if (s) out = out.split(s).join(MASK);
    return out;
  }

  private async run(entry: RunningJob): Promise<void> {
    const { job, abort } = entry;
    const log = this.o.log.child({ jobId: job.id, runId: job.runId });
    const deadline = Date.now() + job.timeout * 1000;
    const jobsRoot = path.join(this.o.dataDir, 'jobs');
    const jobDir = jobDirPath(this.o.dataDir, job.id);
    this.o.shipper?.setSecrets(job.secrets);
    log.info({ name: job.name, executor: job.executor, attempt: job.attempt }, 'job started');
    this.report({ type: 'job-started', jobId: job.id });

    let status: JobStatus = 'ok';
    let message: string | undefined;
    let executor: Executor | undefined;
    const stepResults: FinishedJobReport['steps'] = [];
    try {
      executor = createExecutor(job.executor);
      await executor.prepare(job, jobDir);
    } catch (err) {
      status = 'error';
      message = `cannot set up the job: ${(err as Error).message}`;
      log.error(message);
    }

    for (const step of job.steps) {
      if (status !== 'ok' || !executor) break;
      const result = await this.runStep(job, step, executor, deadline, abort.signal, entry);
      stepResults.push({ index: step.index, result });
      if (result.status !== 'ok') {
        status = result.status === 'failed' ? 'failed' : result.status;
        message = result.message ?? `step ${step.index} ${result.status}${result.exitCode !== null ? ` with exit code ${result.exitCode}` : ''}`;
      }
    }
    if (entry.cancelReason && status === 'ok') status = 'cancelled';
    await executor?.cleanup().catch((err) => log.warn({ err }, 'job clean-up failed'));
    this.o.shipper?.clearSecrets(job.secrets);
    const final = { jobId: job.id, status, ...(message ? { message: this.mask(job, message) } : {}) };
    // Kept small: these ride along in every hello, whose frame size is limited.
    const brief = stepResults.map((s) => ({ index: s.index, result: { ...s.result, outputTail: s.result.outputTail.slice(-1024) } }));
    this.finished.push({ ...final, steps: brief });
    while (this.finished.length > 5) this.finished.shift();
    this.report({ type: 'job-finished', ...final });
    log.info({ status }, 'job finished');
    this.recent.push(job.id);
    while (this.recent.length > (this.o.keepJobDirs ?? 5)) this.recent.shift();
    await pruneJobDirs(jobsRoot, [...this.recent, ...this.running.keys()]).catch(() => undefined);
  }

  private async runStep(
    job: AssignedJob,
    step: AssignedStep,
    executor: Executor,
    deadline: number,
    signal: AbortSignal,
    entry: RunningJob,
  ): Promise<StepResult> {
    const started = Date.now();
    this.report({ type: 'step-started', jobId: job.id, index: step.index });
    const tail = new OutputTail();
    const writer = this.o.shipper?.writer({ run: job.runId, job: job.id, step: step.index, tool: step.tool, service: 'tool' });
    let outcome: CommandOutcome = { status: 'exited', exitCode: 0 };
    let message: string | undefined;
    let wrote = false;
    try {
      for (const cmd of commandsForStep(step)) {
        const left = deadline - Date.now();
        if (left <= 0) {
          outcome = { status: 'timeout', exitCode: null, message: `the job's timeout of ${job.timeout} s was reached` };
          break;
        }
        outcome = await executor.run(cmd, {
          onLine: (line) => {
            const masked = this.mask(job, line);
            tail.push(masked);
            wrote = true;
            writer?.write(masked);
          },
          signal,
          timeoutMs: Math.min(cmd.timeoutMs ?? Infinity, left),
          killGraceMs: this.o.killGraceMs ?? 5000,
        });
        if (outcome.status !== 'exited' || outcome.exitCode !== 0) break;
      }
    } catch (err) {
      outcome = { status: 'error', exitCode: null, message: (err as Error).message };
    }
    if (outcome.status === 'cancelled' || (entry.cancelReason && outcome.status !== 'exited')) {
      outcome = { ...outcome, status: 'cancelled' };
      message = entry.cancelReason === 'timeout' ? 'the server timed the job out' : 'cancelled';
    } else if (outcome.status === 'timeout') {
      message = outcome.message ?? (deadline - Date.now() <= 100 ? `the job's timeout of ${job.timeout} s was reached` : `the step's timeout was reached`);
    } else if (outcome.message) message = outcome.message;
    // A finished step's log is complete before its result is reported (nothing to wait for if it printed nothing).
    if (wrote) await writer?.flush(10_000).catch(() => undefined);
    const status: StepResult['status'] =
      outcome.status === 'exited' ? (outcome.exitCode === 0 ? 'ok' : 'failed') : outcome.status === 'cancelled' ? 'cancelled' : outcome.status;
    const result: StepResult = {
      status,
      exitCode: outcome.exitCode,
      durationMs: Date.now() - started,
      outputTail: tail.toString(),
      ...(message ? { message: this.mask(job, message) } : {}),
    };
    this.report({ type: 'step-finished', jobId: job.id, index: step.index, result });
    return result;
  }
}
