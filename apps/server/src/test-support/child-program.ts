import { spawn, type ChildProcess } from 'node:child_process';

/** A real Node.js program run by a test, with every line it prints collected. */
export class ChildProgram {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  private readonly exitPromise: Promise<number | null>;

  /** `ownGroup`: the program leads its own process group, as a command started in a terminal does. */
  constructor(args: string[], env: NodeJS.ProcessEnv, opts: { ownGroup?: boolean } = {}) {
    this.child = spawn(process.execPath, args, {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: opts.ownGroup ?? false,
    });
    const collect = (chunk: Buffer) => this.lines.push(...chunk.toString().split('\n').filter(Boolean));
    this.child.stdout!.on('data', collect);
    this.child.stderr!.on('data', collect);
    this.exitPromise = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  get pid(): number {
    return this.child.pid!;
  }

  output(): string {
    return this.lines.join('\n');
  }

  exited(): Promise<number | null> {
    return this.exitPromise;
  }

  /** Ctrl-C in a terminal: SIGINT to every process of the program's group (needs `ownGroup`). */
  interruptGroup(): void {
    process.kill(-this.pid, 'SIGINT');
  }

  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exitPromise;
  }
}
