import path from 'node:path';
import pino from 'pino';
import { ConfigError, loadServerConfig } from './config';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './db/embedded-postgres';
import { startServer } from './app';
import { BuiltinAgent } from './builtin-agent/builtin-agent';
import { processShutdown } from './lifecycle/shutdown';

async function main(): Promise<void> {
  let config;
  try {
    config = loadServerConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`kraken-server: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = pino({ level: config.logLevel, base: { service: 'server' } });

  let embedded: EmbeddedDatabase | undefined;
  let databaseUrl = config.dbUrl;
  if (!databaseUrl) {
    embedded = await startEmbeddedPostgres(config.dataDir, log.child({ feature: 'postgres' }));
    databaseUrl = embedded.url;
  }
  const server = await startServer({ config, databaseUrl, log });

  let builtin: BuiltinAgent | undefined;
  if (config.builtinAgent) {
    builtin = new BuiltinAgent({
      serverUrl: server.url,
      dataDir: path.join(config.dataDir, 'builtin-agent'),
      token: async () => (await server.settings.get(true)).enrollment_token,
      log: log.child({ feature: 'builtin-agent' }),
    });
    await builtin.start();
  }
  const publicUrl = `http://localhost:${new URL(server.url).port}`;
  log.info(`Kraken is up: open ${publicUrl} and log in as 'admin' (password from KRAKEN_ADMIN_PASSWORD, or the one printed at the first start)`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    processShutdown.started = true;
    log.info({ signal }, 'shutting down');
    await builtin?.stop();
    await server.close();
    await embedded?.stop();
    process.exit(0);
  };
  // embedded-postgres installs exit hooks (async-exit-hook) that, on a signal, stop PostgreSQL and
  // exit with 128 + the signal at once, racing the ordered stop above (built-in agent, server, then
  // PostgreSQL). The server owns its signals.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.removeAllListeners(signal);
    process.on(signal, () => void stop(signal));
  }
}

main().catch((err) => {
  process.stderr.write(`kraken-server: failed to start: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
