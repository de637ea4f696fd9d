import pg from 'pg';
import { onCleanup } from './cleanup';

/**
 * One open connection to the bench database, for reading what the server wrote (e.g. the jobs'
 * queued_at / finished_at). Closed at cleanup (before the database is dropped).
 */
export class BenchDb {
  private constructor(private readonly client: pg.Client) {}

  static async connect(databaseUrl: string): Promise<BenchDb> {
    const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 10_000 });
    await client.connect();
    client.on('error', () => undefined); // the database may be dropped under it at the end
    const db = new BenchDb(client);
    onCleanup('close the bench database connection', () => client.end(), 5000);
    return db;
  }

  async query<T extends pg.QueryResultRow = any>(sql: string, params: unknown[] = []): Promise<T[]> {
    return (await this.client.query<T>(sql, params)).rows;
  }
}

/** An epoch-ms number of a timestamptz column (pg returns Date, with ms precision). */
export const epochMs = (d: Date | string | null): number => (d === null ? NaN : new Date(d).getTime());
