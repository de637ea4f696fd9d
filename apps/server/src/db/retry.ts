/** PostgreSQL's SQLSTATE of an error thrown by a Prisma call (through the pg adapter), if any. */
export function sqlState(err: unknown): string | undefined {
  const meta = (err as { meta?: { driverAdapterError?: { cause?: { originalCode?: string; code?: string } } } })?.meta;
  const cause = meta?.driverAdapterError?.cause;
  return cause?.originalCode ?? cause?.code;
}

/**
 * Runs a transaction again when PostgreSQL chose it as the victim of a deadlock (40P01): it was
 * rolled back whole, so running it again is safe. Other errors pass through.
 */
export async function retryOnDeadlock<T>(fn: () => Promise<T>, attempts = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts || sqlState(err) !== '40P01') throw err;
      await new Promise((r) => setTimeout(r, 10 * i));
    }
  }
}
