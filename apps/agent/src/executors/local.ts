import { spawn, type ChildProcess } from 'node:child_process';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { AssignedJob } from '@kraken/protocol';
import { DEFAULT_SHELL } from '../tools/shell';
import type { ToolCommand } from '../tools/tool';
import type { CommandOutcome, Executor, RunOptions } from './executor';
import { LineSplitter } from './line-splitter';
import { killGroup, signalGroup, type KillResult } from './process-group';

export interface LocalExecutorOptions {
  /** Shell for commands that name none; default `/bin/sh`. */
  defaultShell?: string;
  /** Environment the commands start from; default `process.env`. */
  baseEnv?: NodeJS.ProcessEnv;
  /** After the process group is gone, how long to wait for its output pipes to close. */
  drainMs?: number;
}

/** Variables of the agent's own environment that commands must not see. */
const HIDDEN_ENV = ['KRAKEN_AGENT_TOKEN'];
/** Scripts longer than this go through a temporary file instead of `-c` (Linux caps one argument at 128 KiB). */
const MAX_INLINE_SCRIPT_BYTES = 64 * 1024;
/** setTimeout's limit. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface JobContext {
  job: AssignedJob;
  /** The job dir, symlinks resolved. */
  jobDir: string;
}

/**
 * Runs a job's commands on the host, in `jobDir`. Each command is `<shell> -c <script>` as the
 * leader of a new session and process group (`detached: true`), with stdin from /dev/null and
 * stdout/stderr read line by line. When the command ends, times out or is cancelled, the whole
 * group is killed (SIGTERM, `killGraceMs`, SIGKILL) — background processes left behind by a
 * command that exited are killed too, so nothing of a step outlives it (a process that wants
 * to survive must leave the group on purpose, e.g. with `setsid`). `run()` resolves only once
 * the group is gone and the output is drained (bounded: if something survives SIGKILL for 5 s,
 * or a process that left the group keeps the pipes open for `drainMs`, it resolves anyway and
 * says so in the message).
 *
 * - cwd: `cmd.cwd` relative to the job dir (an absolute path is accepted only inside it); one that
 *   leaves the job dir (also through a symlink), does not exist or is not a directory is an
 *   `error` outcome and nothing runs.
 * - env: the agent's environment (minus KRAKEN_AGENT_TOKEN) + KRAKEN_JOB_ID, KRAKEN_RUN_ID,
 *   KRAKEN_JOB_NAME, KRAKEN_JOB_DIR, KRAKEN_EXECUTOR=local + `cmd.env` (which wins).
 * - timeout: the smaller of `opts.timeoutMs` and `cmd.timeoutMs` → status `timeout`; an aborted
 *   `opts.signal` → `cancelled`; both report the leader's exit code (null when a signal killed it).
 * - a normal end → `exited` with the code, or exitCode null and "killed by signal SIGx".
 */
export class LocalExecutor implements Executor {
  readonly kind = 'local' as const;
  private ctx: JobContext | undefined;
  private readonly active = new Set<number>();
  private readonly defaultShell: string;
  private readonly baseEnv: NodeJS.ProcessEnv;
  private readonly drainMs: number;

  constructor(opts: LocalExecutorOptions = {}) {
    this.defaultShell = opts.defaultShell ?? DEFAULT_SHELL;
    this.baseEnv = opts.baseEnv ?? process.env;
    this.drainMs = opts.drainMs ?? 2000;
  }

  /** The job dir (symlinks resolved) once prepared. */
  get jobDir(): string | undefined {
    return this.ctx?.jobDir;
  }

  async prepare(job: AssignedJob, jobDir: string): Promise<void> {
    if (!path.isAbsolute(jobDir)) throw new Error(`the job dir must be an absolute path, not '${jobDir}'`);
    const dir = path.resolve(jobDir);
    if (dir === path.parse(dir).root) throw new Error(`refusing to use '${dir}' as a job dir`);
    try {
      await removeTree(dir);
    } catch (err) {
      throw new Error(`cannot remove the old job dir ${dir}: ${errMessage(err)}`);
    }
    try {
      await fsp.mkdir(dir, { recursive: true, mode: 0o755 });
    } catch (err) {
      throw new Error(`cannot create the job dir ${dir}: ${errMessage(err)}`);
    }
    const probe = path.join(dir, '.kraken-write-test');
    try {
      await fsp.writeFile(probe, 'ok');
      await fsp.rm(probe, { force: true });
    } catch (err) {
      throw new Error(`the job dir ${dir} is not writable: ${errMessage(err)}`);
    }
    this.ctx = { job, jobDir: await fsp.realpath(dir) };
  }

  async run(cmd: ToolCommand, opts: RunOptions): Promise<CommandOutcome> {
    const ctx = this.ctx;
    if (!ctx) return { status: 'error', exitCode: null, message: 'the local executor was not prepared for a job' };
    const cwd = await resolveCwd(ctx.jobDir, cmd.cwd);
    if (typeof cwd !== 'string') return { status: 'error', exitCode: null, message: cwd.error };
    if (opts.signal.aborted) return { status: 'cancelled', exitCode: null, message: 'cancelled before it started' };

    const shellWords = (cmd.shell ?? this.defaultShell).trim().split(/\s+/).filter((w) => w !== '');
    if (shellWords.length === 0) return { status: 'error', exitCode: null, message: 'no shell given to run the command with' };
    const [shellFile, ...shellArgs] = shellWords;

    let scriptDir: string | undefined;
    let args: string[];
    if (Buffer.byteLength(cmd.script) > MAX_INLINE_SCRIPT_BYTES) {
      try {
        scriptDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'kraken-script-'));
        const file = path.join(scriptDir, 'script.sh');
        await fsp.writeFile(file, cmd.script, { mode: 0o600 });
        args = [...shellArgs, file];
      } catch (err) {
        if (scriptDir) await fsp.rm(scriptDir, { recursive: true, force: true }).catch(() => undefined);
        return { status: 'error', exitCode: null, message: `cannot write the script to a temporary file: ${errMessage(err)}` };
      }
    } else {
      args = [...shellArgs, '-c', cmd.script];
    }

    try {
      return await this.spawnAndWait(shellFile, args, cwd, this.commandEnv(ctx, cmd), cmd, opts);
    } catch (err) {
      return { status: 'error', exitCode: null, message: `the local executor failed: ${errMessage(err)}` };
    } finally {
      if (scriptDir) await fsp.rm(scriptDir, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  /** Kills whatever of this executor's commands still runs (a run() whose caller gave up); the job dir stays. */
  async cleanup(): Promise<void> {
    await Promise.all([...this.active].map((pgid) => killGroup(pgid, 0)));
  }

  private commandEnv(ctx: JobContext, cmd: ToolCommand): Record<string, string> {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.baseEnv)) if (v !== undefined && !HIDDEN_ENV.includes(k)) env[k] = v;
    env.KRAKEN_JOB_ID = String(ctx.job.id);
    env.KRAKEN_RUN_ID = String(ctx.job.runId);
    env.KRAKEN_JOB_NAME = ctx.job.name;
    env.KRAKEN_JOB_DIR = ctx.jobDir;
    env.KRAKEN_EXECUTOR = 'local';
    return Object.assign(env, cmd.env);
  }

  private async spawnAndWait(
    file: string,
    args: string[],
    cwd: string,
    env: Record<string, string>,
    cmd: ToolCommand,
    opts: RunOptions,
  ): Promise<CommandOutcome> {
    let child: ChildProcess;
    try {
      child = spawn(file, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      return { status: 'error', exitCode: null, message: `cannot start ${file}: ${errMessage(err)}` };
    }

    // Every listener is attached before the first await, so no event is missed.
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    const started = new Promise<Error | null>((resolve) => {
      child.once('spawn', () => resolve(null));
      child.once('error', (err) => resolve(err));
    });
    child.on('error', () => undefined); // later errors (e.g. a failed kill) must not crash the agent
    const deliver = (stream: 'stdout' | 'stderr') => (line: string) => {
      try {
        opts.onLine(line, stream);
      } catch {
        // a failing consumer must not break the command's bookkeeping
      }
    };
    const drained = [pump(child.stdout!, new LineSplitter(deliver('stdout'))), pump(child.stderr!, new LineSplitter(deliver('stderr')))];

    const startError = await started;
    if (startError || child.pid === undefined) {
      for (const d of drained) d.finish();
      return { status: 'error', exitCode: null, message: `cannot start ${file}: ${errMessage(startError)}` };
    }
    const pgid = child.pid;
    this.active.add(pgid);
    trackForExit(pgid);

    let reason: 'timeout' | 'cancelled' | undefined;
    let killing: Promise<KillResult> | undefined;
    const terminate = (why: 'timeout' | 'cancelled') => {
      if (reason) return;
      reason = why;
      killing = killGroup(pgid, Math.max(0, opts.killGraceMs));
    };
    const timeoutMs = Math.min(opts.timeoutMs, cmd.timeoutMs ?? Infinity);
    const timer = Number.isFinite(timeoutMs) ? setTimeout(() => terminate('timeout'), Math.min(Math.max(0, timeoutMs), MAX_TIMER_MS)) : undefined;
    const onAbort = () => terminate('cancelled');
    opts.signal.addEventListener('abort', onAbort, { once: true });
    if (opts.signal.aborted) onAbort();

    const exit = await exited;
    clearTimeout(timer);
    opts.signal.removeEventListener('abort', onAbort);
    // The leader is gone; whatever is left of its group (background jobs) goes now.
    const leftovers = killing === undefined;
    const kill = killing ? await killing : await killGroup(pgid, Math.max(0, opts.killGraceMs));
    this.active.delete(pgid);
    untrackForExit(pgid);

    // With the group gone the pipes close at once, unless a process that left the group holds them.
    const drainTimer = setTimeout(() => drained.forEach((d) => d.finish()), this.drainMs);
    await Promise.all(drained.map((d) => d.done));
    clearTimeout(drainTimer);

    const notes: string[] = [];
    if (kill.usedSigkill) notes.push(`killed with SIGKILL after a ${opts.killGraceMs} ms grace period`);
    if (leftovers && kill.hadProcesses) notes.push('background processes it left were killed');
    if (!kill.gone) notes.push(`some processes of group ${pgid} survived SIGKILL`);
    const withNotes = (head?: string) => {
      const text = [head, ...notes].filter((s) => s !== undefined && s !== '').join('; ');
      return text === '' ? undefined : text;
    };
    const outcome = (status: CommandOutcome['status'], head?: string): CommandOutcome => {
      const message = withNotes(head);
      return message === undefined ? { status, exitCode: exit.code } : { status, exitCode: exit.code, message };
    };
    if (reason === 'timeout') return outcome('timeout', `timed out after ${formatMs(timeoutMs)}`);
    if (reason === 'cancelled') return outcome('cancelled', 'cancelled');
    if (exit.code === null) return outcome('exited', `killed by signal ${exit.signal ?? 'unknown'}`);
    return outcome('exited');
  }
}

/** Reads a stream into a splitter; `done` settles when it closed (or `finish()` gave up on it). */
function pump(stream: Readable, splitter: LineSplitter): { done: Promise<void>; finish: () => void } {
  let finish!: () => void;
  const done = new Promise<void>((resolve) => {
    finish = () => {
      splitter.end();
      resolve();
    };
  });
  stream.on('data', (chunk: Buffer) => splitter.write(chunk));
  stream.once('end', finish);
  stream.once('close', finish);
  stream.on('error', finish);
  return {
    done,
    finish: () => {
      stream.destroy();
      finish();
    },
  };
}

/** Where the agent keeps a job's work dir, as upstream: `<data dir>/jobs/<job id>`. */
export function jobDirPath(dataDir: string, jobId: number): string {
  return path.join(path.resolve(dataDir), 'jobs', String(jobId));
}

/**
 * Removes the work dirs in `jobsRoot` (e.g. `<data dir>/jobs`) except those named in `keep`
 * (the running jobs'), so old jobs do not fill the disk. Returns the names removed; a dir that
 * cannot be removed is skipped.
 */
export async function pruneJobDirs(jobsRoot: string, keep: Iterable<string | number>): Promise<string[]> {
  const kept = new Set([...keep].map(String));
  const names = await fsp.readdir(jobsRoot).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const name of names) {
    if (kept.has(name)) continue;
    try {
      await removeTree(path.join(jobsRoot, name));
      removed.push(name);
    } catch {
      // busy or not ours: leave it
    }
  }
  return removed;
}

/** The command's cwd: inside the job dir (also after resolving symlinks), existing, a directory. */
export async function resolveCwd(jobDir: string, cwd: string | undefined): Promise<string | { error: string }> {
  if (cwd === undefined || cwd === '' || cwd === '.') return jobDir;
  const target = path.resolve(jobDir, cwd);
  if (!isInside(jobDir, target)) return { error: `cwd '${cwd}' is outside the job dir` };
  let real: string;
  try {
    real = await fsp.realpath(target);
  } catch {
    return { error: `cwd '${cwd}' does not exist in the job dir` };
  }
  if (!isInside(jobDir, real)) return { error: `cwd '${cwd}' leads outside the job dir (through a symbolic link)` };
  const stat = await fsp.stat(real).catch(() => undefined);
  if (!stat?.isDirectory()) return { error: `cwd '${cwd}' is not a directory` };
  return target;
}

function isInside(base: string, p: string): boolean {
  const rel = path.relative(base, p);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/** rm -rf that also copes with read-only directories (e.g. a Go module cache). */
async function removeTree(dir: string): Promise<void> {
  try {
    await fsp.rm(dir, { recursive: true, force: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EACCES' && code !== 'EPERM' && code !== 'ENOTEMPTY') throw err;
    await makeWritable(dir);
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

async function makeWritable(dir: string): Promise<void> {
  await fsp.chmod(dir, 0o700).catch(() => undefined);
  const entries = await fsp.readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) if (e.isDirectory()) await makeWritable(path.join(dir, e.name));
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// If the agent exits while commands run (a crash, process.exit), their groups go with it.
const liveGroups = new Set<number>();
let exitHookInstalled = false;
function trackForExit(pgid: number): void {
  liveGroups.add(pgid);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const g of liveGroups) {
        try {
          signalGroup(g, 'SIGKILL');
        } catch {
          // nothing more to do while exiting
        }
      }
    });
  }
}
function untrackForExit(pgid: number): void {
  liveGroups.delete(pgid);
}
