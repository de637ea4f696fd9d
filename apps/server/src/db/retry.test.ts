import pino from 'pino';
import { createTestDatabase } from '../test-support/database';
import { migrate } from './migrate';
import { createDb, type Db } from './prisma';
import { retryOnDeadlock, sqlState } from './retry';

describe('retryOnDeadlock', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let db: Db;
  beforeAll(async () => {
    database = await createTestDatabase();
    await migrate(database.url, pino({ level: 'silent' }));
    db = createDb(database.url, 4);
    await db.$executeRawUnsafe('CREATE TABLE pair (id int PRIMARY KEY, v int NOT NULL)');
  });
  afterAll(async () => {
    await db.$disconnect();
    await database.drop();
  });
  beforeEach(async () => {
    await db.$executeRawUnsafe('TRUNCATE pair');
    await db.$executeRawUnsafe('INSERT INTO pair VALUES (1, 0), (2, 0)');
  });

  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  /** Two transactions that lock the rows in opposite orders: PostgreSQL rolls one back. */
  const crossed = (first: number, second: number, value: number) => () =>
    db.$transaction(async (tx) => {
      await tx.$executeRawUnsafe('UPDATE pair SET v = v + $2 WHERE id = $1', first, value);
      await sleep(150);
      await tx.$executeRawUnsafe('UPDATE pair SET v = v + $2 WHERE id = $1', second, value);
    });

  it('shows a deadlock as SQLSTATE 40P01', async () => {
    const results = await Promise.allSettled([crossed(1, 2, 1)(), crossed(2, 1, 10)()]);
    const failed = results.filter((r) => r.status === 'rejected');
    expect(failed).toHaveLength(1);
    expect(sqlState((failed[0] as PromiseRejectedResult).reason)).toBe('40P01');
  });

  it('runs the victim again, so both take effect once', async () => {
    await Promise.all([retryOnDeadlock(crossed(1, 2, 1)), retryOnDeadlock(crossed(2, 1, 10))]);
    const rows = await db.$queryRawUnsafe<{ id: number; v: number }[]>('SELECT id, v FROM pair ORDER BY id');
    expect(rows).toEqual([
      { id: 1, v: 11 },
      { id: 2, v: 11 },
    ]);
  });

  it('lets other errors through at once', async () => {
    let calls = 0;
    await expect(
      retryOnDeadlock(async () => {
        calls++;
        await db.$executeRawUnsafe('INSERT INTO pair VALUES (1, 0)');
      }),
    ).rejects.toThrow();
    expect(calls).toBe(1);
  });
});
