import pg from 'pg';
import { readCpuSeconds } from './proc';

/**
 * Work PostgreSQL did for one database (pg_stat_database, pg_stat_user_tables): take a snapshot
 * before and after a phase and print the difference, e.g. to see which table a phase reads.
 * Statistics reach these views with a delay of up to a second (PostgreSQL 15+).
 */
export interface PgSnapshot {
  commits: number;
  tuplesReturned: number;
  tables: Record<string, { rowsRead: number; inserts: number; updates: number }>;
}

export async function pgSnapshot(databaseUrl: string): Promise<PgSnapshot> {
  const c = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 10_000 });
  await c.connect();
  try {
    await c.query('SELECT pg_stat_clear_snapshot()');
    const db = await c.query('SELECT xact_commit, tup_returned FROM pg_stat_database WHERE datname = current_database()');
    const t = await c.query(
      `SELECT relname, coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) AS rows_read, n_tup_ins, n_tup_upd FROM pg_stat_user_tables`,
    );
    return {
      commits: Number(db.rows[0]?.xact_commit ?? 0),
      tuplesReturned: Number(db.rows[0]?.tup_returned ?? 0),
      tables: Object.fromEntries(t.rows.map((r) => [r.relname, { rowsRead: Number(r.rows_read), inserts: Number(r.n_tup_ins), updates: Number(r.n_tup_upd) }])),
    };
  } finally {
    await c.end();
  }
}

/** The difference of two snapshots, tables with no activity left out. */
export function pgDelta(a: PgSnapshot, b: PgSnapshot): PgSnapshot {
  const tables: PgSnapshot['tables'] = {};
  for (const [name, t] of Object.entries(b.tables)) {
    const o = a.tables[name] ?? { rowsRead: 0, inserts: 0, updates: 0 };
    const d = { rowsRead: t.rowsRead - o.rowsRead, inserts: t.inserts - o.inserts, updates: t.updates - o.updates };
    if (d.rowsRead || d.inserts || d.updates) tables[name] = d;
  }
  return { commits: b.commits - a.commits, tuplesReturned: b.tuplesReturned - a.tuplesReturned, tables };
}

export function formatPgDelta(d: PgSnapshot): string {
  const t = Object.entries(d.tables)
    .sort((x, y) => y[1].rowsRead - x[1].rowsRead)
    .map(([n, v]) => `${n}: ${v.rowsRead} read, ${v.inserts} ins, ${v.updates} upd`)
    .join('; ');
  return `${d.commits} commits; ${t}`;
}

/**
 * CPU used by the PostgreSQL backends serving one database (the server's pool), read from
 * /proc/<pid>/stat of the pids in pg_stat_activity (PostgreSQL on this machine, readable /proc).
 * Backends that end between start and read are not counted.
 */
export class PgBackendCpuMeter {
  private constructor(
    private readonly databaseUrl: string,
    private readonly start: Map<number, number>,
    private readonly startWall: number,
  ) {}

  static async start(databaseUrl: string): Promise<PgBackendCpuMeter> {
    return new PgBackendCpuMeter(databaseUrl, await backendCpu(databaseUrl), performance.now());
  }

  async read(): Promise<{ percent: number; cpuSeconds: number; backends: number }> {
    const now = await backendCpu(this.databaseUrl);
    let cpu = 0;
    for (const [pid, s] of now) cpu += s - (this.start.get(pid) ?? 0);
    const wall = (performance.now() - this.startWall) / 1000;
    return { percent: wall > 0 ? (100 * cpu) / wall : 0, cpuSeconds: cpu, backends: now.size };
  }
}

async function backendCpu(databaseUrl: string): Promise<Map<number, number>> {
  const c = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 10_000 });
  await c.connect();
  try {
    const r = await c.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()');
    const out = new Map<number, number>();
    for (const { pid } of r.rows) {
      try {
        out.set(pid, readCpuSeconds(pid));
      } catch {
        /* gone, or not on this machine */
      }
    }
    return out;
  } finally {
    await c.end();
  }
}
