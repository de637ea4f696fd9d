import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { onCleanup } from './cleanup';
import { AGENT_BUNDLE, ROOT } from './server';

/**
 * Real agent processes: `node apps/agent/dist/kkagent.js run -s URL -d <temp dir>` with
 * KRAKEN_AGENT_TOKEN, each with its own temp data dir. Stopped (SIGTERM, then SIGKILL) and their
 * dirs removed at cleanup.
 */
export interface BenchAgent {
  child: ChildProcess;
  pid: number;
  dataDir: string;
  /** The agent's output (last 500 lines). */
  lines: string[];
  exited: Promise<string>;
}

export function startKkagents(o: { count: number; serverUrl: string; token: string; env?: NodeJS.ProcessEnv; nodeArgs?: string[]; logDir?: string }): BenchAgent[] {
  if (!existsSync(AGENT_BUNDLE)) throw new Error(`${AGENT_BUNDLE} is missing: run npx turbo run build`);
  const root = mkdtempSync(path.join(os.tmpdir(), 'kraken-bench-agents-'));
  onCleanup(`remove ${root}`, () => rmSync(root, { recursive: true, force: true }));
  const agents: BenchAgent[] = [];
  for (let i = 0; i < o.count; i++) {
    const dataDir = path.join(root, `agent-${i}`);
    const child = spawn(process.execPath, [...(o.nodeArgs ?? []), AGENT_BUNDLE, 'run', '-s', o.serverUrl, '-d', dataDir, '--stop-timeout', '5'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, KRAKEN_AGENT_TOKEN: o.token, ...o.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(signal ? `signal ${signal}` : `code ${code}`)));
    const a: BenchAgent = { child, pid: child.pid!, dataDir, lines: [], exited };
    const log = o.logDir ? createWriteStream(path.join(o.logDir, `agent-${i}.log`)) : undefined;
    if (log) child.once('exit', () => log.end());
    const collect = (chunk: Buffer) => {
      log?.write(chunk);
      for (const l of chunk.toString().split('\n')) {
        if (!l) continue;
        a.lines.push(l);
        if (a.lines.length > 500) a.lines.shift();
      }
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    agents.push(a);
  }
  onCleanup(
    'stop the agents',
    async () => {
      const alive = agents.filter((a) => a.child.exitCode === null && a.child.signalCode === null);
      for (const a of alive) a.child.kill('SIGTERM');
      const t = setTimeout(() => alive.forEach((a) => a.child.kill('SIGKILL')), 8000);
      await Promise.all(alive.map((a) => a.exited));
      clearTimeout(t);
    },
    15_000,
  );
  return agents;
}
