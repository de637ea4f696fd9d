import pino from 'pino';
import { createDb, type Db } from '../db/prisma';
import { migrate } from '../db/migrate';
import { createTestDatabase } from '../test-support/database';
import { claimJobs, readQueuedJobs } from './job-queue';

/** The scheduler's two statements against a real PostgreSQL: read the queue, claim from it. */
describe('job queue statements', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let db: Db;
  let other: Db; // a second pool, as a second server would have
  const linux = { system: 'debian-12', docker: false, lxd: false };

  beforeAll(async () => {
    database = await createTestDatabase();
    await migrate(database.url, pino({ level: 'silent' }));
    db = createDb(database.url, 4);
    other = createDb(database.url, 4);
  });
  afterAll(async () => {
    await db.$disconnect();
    await other.$disconnect();
    await database.drop();
  });

  let group: number;
  let agents: number[];
  beforeEach(async () => {
    await db.$executeRawUnsafe('TRUNCATE runs, jobs, job_steps, job_assignments, agents, agents_groups, agent_assignments CASCADE');
    [{ id: group }] = await db.$queryRawUnsafe<{ id: number }[]>(`INSERT INTO agents_groups (name) VALUES ('g') RETURNING id`);
    agents = (
      await db.$queryRawUnsafe<{ id: number }[]>(
        `INSERT INTO agents (name, address, identity_hash, authorized, host_info, updated_at)
         SELECT 'a' || i, '10.0.0.' || i, md5(i::text), true, '{}', now() FROM generate_series(1, 4) i RETURNING id`,
      )
    ).map((r) => r.id);
  });

  /** Queues `n` jobs of group g (system `any` unless given), oldest first; answers their ids. */
  async function queue(n: number, system = 'any'): Promise<number[]> {
    const [{ id: run }] = await db.$queryRawUnsafe<{ id: number }[]>(`INSERT INTO runs (name) VALUES ('r') RETURNING id`);
    const rows = await db.$queryRawUnsafe<{ id: number }[]>(
      `INSERT INTO jobs (run_id, name, group_name, group_id, executor, system, timeout_s, retries, steps_spec, queued_at)
       SELECT $1, 'j' || i, 'g', $2, 'local', $3, 60, 1, '[]', clock_timestamp() FROM generate_series(1, $4) i ORDER BY i RETURNING id`,
      run,
      group,
      system,
      n,
    );
    return rows.map((r) => r.id).sort((a, b) => a - b);
  }

  it('reads the oldest fitting jobs first, leaving out the excluded and the unfitting', async () => {
    const ids = await queue(5);
    const [ubuntu] = await queue(1, 'ubuntu-24.04');
    const later = await queue(2);
    const read = await readQueuedJobs(db, [{ groups: [group], profile: linux }], [ids[1]], 10);
    expect(read.map((r) => r.id)).toEqual([ids[0], ids[2], ids[3], ids[4], ...later]);
    expect(read.map((r) => r.id)).not.toContain(ubuntu);
    expect(await readQueuedJobs(db, [{ groups: [group + 1], profile: linux }], [], 10)).toEqual([]);
    expect((await readQueuedJobs(db, [{ groups: [group], profile: linux }], [], 2)).map((r) => r.id)).toEqual(ids.slice(0, 2));
  });

  it('claims only jobs still queued, for agents still authorized and enabled', async () => {
    const ids = await queue(4);
    await db.$executeRawUnsafe(`UPDATE agents SET disabled = true WHERE id = $1`, agents[3]);
    const first = await claimJobs(db, [{ jobId: ids[0], agentId: agents[0] }], 10);
    expect([...first]).toEqual([ids[0]]);
    // ids[0] is taken now; agents[3] is disabled.
    const second = await claimJobs(
      db,
      [
        { jobId: ids[0], agentId: agents[1] },
        { jobId: ids[1], agentId: agents[2] },
        { jobId: ids[2], agentId: agents[3] },
      ],
      10,
    );
    expect([...second]).toEqual([ids[1]]);
    const rows = await db.$queryRawUnsafe<{ id: number; state: string; agent_id: number | null; attempt: number }[]>(
      'SELECT id, state, agent_id, attempt FROM jobs ORDER BY id',
    );
    expect(rows).toEqual([
      { id: ids[0], state: 'assigned', agent_id: agents[0], attempt: 1 },
      { id: ids[1], state: 'assigned', agent_id: agents[2], attempt: 1 },
      { id: ids[2], state: 'queued', agent_id: null, attempt: 0 },
      { id: ids[3], state: 'queued', agent_id: null, attempt: 0 },
    ]);
    const assignments = await db.$queryRawUnsafe<{ job_id: number; agent_id: number }[]>('SELECT job_id, agent_id FROM job_assignments ORDER BY job_id');
    expect(assignments).toEqual([
      { job_id: ids[0], agent_id: agents[0] },
      { job_id: ids[1], agent_id: agents[2] },
    ]);
  });

  it('gives each job to one of two servers claiming the same jobs at the same moment', async () => {
    for (let round = 0; round < 20; round++) {
      await db.$executeRawUnsafe('TRUNCATE jobs, job_assignments CASCADE');
      const ids = await queue(50);
      const picks = (agent: number) => ids.map((jobId) => ({ jobId, agentId: agent }));
      const [a, b] = await Promise.all([claimJobs(db, picks(agents[0]), 10), claimJobs(other, picks(agents[1]), 10)]);
      const both = [...a].filter((id) => b.has(id));
      expect(both).toEqual([]);
      expect(a.size + b.size).toBe(50);
      const [{ n }] = await db.$queryRawUnsafe<{ n: number }[]>('SELECT count(*)::int AS n FROM job_assignments');
      expect(n).toBe(50);
    }
  });
});
