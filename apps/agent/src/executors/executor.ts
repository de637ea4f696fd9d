import type { AssignedJob, Executor as ExecutorKind } from '@kraken/protocol';
import type { ToolCommand } from '../tools/tool';

/** How a command ended. `timeout` and `cancelled` mean the agent killed it. */
export interface CommandOutcome {
  status: 'exited' | 'timeout' | 'cancelled' | 'error';
  /** Exit code, or null when killed by a signal or never started. */
  exitCode: number | null;
  /** For `error`: what went wrong (e.g. "cannot start /bin/sh: ENOENT"). */
  message?: string;
}

export interface RunOptions {
  /** Called with each line of stdout/stderr (without the newline), in the order they arrive. */
  onLine: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Aborted when the job is cancelled: kill the whole process tree. */
  signal: AbortSignal;
  /** Kill the command after this long and report `timeout`. */
  timeoutMs: number;
  /** Between SIGTERM and SIGKILL when killing. */
  killGraceMs: number;
}

/**
 * Where a job's commands run: on the host (`local`), in a Docker container or in an LXD
 * container. One executor instance serves one job.
 */
export interface Executor {
  readonly kind: ExecutorKind;
  /** Sets up the job: its work dir (and container). Throws with a clear message on failure. */
  prepare(job: AssignedJob, jobDir: string): Promise<void>;
  run(cmd: ToolCommand, opts: RunOptions): Promise<CommandOutcome>;
  /** Removes what prepare made (containers); the work dir stays for inspection until the next job. */
  cleanup(): Promise<void>;
}
