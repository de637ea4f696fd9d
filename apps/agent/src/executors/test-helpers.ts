import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AssignedJob } from '@kraken/protocol';
import type { ToolCommand } from '../tools/tool';
import type { CommandOutcome, Executor, RunOptions } from './executor';

/** Test helpers for executor and tool tests (not used by the agent itself). */

export function makeJob(over: Partial<AssignedJob> = {}): AssignedJob {
  return {
    id: 42,
    runId: 7,
    name: 'test job',
    executor: 'local',
    system: 'any',
    timeout: 600,
    attempt: 1,
    secrets: [],
    steps: [{ tool: 'shell', cmd: 'true', index: 0 }],
    ...over,
  };
}

export function tempDir(prefix = 'kraken-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface Collected {
  outcome: CommandOutcome;
  lines: { line: string; stream: 'stdout' | 'stderr' }[];
  stdout: string[];
  stderr: string[];
  ms: number;
}

export async function runCollect(
  executor: Executor,
  cmd: Partial<ToolCommand> & { script: string },
  opts: Partial<RunOptions> & { onLineAlso?: (line: string, stream: 'stdout' | 'stderr') => void } = {},
): Promise<Collected> {
  const lines: Collected['lines'] = [];
  const started = Date.now();
  const outcome = await executor.run(
    { env: {}, ...cmd },
    {
      signal: opts.signal ?? new AbortController().signal,
      timeoutMs: opts.timeoutMs ?? 30_000,
      killGraceMs: opts.killGraceMs ?? 1000,
      onLine: (line, stream) => {
        lines.push({ line, stream });
        opts.onLineAlso?.(line, stream);
      },
    },
  );
  return {
    outcome,
    lines,
    stdout: lines.filter((l) => l.stream === 'stdout').map((l) => l.line),
    stderr: lines.filter((l) => l.stream === 'stderr').map((l) => l.line),
    ms: Date.now() - started,
  };
}

/** Alive and not a zombie (zombies wait for a late-reaping init here; they are dead). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Kills pids a failed test may have left behind. */
export function killPids(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}
