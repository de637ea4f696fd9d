import type { Logger } from 'pino';
import type { HelloMessage, ServerToAgentMessage, WelcomeMessage } from '@kraken/protocol';
import type { AgentConfig } from './config';
import { ServerConnection } from './connection/server-connection';
import { collectHostInfo } from './host/host-info';
import { loadOrCreateIdentity } from './identity/identity';
import { LogShipper, shipPinoLogs } from './logs/shipper';
import { JobRunner } from './runner/job-runner';

/** The running agent: its identity, its connection to the server, its log shipper and its jobs. */
export class Agent {
  readonly connection: ServerConnection;
  readonly runner: JobRunner;
  readonly shipper: LogShipper;
  private readonly secret: string;
  agentId?: number;
  authorized = false;
  disabled = false;
  stopping = false;
  welcome?: WelcomeMessage;

  constructor(
    readonly config: AgentConfig,
    readonly log: Logger,
  ) {
    const identity = loadOrCreateIdentity(config.dataDir);
    this.secret = identity.secret;
    if (identity.created) log.info({ dataDir: config.dataDir }, 'generated a new agent identity');
    // Logs queue until the server says where the intake is (or KRAKEN_CLICKHOUSE_ADDR says it).
    this.shipper = new LogShipper({ serverUrl: config.serverUrl, address: config.clickhouseAddr, log, autoStart: false });
    shipPinoLogs(log, this.shipper); // the agent's own records go to the log store too (service 'agent')
    this.connection = new ServerConnection({ serverUrl: config.serverUrl, hello: () => this.hello(), log, bindAddr: config.bindAddr });
    this.runner = new JobRunner({ dataDir: config.dataDir, log, send: (msg) => this.connection.send(msg), shipper: this.shipper });
    this.connection.on('message', (msg) => this.onMessage(msg));
  }

  private async hello(): Promise<HelloMessage> {
    return {
      type: 'hello',
      secret: this.secret,
      ...(this.config.token ? { token: this.config.token } : {}),
      hostInfo: await collectHostInfo(this.config.systemId),
      slots: this.config.slots,
      runningJobs: this.runner.runningJobIds,
      finishedJobs: this.runner.finishedReports,
    };
  }

  private onMessage(msg: ServerToAgentMessage): void {
    switch (msg.type) {
      case 'welcome':
        this.welcome = msg;
        this.agentId = msg.agentId;
        this.log.info(
          { agentId: msg.agentId, serverVersion: msg.serverVersion },
          msg.authorized ? 'connected to server; authorized' : 'connected to server; waiting for an administrator to authorize this agent',
        );
        this.authorized = msg.authorized;
        this.shipper.setContext({ agent: msg.agentId });
        if (!this.config.clickhouseAddr) this.shipper.setAddress(msg.config.clickhouseAddr || undefined, this.config.serverUrl);
        this.shipper.start();
        if (this.stopping) this.connection.send({ type: 'stopping' });
        this.runner.flushOutbox();
        break;
      case 'status':
        if (msg.authorized !== this.authorized) this.log.info(msg.authorized ? 'authorized by the server' : 'no longer authorized by the server');
        if (msg.disabled !== this.disabled) this.log.info(msg.disabled ? 'disabled: taking no new jobs' : 'enabled');
        this.authorized = msg.authorized;
        this.disabled = msg.disabled;
        break;
      case 'job-assign':
        this.runner.assign(msg.job);
        break;
      case 'job-cancel':
        this.runner.cancel(msg.jobId, msg.reason);
        break;
      case 'error':
        break;
    }
  }

  start(): void {
    this.log.info({ server: this.config.serverUrl.toString(), dataDir: this.config.dataDir }, 'kkagent starting');
    this.connection.start();
  }

  /**
   * Graceful stop: take no new job, let running jobs finish for up to `stopTimeoutMs` (then
   * cancel them), deliver their reports, then close the connection.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    this.connection.send({ type: 'stopping' });
    if (!this.runner.idle) {
      this.log.info({ jobs: this.runner.runningJobIds, waitMs: this.config.stopTimeoutMs }, 'waiting for running jobs to finish');
      const timer = setTimeout(() => {
        this.log.warn('stop timeout reached: cancelling running jobs');
        this.runner.cancelAll('cancelled');
      }, this.config.stopTimeoutMs);
      await this.runner.whenIdle();
      clearTimeout(timer);
    }
    for (let i = 0; i < 50 && this.runner.pendingReports > 0; i++) {
      this.runner.flushOutbox();
      await new Promise((r) => setTimeout(r, 100));
    }
    await this.shipper.close(5000).catch(() => undefined);
    await this.connection.stop();
  }

  /** A second signal while stopping: cancel jobs at once. */
  hurry(): void {
    this.runner.cancelAll('cancelled');
  }
}
