import { randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import cookie from '@fastify/cookie';
import websocket from '@fastify/websocket';
import type { Logger } from 'pino';
import { MAX_FRAME_BYTES } from '@kraken/protocol';
import type { ServerConfig } from './config';
import { createDb, type Db } from './db/prisma';
import { migrate } from './db/migrate';
import { EventBus } from './events/bus';
import { registerErrorHandler } from './http/errors';
import { ensureAdminUser, registerAuth } from './auth/auth';
import { SettingsService, registerSettingsRoutes } from './settings/settings';
import { GroupsService } from './groups/groups-service';
import { registerGroupsRoutes } from './groups/groups-routes';
import { AgentsService } from './agents/agents-service';
import { registerAgentsRoutes } from './agents/agents-routes';
import { registerInstallRoutes } from './install/install-routes';
import { AgentGateway } from './agents/gateway';
import { ServerLogs } from './logs/logs';
import { SERVER_VERSION } from './version';
import { registerUi } from './ui/ui-routes';
import { RunsService } from './jobs/runs-service';
import { registerJobsRoutes } from './jobs/jobs-routes';
import { Dispatcher } from './jobs/dispatcher';
import { currentJobsLookup } from './jobs/current-jobs';

export interface KrakenServer {
  app: FastifyInstance;
  db: Db;
  gateway: AgentGateway;
  agents: AgentsService;
  settings: SettingsService;
  runs: RunsService;
  bus: EventBus;
  serverId: string;
  /** Base URL the server listens on, e.g. http://127.0.0.1:6363 */
  url: string;
  close(): Promise<void>;
}

export interface ServerDeps {
  config: ServerConfig;
  databaseUrl: string;
  log: Logger;
  /** How often agents are pinged; a connection that misses a ping is closed. */
  heartbeatMs?: number;
  /** How long an agent may be gone before its jobs are re-queued. */
  agentLostMs?: number;
  /** How often the jobs watchdog runs. */
  watchdogMs?: number;
}

/** Builds and starts the server on an already-provisioned database. */
export async function startServer({ config, databaseUrl, log, heartbeatMs = 10_000, agentLostMs = 15_000, watchdogMs = 2000 }: ServerDeps): Promise<KrakenServer> {
  await migrate(databaseUrl, log);
  const db = createDb(databaseUrl);
  const bus = new EventBus(databaseUrl, log);
  await bus.start();
  const serverId = randomUUID();

  const settings = new SettingsService(db);
  await settings.init(config.enrollmentToken);
  const groups = new GroupsService(db, bus);
  await groups.ensureBuiltins();
  await ensureAdminUser(db, log, config.adminPassword);
  const agents = new AgentsService(db, groups, bus);

  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
  });
  registerErrorHandler(app);
  await app.register(cookie);
  await app.register(websocket, { options: { maxPayload: MAX_FRAME_BYTES } });
  registerAuth(app, db);

  app.get('/api/health', async () => {
    await db.$queryRaw`SELECT 1`;
    return { status: 'ok', version: SERVER_VERSION, database: 'ok' };
  });
  registerSettingsRoutes(app, settings);
  registerGroupsRoutes(app, groups);
  registerAgentsRoutes(app, agents);
  await registerInstallRoutes(app, { settings });
  // Job logs: the log intake (HTTP + UDP), the reading API and the live tail (docs/logs.md).
  const logs = await ServerLogs.start(app, { config, settings, log: log.child({ feature: 'logs' }) });

  const gateway = new AgentGateway({
    agents,
    settings,
    log: log.child({ feature: 'gateway' }),
    serverId,
    heartbeatMs,
    clickhouseAddr: config.clickhouseAddr,
    minioAddr: config.minioAddr,
  });
  await app.register(async (scope) => gateway.register(scope));

  const runs = new RunsService(db, bus);
  registerJobsRoutes(app, runs);
  agents.currentJobs = currentJobsLookup(db);
  // The dispatcher has connections of its own: its claims and report batches never wait in the
  // pool behind API requests, which is what keeps assignment latency low on a busy server.
  const dispatchDb = createDb(databaseUrl, 4);
  const dispatcher = new Dispatcher({ db: dispatchDb, bus, gateway, log: log.child({ feature: 'jobs' }), agentLostMs, watchdogMs, timeoutGraceS: 10 });
  dispatcher.start();
  await registerUi(app);

  bus.on('event', (ev) => {
    if (ev.kind === 'agent-status') gateway.refreshStatus(ev.agentId).catch((err) => log.error({ err }, 'agent status refresh failed'));
  });

  await app.listen({ port: config.port, host: config.host });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  const url = `http://${config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host}:${port}`;

  let closed = false;
  return {
    app,
    db,
    gateway,
    agents,
    settings,
    runs,
    bus,
    serverId,
    url,
    async close() {
      if (closed) return;
      closed = true;
      await dispatcher.close();
      await gateway.close();
      await app.close();
      await logs.close();
      await bus.stop();
      await dispatchDb.$disconnect();
      await db.$disconnect();
    },
  };
}
