import type { Executor as ExecutorKind } from '@kraken/protocol';
import type { Executor } from './executor';
import { LocalExecutor, type LocalExecutorOptions } from './local';

export type { CommandOutcome, Executor, RunOptions } from './executor';
export { LocalExecutor, jobDirPath, pruneJobDirs, type LocalExecutorOptions } from './local';

export class UnsupportedExecutorError extends Error {
  constructor(readonly kind: string) {
    super(`executor '${kind}' is not supported by this agent yet`);
    this.name = 'UnsupportedExecutorError';
  }
}

/** A fresh executor for one job. Throws UnsupportedExecutorError for docker and lxd (not built yet). */
export function createExecutor(kind: ExecutorKind, opts: { local?: LocalExecutorOptions } = {}): Executor {
  switch (kind) {
    case 'local':
      return new LocalExecutor(opts.local);
    case 'docker':
    case 'lxd':
      throw new UnsupportedExecutorError(kind);
    default:
      throw new UnsupportedExecutorError(String(kind));
  }
}
