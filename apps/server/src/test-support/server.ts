import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { startServer, type KrakenServer } from '../app';
import { loadServerConfig } from '../config';
import { createTestDatabase } from './database';

export const TEST_ADMIN_PASSWORD = 'test-admin-password';

export interface TestServer extends KrakenServer {
  databaseUrl: string;
  /** Closes the server; `dropDatabase` also drops its database. */
  stop(opts?: { dropDatabase?: boolean }): Promise<void>;
}

/** A real server on 127.0.0.1 with a random port, on its own fresh database (or a given one). */
export async function startTestServer(
  opts: { databaseUrl?: string; port?: number; heartbeatMs?: number; agentLostMs?: number; watchdogMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<TestServer> {
  const db = opts.databaseUrl ? { url: opts.databaseUrl, drop: async () => undefined } : await createTestDatabase();
  const config = loadServerConfig({
    KRAKEN_SERVER_PORT: String(opts.port ?? 0),
    KRAKEN_SERVER_HOST: '127.0.0.1',
    KRAKEN_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD,
    KRAKEN_BUILTIN_AGENT: '0',
    KRAKEN_CLICKHOUSE_PORT: '0',
    KRAKEN_DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'kraken-server-test-')),
    ...opts.env,
  });
  const log = pino({ level: process.env.KRAKEN_TEST_LOG_LEVEL ?? 'silent' });
  const server = await startServer({
    config,
    databaseUrl: db.url,
    log,
    heartbeatMs: opts.heartbeatMs ?? 1000,
    agentLostMs: opts.agentLostMs ?? 2000,
    watchdogMs: opts.watchdogMs ?? 500,
  });
  return {
    ...server,
    databaseUrl: db.url,
    async stop({ dropDatabase = true } = {}) {
      await server.close();
      if (dropDatabase) await db.drop();
    },
  };
}
