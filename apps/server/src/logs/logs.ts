import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { LogRecord } from '@kraken/protocol';
import { LogIntake, listenUdp } from './intake';
import { registerIntakeRoutes, registerLogsReadRoutes } from './routes';
import { LogStore } from './store';

export { LogStore } from './store';
export { LogIntake, BackpressureError } from './intake';
export { INTAKE_PATH } from './routes';

export interface LogIntakeServiceOptions {
  /** ClickHouse server URL (KRAKEN_CLICKHOUSE_URL); absent: embedded chdb in `<dataDir>/clickhouse`. */
  clickhouseUrl?: string;
  dataDir: string;
  /** Retention in months (settings `clickhouse_log_ttl`). */
  ttlMonths: number;
  /** UDP port for upstream datagrams (0: a random one; null: none). */
  udpPort: number | null;
  udpHost: string;
  log: Logger;
  maxBufferRows?: number;
  batchRows?: number;
  batchAgeMs?: number;
}

/** The store, the intake and its UDP listener: what the server and the stand-alone proxy run. */
export class LogIntakeService {
  private udp?: { port: number; close(): Promise<void> };

  private constructor(
    readonly store: LogStore,
    readonly intake: LogIntake,
    private readonly log: Logger,
  ) {}

  static async start(opts: LogIntakeServiceOptions, app: FastifyInstance): Promise<LogIntakeService> {
    const store = new LogStore({
      url: opts.clickhouseUrl,
      chdbPath: path.join(opts.dataDir, 'clickhouse'),
      ttlMonths: opts.ttlMonths,
      log: opts.log,
    });
    const intake = new LogIntake({ store, log: opts.log, maxBufferRows: opts.maxBufferRows, batchRows: opts.batchRows, batchAgeMs: opts.batchAgeMs });
    const svc = new LogIntakeService(store, intake, opts.log);
    await registerIntakeRoutes(app, intake);
    if (opts.udpPort !== null) await svc.listenUdp(opts.udpPort, opts.udpHost);
    return svc;
  }

  /** Listens for upstream datagrams. A busy port is logged, not thrown: the HTTP intake still works. */
  async listenUdp(port: number, host: string): Promise<void> {
    try {
      this.udp = await listenUdp(this.intake, port, host, this.log);
      this.log.info({ port: this.udp.port }, 'log intake listening for UDP datagrams');
    } catch (err) {
      this.log.error({ err, port }, 'log intake: cannot listen on the UDP port; upstream-style datagrams are not accepted');
    }
  }

  /** The UDP port (undefined when not listening). */
  get udpPort(): number | undefined {
    return this.udp?.port;
  }

  async close(): Promise<void> {
    await this.udp?.close();
    await this.intake.close();
    await this.store.close();
  }
}

/** What the server needs of its settings. */
interface SettingsLike {
  get(fresh?: boolean): Promise<{ clickhouse_log_ttl: number }>;
}

export interface ServerLogsOptions {
  config: { dataDir: string; host: string; clickhouseUrl?: string; clickhousePort: number };
  settings: SettingsLike;
  log: Logger;
}

/** The logs feature inside the server: the intake, the reading API and the live tail. */
export class ServerLogs {
  private ttlTimer?: NodeJS.Timeout;

  private constructor(readonly service: LogIntakeService) {}

  get store(): LogStore {
    return this.service.store;
  }

  get intake(): LogIntake {
    return this.service.intake;
  }

  static async start(app: FastifyInstance, { config, settings, log }: ServerLogsOptions): Promise<ServerLogs> {
    const ttl = (await settings.get(true)).clickhouse_log_ttl;
    const service = await LogIntakeService.start(
      {
        clickhouseUrl: config.clickhouseUrl,
        dataDir: config.dataDir,
        ttlMonths: ttl,
        udpPort: config.clickhousePort,
        udpHost: config.host,
        log,
      },
      app,
    );
    registerLogsReadRoutes(app, service.store, service.intake);
    const logs = new ServerLogs(service);
    // The retention follows the setting.
    logs.ttlTimer = setInterval(() => {
      settings
        .get(true)
        .then((s) => service.store.setTtl(s.clickhouse_log_ttl))
        .catch((err) => log.warn({ err }, 'cannot apply the log TTL setting'));
    }, 60_000);
    logs.ttlTimer.unref();
    return logs;
  }

  /**
   * Writes records from the server itself (e.g. `{ job, run, message: 'assigned to agent 3',
   * service: 'server' }`) into the store; resolves once stored.
   */
  async write(records: LogRecord[]): Promise<void> {
    const now = new Date().toISOString();
    const body = records.map((r) => JSON.stringify({ time: now, service: 'server', ...r })).join('\n');
    await this.service.intake.submitBatch(body);
  }

  async close(): Promise<void> {
    clearInterval(this.ttlTimer);
    await this.service.close();
  }
}
