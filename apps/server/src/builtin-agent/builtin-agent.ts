import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';

/** The agent bundle shipped with the server (also served to agents being installed). */
export function agentBundlePath(): string {
  const pkg = require.resolve('@kraken/agent/package.json');
  return path.join(path.dirname(pkg), 'dist', 'kkagent.js');
}

/**
 * Runs one agent beside the server, as `npm start` promises. It presents the enrollment token,
 * so it is authorized into group `all` without a click. Restarted if it dies.
 */
export class BuiltinAgent {
  private child?: ChildProcess;
  private stopping = false;
  private restartTimer?: NodeJS.Timeout;

  constructor(
    private readonly o: { serverUrl: string; dataDir: string; token: () => Promise<string>; log: Logger },
  ) {}

  async start(): Promise<void> {
    const bundle = agentBundlePath();
    if (!existsSync(bundle)) {
      this.o.log.warn({ bundle }, 'built-in agent not started: the agent is not built (run npm run build)');
      return;
    }
    const token = await this.o.token();
    const child = spawn(process.execPath, [bundle, 'run', '-s', this.o.serverUrl, '-d', this.o.dataDir], {
      env: { ...process.env, KRAKEN_AGENT_TOKEN: token, KRAKEN_AGENT_BUILTIN: '1' },
      stdio: ['ignore', 'inherit', 'inherit'],
      // Its own process group: Ctrl-C in the terminal reaches only the server, which then stops
      // the agent gracefully (a second signal would make it cancel its running jobs).
      detached: true,
    });
    this.child = child;
    this.o.log.info({ pid: child.pid }, 'built-in agent started');
    child.on('exit', (code, signal) => {
      if (this.stopping) return;
      this.o.log.warn({ code, signal }, 'built-in agent exited; restarting in 5 s');
      this.restartTimer = setTimeout(() => void this.start().catch((err) => this.o.log.error({ err }, 'built-in agent restart failed')), 5000);
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }
}
