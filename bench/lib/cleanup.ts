/**
 * Cleanup for benchmarks: register undo steps as resources are made; they run in reverse order
 * on success, failure, Ctrl-C, SIGTERM or when the overall deadline passes. Each step is bounded in time.
 */
type Step = { what: string; run: () => Promise<unknown> | unknown; timeoutMs: number };

const steps: Step[] = [];
let running: Promise<void> | undefined;

export function onCleanup(what: string, run: Step['run'], timeoutMs = 15_000): void {
  steps.push({ what, run, timeoutMs });
}

export function cleanup(): Promise<void> {
  running ??= (async () => {
    while (steps.length) {
      const s = steps.pop()!;
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          Promise.resolve().then(s.run),
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error(`timed out after ${s.timeoutMs} ms`)), s.timeoutMs);
          }),
        ]);
      } catch (err) {
        process.stderr.write(`cleanup: ${s.what} failed: ${err instanceof Error ? err.message : String(err)}\n`);
      } finally {
        clearTimeout(timer);
      }
    }
  })();
  return running;
}

/**
 * Runs a benchmark's main function with cleanup on every way out and an overall deadline.
 * The process exits with main's code (0 = all targets met, 1 = a target missed, 2+ = failure).
 */
export function runBenchmark(main: () => Promise<number>, opts: { deadlineSeconds: number }): void {
  let exiting = false;
  const finish = async (code: number) => {
    if (exiting) return;
    exiting = true;
    await cleanup();
    process.exit(code);
  };
  const deadline = setTimeout(() => {
    process.stderr.write(`benchmark: overall deadline of ${opts.deadlineSeconds} s passed, cleaning up\n`);
    void finish(3);
  }, opts.deadlineSeconds * 1000);
  deadline.unref();
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      process.stderr.write(`benchmark: ${sig}, cleaning up\n`);
      void finish(130);
    });
  }
  main().then(
    (code) => finish(code),
    (err) => {
      process.stderr.write(`benchmark failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
      void finish(2);
    },
  );
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` until truthy or fails after `timeoutMs`. */
export async function waitUntil<T>(what: string, check: () => Promise<T> | T, timeoutMs: number, everyMs = 100): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(everyMs);
  }
}
