import type { Logger } from 'pino';
import type { HelloMessage, ServerToAgentMessage, WelcomeMessage } from '@kraken/protocol';
import type { AgentConfig } from './config';
import { ServerConnection } from './connection/server-connection';
import { collectHostInfo } from './host/host-info';
import { loadOrCreateIdentity } from './identity/identity';

/** The running agent: its identity, its connection and (later) its jobs. */
export class Agent {
  readonly connection: ServerConnection;
  private readonly secret: string;
  agentId?: number;
  authorized = false;
  disabled = false;
  welcome?: WelcomeMessage;

  constructor(
    readonly config: AgentConfig,
    readonly log: Logger,
  ) {
    const identity = loadOrCreateIdentity(config.dataDir);
    this.secret = identity.secret;
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
  }
}
