import Fastify from 'fastify';
import pino from 'pino';
import { LogIntakeService } from '@kraken/server/src/logs/logs';
import { loadProxyConfig, ProxyConfigError } from './config';

/**
 * kraken-clickhouse-proxy: the server's log intake alone (for compose). HTTP `POST
 * /api/logs/intake` and UDP datagrams on the same port number (KRAKEN_CLICKHOUSE_PORT, 9001).
 */
async function main(): Promise<void> {
  let config;
  try {
    config = loadProxyConfig();
  } catch (err) {
    if (err instanceof ProxyConfigError) {
      process.stderr.write(`clickhouse-proxy: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = pino({ level: config.logLevel, base: { service: 'clickhouse-proxy' } });
  const app = Fastify({ logger: false });
  app.get('/health', async () => ({ status: 'ok' }));
  app.get('/api/health', async () => ({ status: 'ok' }));
  const service = await LogIntakeService.start(
    { clickhouseUrl: config.clickhouseUrl, dataDir: config.dataDir, ttlMonths: config.ttlMonths, udpPort: null, udpHost: config.host, log },
    app,
  );
  await app.listen({ port: config.port, host: config.host });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  // The UDP port is the HTTP one (also when KRAKEN_CLICKHOUSE_PORT=0 picked a random port).
  await service.listenUdp(port, config.host);
  // Open the store now: a broken ClickHouse shows at start, not at the first line.
  await service.store.open();
  log.info({ port, store: config.clickhouseUrl ? 'clickhouse-server' : 'chdb' }, `clickhouse-proxy listening on ${config.host}:${port} (HTTP and UDP)`);
  process.stdout.write(`LISTENING ${port}\n`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    await app.close();
    await service.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err) => {
  process.stderr.write(`clickhouse-proxy: failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
