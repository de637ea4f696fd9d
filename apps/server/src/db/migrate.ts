import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import type { Logger } from 'pino';

/** Where the committed migrations live (prisma/migrations at the repository root or beside dist). */
export function migrationsDir(): string {
  const candidates = [
    process.env.KRAKEN_MIGRATIONS_DIR,
    path.resolve(__dirname, '../../../../prisma/migrations'),
    path.resolve(__dirname, '../../prisma/migrations'),
  ].filter((p): p is string => !!p);
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`cannot find the database migrations (looked in ${candidates.join(', ')})`);
  return found;
}

interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

function readMigrations(dir: string): Migration[] {
  return readdirSync(dir)
    .filter((d) => /^\d{4}_/.test(d) && existsSync(path.join(dir, d, 'migration.sql')))
    .sort()
    .map((name) => {
      const sql = readFileSync(path.join(dir, name, 'migration.sql'), 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    });
}

// Any fixed number works; it only has to be the same for every server process.
const MIGRATION_LOCK_KEY = 7_263_001;

/**
 * Applies the committed migrations that the database has not seen yet, each in its own
 * transaction, under an advisory lock so that several servers starting at once are safe.
 */
export async function migrate(databaseUrl: string, log: Logger, dir = migrationsDir()): Promise<string[]> {
  const migrations = readMigrations(dir);
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const applied: string[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(`CREATE TABLE IF NOT EXISTS kraken_migrations (
      name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Map<string, string>(
      (await client.query<{ name: string; checksum: string }>('SELECT name, checksum FROM kraken_migrations')).rows.map(
        (r) => [r.name, r.checksum],
      ),
    );
    for (const m of migrations) {
      const seen = done.get(m.name);
      if (seen !== undefined) {
        if (seen !== m.checksum) log.warn({ migration: m.name }, 'an applied migration was edited afterwards; not re-applying it');
        continue;
      }
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query('INSERT INTO kraken_migrations (name, checksum) VALUES ($1, $2)', [m.name, m.checksum]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`database migration ${m.name} failed: ${(err as Error).message}`);
      }
      applied.push(m.name);
      log.info({ migration: m.name }, 'applied database migration');
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    await client.end();
  }
  return applied;
}
