import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { agentBundlePath } from '../builtin-agent/builtin-agent';

/** A real `kkagent` process (the bundle `npm run build` makes), with its log lines collected. */
export class AgentProcess {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  readonly dataDir: string;
  private exitPromise: Promise<number | null>;

  constructor(serverUrl: string, opts: { dataDir?: string; env?: NodeJS.ProcessEnv; args?: string[] } = {}) {
    const bundle = agentBundlePath();
    if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run npm run build first`);
    this.dataDir = opts.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'kkagent-test-'));
    this.child = spawn(process.execPath, [bundle, 'run', '-s', serverUrl, '-d', this.dataDir, ...(opts.args ?? [])], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const collect = (chunk: Buffer) => this.lines.push(...chunk.toString().split('\n').filter(Boolean));
    this.child.stdout!.on('data', collect);
    this.child.stderr!.on('data', collect);
    this.exitPromise = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** The id the server gave this agent (from its "connected to server" log line), once connected. */
  agentId(): number | undefined {
    for (const line of this.lines) {
      if (!line.includes('connected to server')) continue;
      try {
        const id = (JSON.parse(line) as { agentId?: number }).agentId;
        if (id) return id;
      } catch {
        /* not a JSON line */
      }
    }
    return undefined;
  }

  output(): string {
    return this.lines.join('\n');
  }

  exited(): Promise<number | null> {
    return this.exitPromise;
  }

  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exitPromise;
  }
}
