import type { Logger } from 'pino';
import type { HelloMessage, ServerToAgentMessage, WelcomeMessage } from '@kraken/protocol';
import type { AgentConfig } from './config';
import { ServerConnection } from './connection/server-connection';
import { collectHostInfo } from './host/host-info';
import { loadOrCreateIdentity } from './identity/identity';
import { LogShipper, shipPinoLogs } from './logs/shipper';

/** The running agent: its identity, its connection and (later) its jobs. */
export class Agent {
  readonly connection: ServerConnection;
  private readonly secret: string;
  agentId?: number;
  authorized = false;
  disabled = false;
  welcome?: WelcomeMessage;
  /** Ships step output and this agent's own log records to the log intake (docs/logs.md). */
  readonly logShipper: LogShipper;

  constructor(
    readonly config: AgentConfig,
    readonly log: Logger,
  ) {
    const identity = loadOrCreateIdentity(config.dataDir);
    this.secret = identity.secret;
    // Queued until the welcome names the intake (KRAKEN_CLICKHOUSE_ADDR overrides the server's).
    this.logShipper = new LogShipper({ address: config.clickhouseAddr, serverUrl: config.serverUrl, log, autoStart: false });
    shipPinoLogs(log, this.logShipper);
    if (identity.created) log.info({ dataDir: config.dataDir }, 'generated a new agent identity');
    this.connection = new ServerConnection({ serverUrl: config.serverUrl, hello: () => this.hello(), log, bindAddr: config.bindAddr });
    this.connection.on('message', (msg) => this.onMessage(msg));
  }

  private async hello(): Promise<HelloMessage> {
    return {
      type: 'hello',
      secret: this.secret,
      ...(this.config.token ? { token: this.config.token } : {}),
      hostInfo: await collectHostInfo(this.config.systemId),
      slots: this.config.slots,
      runningJobs: [],
    };
  }

  private onMessage(msg: ServerToAgentMessage): void {
    switch (msg.type) {
      case 'welcome':
        this.welcome = msg;
        this.agentId = msg.agentId;
        this.logShipper.setContext({ agent: msg.agentId });
        this.logShipper.setAddress(this.config.clickhouseAddr || msg.config.clickhouseAddr);
        this.logShipper.start();
        this.log.info(
          { agentId: msg.agentId, serverVersion: msg.serverVersion },
          msg.authorized ? 'connected to server; authorized' : 'connected to server; waiting for an administrator to authorize this agent',
        );
        this.authorized = msg.authorized;
        break;
      case 'status':
        if (msg.authorized !== this.authorized) this.log.info(msg.authorized ? 'authorized by the server' : 'no longer authorized by the server');
        if (msg.disabled !== this.disabled) this.log.info(msg.disabled ? 'disabled: taking no new jobs' : 'enabled');
        this.authorized = msg.authorized;
        this.disabled = msg.disabled;
        break;
      case 'error':
        break;
    }
  }

  start(): void {
    this.log.info({ server: this.config.serverUrl.toString(), dataDir: this.config.dataDir }, 'kkagent starting');
    this.connection.start();
  }

  async stop(): Promise<void> {
    await this.connection.stop();
    await this.logShipper.close(2_000);
  }
}
