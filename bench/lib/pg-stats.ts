import pg from 'pg';

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
